import ctypes
import subprocess
import sys
import textwrap

import pytest

from tinyespcn_nodes.hosts.cli import allocator
from tinyespcn_nodes.hosts.cli import main as cli

# In a fresh process: a 20 MB tensor is mmapped (glibc default) or taken from the heap (tuned); mallinfo2's
# hblkhd counts mmapped bytes. Freed and allocated again, the tuned heap still holds it.
PROBE = textwrap.dedent(
    """
    import ctypes, sys, torch
    from tinyespcn_nodes.hosts.cli.allocator import retain_freed_memory
    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Info
    tuned = sys.argv[1] == "1" and retain_freed_memory()
    x = torch.empty(5 << 20)
    mapped = libc.mallinfo2().hblkhd
    del x
    arena = libc.mallinfo2().arena
    print(int(tuned), mapped >> 20, arena >> 20)
    """
)


def _probe(tuned: bool) -> list[int]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(int(tuned))], capture_output=True, text=True, check=True)
    return [int(v) for v in out.stdout.split()]


def _has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason="glibc ≥ 2.33 only")
def test_tuned_process_keeps_large_tensors_in_the_heap():
    tuned, mapped, _ = _probe(False)
    assert (tuned, mapped >= 20) == (0, True)  # glibc's default: its own mmap, unmapped on free
    tuned, mapped, arena = _probe(True)
    assert tuned == 1 and mapped < 20 and arena >= 20  # heap block, still held after the free


def test_non_glibc_libc_is_left_alone(monkeypatch):
    def no_libc(*args, **kwargs):
        raise OSError("no libc")

    monkeypatch.setattr(allocator.ctypes, "CDLL", no_libc)
    assert allocator.retain_freed_memory() is False


def test_only_the_process_command_line_tunes(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "retain_freed_memory", lambda: calls.append(1))
    monkeypatch.setattr(sys, "argv", ["tinyespcn", "info", "--help"])
    for argv in (["info", "--help"], None):
        with pytest.raises(SystemExit):
            cli.main(argv)
    assert calls == [1]
