"""Issue 33, soak: a 200-file folder with faults injected (disk full and permission errors mid-write,
corrupt and truncated inputs): every good file is written, every bad one is named, nothing partial is left."""

import errno

import numpy as np
from PIL import Image

from tinyespcn_nodes.hosts.cli.main import main

N = 200


def _kind(i: int) -> str:
    for k, m in (("garbage", 11), ("truncated", 13), ("disk_full", 17), ("read_only", 23)):
        if i % m == 0:
            return k
    return "good"


def test_200_file_folder_with_injected_faults(tmp_path, weights_file, capsys, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N):
        path = src / f"{i:03d}.png"
        Image.fromarray((rng.random((6, 8, 3)) * 255).astype(np.uint8)).save(path)
        if _kind(i) == "garbage":
            path.write_bytes(rng.integers(0, 256, 64).astype(np.uint8).tobytes())
        elif _kind(i) == "truncated":
            path.write_bytes(path.read_bytes()[:40])
    real_save = Image.Image.save

    def faulty_save(self, fp, *args, **kwargs):
        kind = _kind(int(str(fp).split("/")[-1].lstrip(".")[:3]))
        if kind in ("disk_full", "read_only"):
            with open(fp, "wb") as f:
                f.write(b"\x89PNG partial")
            raise OSError(errno.ENOSPC if kind == "disk_full" else errno.EACCES, "injected")
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", faulty_save)
    rc = main(["upscale", str(src), "-o", str(out), "--weights", str(weights_file)])
    err = capsys.readouterr().err
    bad = [i for i in range(N) if _kind(i) != "good"]
    assert rc == 1 and f"{len(bad)} of {N} file(s) failed" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == [f"{i:03d}_x2_tiny-x2.png" for i in range(N) if _kind(i) == "good"]
    for i in bad:
        named = f"{i:03d}.png" if _kind(i) in ("garbage", "truncated") else f"{i:03d}_x2_tiny-x2.png"
        assert named in err, f"{_kind(i)} file {i} not named"
    for p in out.iterdir():
        assert Image.open(p).size == (16, 12)
