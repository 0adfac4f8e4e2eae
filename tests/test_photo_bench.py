"""The real-photo bench: LPIPS and OpenCV's ESPCN by default, block-grid scores, the faces table."""

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.weights import save_weights
from trainer.evaluate import make_pair


def _tiny(folder, name, seed):
    torch.manual_seed(seed)
    return save_weights(folder / f"{name}.safetensors", TinyESPCN(TinyESPCNConfig(scale=2, channels=8, blocks=2)))


def _photos(folder, n=2, size=64):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        coarse = Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8))
        coarse.resize((size, size), Image.BICUBIC).save(folder / f"p{i}.png")
    return folder


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    for seed, name in enumerate(("general-x2", "photo-x2", "portrait-x2", "fast-portrait-x2", "balanced-x2")):
        _tiny(folder, name, seed)
    monkeypatch.setenv("TINYESPCN_WEIGHTS_DIR", str(folder))
    return folder


def test_lpips_target_cache_gives_the_same_distances_and_reads_each_target_once():
    from trainer.lpips import TargetCache, shared_lpips

    shared_path("weights/lpips_v0.1_alex_linear.safetensors")
    lpips = shared_lpips()
    g = torch.Generator().manual_seed(0)
    targets = [torch.rand(1, 3, 64, 64, generator=g) for _ in range(2)]
    outputs = [torch.rand(1, 3, 64, 64, generator=g) for _ in range(3)]
    calls = []
    real = lpips.embed
    lpips.embed = lambda x: calls.append(x) or real(x)
    cached = TargetCache(lpips)
    for out in outputs:
        for t in targets:
            assert torch.allclose(cached(out, t), lpips(out, t), atol=1e-6)
    n_cached = sum(1 for c in calls if any(c is t for t in targets))
    assert n_cached == 2 + len(outputs) * len(targets)  # once each through the cache, every time uncached


def test_the_opencv_default_follows_the_shared_folder(tmp_path, monkeypatch):
    from trainer.cli import build_parser

    monkeypatch.setenv("TINYESPCN_SHARED", str(tmp_path / "elsewhere"))
    args = build_parser().parse_args(["bench", "--photo-only"])
    assert args.opencv == str(tmp_path / "elsewhere" / "weights" / "opencv_dnn_superres")


def test_photo_bench_fills_lpips_grid_and_opencv_espcn_by_default(weights_dir, tmp_path, capsys):
    from trainer.cli import main

    shared_path("weights/lpips_v0.1_alex_linear.safetensors")
    shared_path("weights/opencv_dnn_superres/ESPCN_x2.pb")
    val = _photos(tmp_path / "val")
    assert main(["bench", "--photo-only", "--photo-val", str(val), "--no-faces"]) == 0
    out = capsys.readouterr().out
    assert "LPIPS left out" not in out and "| OpenCV ESPCN (.pb) |" in out
    row = next(line for line in out.splitlines() if line.startswith("| photo-x2 @ 1 |"))
    clean, heavy = row.split(" | ")[1:3]
    assert clean.count(" / ") == 2 and "grid" not in clean  # PSNR / SSIM / LPIPS, no JPEG there
    assert heavy.count(" / ") == 2 and heavy.endswith("×")  # and the grid as a multiple of bicubic's


def test_faces_table_rows_come_from_the_catalog(weights_dir):
    from tinyespcn_nodes.core.catalog import bundled
    from trainer.face_bench import faces_table, portrait_names

    table = {n: p for n, p in bundled().items() if p.parent == weights_dir}
    assert portrait_names(table, 2) == ["fast-portrait-x2", "portrait-x2"]
    pairs = [make_pair(f"f{i}", Image.open(p), 2) for i, p in enumerate(sorted(_photos(weights_dir / "f").iterdir()))]
    text = faces_table(torch.device("cpu"), [2], lambda s: {"Synth": pairs}, table, log=lambda *a: None)
    names = [line.split(" | ")[1] for line in text.splitlines() if line.startswith("| Synth (2) |")]
    assert names == ["bicubic", "general-x2", "photo-x2", "fast-portrait-x2", "portrait-x2"]
    bicubic, model = (next(ln for ln in text.splitlines() if f"| {n} |" in ln) for n in ("bicubic", "photo-x2"))
    assert "(+" not in bicubic and "(-" not in bicubic and "· grid " in bicubic
    cells = model.split(" | ")[2:]
    assert "grid" not in cells[0] and all(c.rstrip(" |").endswith("×") for c in cells[1:])


def test_faces_table_is_left_out_without_faces(weights_dir):
    from trainer.face_bench import faces_table

    said = []
    assert faces_table(torch.device("cpu"), [2], lambda s: {}, log=said.append) == ""
    assert said and "no Faces" in said[0]


def test_photo_cases_scores_any_file_per_case_against_bicubic(weights_dir, tmp_path, capsys):
    from trainer.cli import main

    val = _photos(tmp_path / "val")
    other = _tiny(tmp_path, "run-step-2000", 7)
    assert main(["photo-cases", "photo-x2", str(other), "--photo-val", str(val), "--strengths", "0", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| x2 | clean | heavy JPEG | moderate JPEG | noise + JPEG | blur + JPEG |"
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in lines[2:]}
    assert list(rows) == ["bicubic", "photo-x2 @ 0", "photo-x2", "run-step-2000"]  # a file has no partner
    assert all(len(cells) == 5 for cells in rows.values())
    assert all(cell.split(" (")[1].startswith(("+", "-")) for cell in rows["run-step-2000"])
    assert "grid" not in rows["photo-x2"][0] and rows["photo-x2"][1].rstrip(" |").endswith("×")


def test_photo_cases_keeps_two_files_of_the_same_name_apart(weights_dir, tmp_path, capsys):
    from trainer.cli import main

    val = _photos(tmp_path / "val")
    (tmp_path / "old").mkdir()
    old = _tiny(tmp_path / "old", "photo-x2", 7)
    assert main(["photo-cases", str(weights_dir / "photo-x2.safetensors"), str(old), "--photo-val", str(val)]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    assert [line.split(" | ")[0].lstrip("| ") for line in lines] == [
        "bicubic", str(weights_dir / "photo-x2.safetensors"), str(old)
    ]  # fmt: skip
    assert all(len(line.split(" | ")) == 6 for line in lines)


def test_each_scale_gets_one_photo_table_even_with_two_photo_files(weights_dir):
    """photo-x2 and photo-fast-x2 share the x2 table (it printed twice when each file added its scale)."""
    from trainer.photo_bench import photo_scales

    _tiny(weights_dir, "photo-fast-x2", 9)
    scales = photo_scales()
    assert scales.count(2) == 1 and scales == sorted(set(scales))
