"""Issue 33, fuzz: seeded, bounded random-byte damage to image and weights files. Every outcome is a result
or the reader's own one-line error (ImageFileError / WeightsError), never another exception or a hang."""

import io
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.weights import WeightsError, read_weights, save_weights
from tinyespcn_nodes.io.imagefiles import ImageFileError, read_image_meta

ROUNDS = int(os.environ.get("FUZZ_ROUNDS", 150))  # per format; the whole file runs in a few seconds


def _valid_images() -> dict[str, bytes]:
    import tifffile

    rng = np.random.default_rng(0)
    rgb = (rng.random((12, 10, 3)) * 255).astype(np.uint8)
    out = {}
    for suffix, fmt, extra in [(".png", "PNG", {}), (".jpg", "JPEG", {}), (".bmp", "BMP", {}), (".webp", "WEBP", {}),
                               (".gif", "GIF", {})]:  # fmt: skip
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, fmt, **extra)
        out[suffix] = buf.getvalue()
    buf = io.BytesIO()
    Image.fromarray((rng.random((12, 10)) * 65535).astype(np.uint16)).save(buf, "PNG")
    out["16.png"] = buf.getvalue()
    for name, arr, kw in [("u8.tif", rgb, {}), ("f32.tif", rng.random((12, 10)).astype(np.float32), {}),
                          ("z.tif", rgb, {"compression": "zlib"})]:  # fmt: skip
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, **kw)
        out[name] = buf.getvalue()
    return out


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    kind = rng.integers(4)
    if kind == 0:  # flip a few bytes anywhere
        for i in rng.integers(0, len(b), rng.integers(1, 9)):
            b[i] = int(rng.integers(256))
    elif kind == 1:  # damage the header, where sizes and offsets live
        for i in rng.integers(0, min(len(b), 64), rng.integers(1, 5)):
            b[i] = int(rng.integers(256))
    elif kind == 2:  # truncate
        b = b[: int(rng.integers(0, len(b)))]
    else:  # insert junk
        at = int(rng.integers(0, len(b)))
        b[at:at] = rng.integers(0, 256, int(rng.integers(1, 32))).astype(np.uint8).tobytes()
    return bytes(b)


@pytest.mark.parametrize("name", list(_valid_images()))
def test_damaged_images_give_a_result_or_a_one_line_error(tmp_path, name):
    data = _valid_images()[name]
    rng = np.random.default_rng(sum(name.encode()))
    suffix = "." + name.rsplit(".", 1)[-1]
    t0 = time.perf_counter()
    for i in range(ROUNDS):
        path = tmp_path / f"f{i}{suffix}"
        path.write_bytes(_mutate(data, rng))
        try:
            arr, _ = read_image_meta(path, max_pixels=10**6)
            assert isinstance(arr, np.ndarray) and arr.ndim in (2, 3) and arr.size > 0
        except ImageFileError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
    assert time.perf_counter() - t0 < 30


def test_damaged_weights_give_a_result_or_a_one_line_error(tmp_path):
    torch.manual_seed(0)
    good = save_weights(tmp_path / "good-x2.safetensors", TinyESPCN(TinyESPCNConfig(channels=4, blocks=1)))
    data = good.read_bytes()
    rng = np.random.default_rng(33)
    outcomes = {"ok": 0, "refused": 0}
    for i in range(ROUNDS * 3):
        path = tmp_path / f"w{i}.safetensors"
        b = bytearray(_mutate(data, rng))
        if i % 3 == 0 and len(b) > 40:  # target the JSON header: config and shapes
            header_end = 8 + int.from_bytes(data[:8], "little")
            for at in rng.integers(8, min(header_end, len(b)), 3):
                b[at] = int(rng.choice(list(b'0123456789{}[]",:e-')))
        path.write_bytes(bytes(b))
        try:
            read_weights(path)
            outcomes["ok"] += 1
        except WeightsError as exc:
            assert "\n" not in str(exc) and str(path) in str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > ROUNDS
