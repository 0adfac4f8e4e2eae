"""Keep freed tensor memory in the process (glibc): the CLI's own process only, never a host's.

PyTorch's CPU tensors come from malloc. glibc serves large blocks with fresh mmap pages and returns them
on free, so every layer of every tile page-faults its output in again (a 600² × 32-channel bf16 map is
23 MB: ~6k faults, more than the elementwise op that fills it). Raising the mmap threshold to glibc's
32 MiB ceiling and the trim threshold keeps those blocks in the heap for the next tile. Setting either
one by hand also switches off glibc's dynamic threshold, so both are always set together.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit on 64-bit
TRIM_THRESHOLD = 512 << 20  # freed memory kept at the heap top, at most
_tuned = False


def is_tuned() -> bool:
    """Whether this process runs with `retain_freed_memory()` in effect (bench prints it)."""
    return _tuned


def retain_freed_memory() -> bool:
    """Tune glibc malloc for repeated large tensors; False (and no change) where libc is not glibc."""
    global _tuned
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned
