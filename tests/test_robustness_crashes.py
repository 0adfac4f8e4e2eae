"""Issue 33, crashes: decompression bombs are refused from their header, per file (the batch goes on);
--max-pixels moves the limit; no DecompressionBombError traceback, no decode of a huge image."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from tinyespcn_nodes.hosts.cli.main import main

SIDE = 17000  # 289 Mpx: above the default limit (16384^2) and above Pillow's own bomb limit


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bomb(path, bit_depth: int, color_type: int, side: int = SIDE):
    """A PNG whose header claims side x side pixels, with the first rows of zeros: a few hundred bytes."""
    ihdr = struct.pack(">IIBBBBB", side, side, bit_depth, color_type, 0, 0, 0)
    plte = _chunk(b"PLTE", bytes(range(256)) * 3) if color_type == 3 else b""
    body = zlib.compress(bytes(64 * 1024), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + plte + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))
    return path


BOMBS = {"one_bit": (1, 0), "paletted": (8, 3), "gray16": (16, 0), "rgb16": (16, 2)}


def test_png_bombs_are_refused_per_file_and_the_batch_goes_on(tmp_path, weights_file, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for name, (depth, kind) in BOMBS.items():
        png_bomb(src / f"{name}.png", depth, kind)
    Image.fromarray(np.zeros((9, 11, 3), np.uint8)).save(src / "good.png")
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights_file)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "DecompressionBombError" not in err
    for name in BOMBS:
        assert f"{name}.png: {SIDE}x{SIDE} pixels exceeds the limit" in err and "--max-pixels" in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good_x2_tiny-x2.png"]
    assert "4 of 5 file(s) failed" in err


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_max_pixels_moves_the_limit_in_every_reader(tmp_path, weights_file, capsys, suffix):
    img = tmp_path / f"a{suffix}"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(img)
    args = ["upscale", str(img), "-o", str(tmp_path / "out"), "--weights", str(weights_file)]
    assert main([*args, "--max-pixels", "1000"]) == 1
    assert f"a{suffix}: 40x40 pixels exceeds the limit of 1000 pixels" in capsys.readouterr().err
    assert main([*args, "--max-pixels", "1600"]) == 0


def test_16bit_rgb_png_is_size_checked_before_opencv_decodes_it(tmp_path, weights_file, capsys, monkeypatch):
    cv2 = pytest.importorskip("cv2")
    png_bomb(tmp_path / "b.png", 16, 2)
    decoded = []
    monkeypatch.setattr(cv2, "imread", lambda *a, **k: decoded.append(a))
    assert main(["upscale", str(tmp_path / "b.png"), "-o", str(tmp_path / "o"), "--weights", str(weights_file)]) == 1
    assert not decoded and "exceeds the limit" in capsys.readouterr().err


def test_zero_byte_and_truncated_images_are_named(tmp_path, weights_file, capsys):
    """Regression: 0-byte and truncated files are one line each; the batch goes on."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "empty.png").write_bytes(b"")
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(src / "whole.jpg")
    (src / "cut.jpg").write_bytes((src / "whole.jpg").read_bytes()[:200])
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights_file)]) == 1
    err = capsys.readouterr().err
    assert "empty.png:" in err and "cut.jpg:" in err and "Traceback" not in err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["whole_x2_tiny-x2.jpg"]
