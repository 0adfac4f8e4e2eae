"""The evaluation protocol, LPIPS, export and the bench command."""

import json
import shlex
from dataclasses import asdict

import pytest
import torch
from conftest import shared_path

from tinyespcn_nodes.core.weights import load_model
from trainer.bench_sets import load_set
from trainer.cli import build_parser, main, training_config
from trainer.config import TrainConfig
from trainer.export import _BOOKKEEPING, command_line
from trainer.lpips import LPIPS
from trainer.model_card import commands_text, train_time_text
from trainer.quality_bench import bicubic_row, model_rows, score_row

# published bicubic rows (SAFMN table, docs/sr-benchmarks.md §1): (PSNR, SSIM)
PUBLISHED_BICUBIC = {
    2: {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688), "BSD100": (29.56, 0.8431)},
    4: {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "BSD100": (25.96, 0.6675)},
}


@pytest.mark.parametrize("scale", [2, 4])
def test_bicubic_rows_reproduce_the_published_table(scale):
    shared_path("data/benchmarks")
    for name, (want_psnr, want_ssim) in PUBLISHED_BICUBIC[scale].items():
        got, _ = score_row(bicubic_row(scale), load_set(name, scale), None, set())
        assert abs(got.psnr - want_psnr) <= 0.05, f"x{scale} {name}: {got.psnr:.3f} dB vs published {want_psnr}"
        assert abs(got.ssim - want_ssim) <= 0.002, f"x{scale} {name}: SSIM {got.ssim:.4f} vs published {want_ssim}"


@pytest.fixture(scope="module")
def lpips():
    return LPIPS(
        shared_path("weights/alexnet_features.safetensors"), shared_path("weights/lpips_v0.1_alex_linear.safetensors")
    )


def test_lpips_reproduces_the_published_bicubic_set5_x4(lpips):
    shared_path("data/benchmarks/Set5")
    got, _ = score_row(bicubic_row(4), load_set("Set5", 4), lpips, set())
    assert abs(got.lpips - 0.3407) < 0.0005  # SPSR README: bicubic x4 Set5, LPIPS alex


def test_lpips_is_zero_for_identical_images_and_symmetric(lpips):
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 3, 64, 64, generator=g)
    assert lpips(a, a).abs().max() < 1e-6
    assert torch.allclose(lpips(a, b), lpips(b, a), atol=1e-6)
    assert (lpips(a, b) > lpips(a, (a + 0.02 * b).clamp(0, 1))).all()
    with pytest.raises(ValueError, match="LPIPS needs"):
        lpips(a, b[:, :, :32])


def _tiny_run(image_folder, tmp_path, name="run", **kw):
    run = tmp_path / name
    argv = [
        "pretrain",
        "--data",
        str(image_folder),
        "--channels",
        "8",
        "--blocks",
        "2",
        "--patch",
        "12",
        "--batch",
        "4",
        "--steps",
        "4",
        "--warmup",
        "1",
        "--ckpt-every",
        "2",
        "--log-every",
        "2",
        "--val-every",
        "1000",
        "--threads",
        "1",
        "--workers",
        "1",
        "--run-dir",
        str(run),
        "--val-sets",
    ]
    argv += [x for k, v in kw.items() for x in (f"--{k}", str(v))]
    if kw.get("arch") in ("espcn", "srcnn"):  # fixed-size baselines take no size options
        i = argv.index("--channels")
        del argv[i : i + 4]
    assert main(argv) == 0
    return run


def test_export_round_trips_through_the_core_loader(image_folder, tmp_path):
    run = _tiny_run(image_folder, tmp_path)
    out = tmp_path / "exported.safetensors"
    assert main(["export", str(run), "--out", str(out), "--no-measure"]) == 0
    model, info = load_model(out)
    assert info.training["steps"] == 4 and info.training["command"].startswith("python -m trainer pretrain")
    assert info.training["train_seconds"] is not None and info.metrics["step"] == 4
    state = torch.load(run / "last.pt", weights_only=True)
    reference = load_model(run / "final.safetensors")[0]
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["ema"][k]) and torch.equal(v, reference.state_dict()[k])
    assert main(["export", str(run), "--out", str(tmp_path / "raw.safetensors"), "--raw", "--no-measure"]) == 0
    raw = load_model(tmp_path / "raw.safetensors")[0]
    assert all(torch.equal(v, state["model"][k]) for k, v in raw.state_dict().items())


def test_export_records_the_runs_a_fine_tune_descends_from(image_folder, tmp_path):
    first = _tiny_run(image_folder, tmp_path, "first")
    second = _tiny_run(image_folder, tmp_path, "second", init=first / "final.safetensors", steps=6, lr=1e-4)
    third = _tiny_run(image_folder, tmp_path, "third", init=second / "final.safetensors")
    out = tmp_path / "third.safetensors"
    assert main(["export", str(third), "--out", str(out), "--no-measure"]) == 0
    training = load_model(out)[1].training
    stages = training["earlier_stages"]
    assert [(s["run"], s["steps"]) for s in stages] == [("first", 4), ("second", 6)]
    assert "--init" not in stages[0]["command"] and "--lr 0.0001" in stages[1]["command"]
    assert all(s["train_seconds"] is not None for s in stages)
    assert load_model(third / "final.safetensors")[1].training["earlier_stages"] == stages  # written by the loop itself
    text = commands_text("third.safetensors", training)
    assert text.splitlines()[0] == "# third.safetensors: 3 runs, oldest first"
    assert text.splitlines()[1].endswith("--run-dir RUNS/first") and text.splitlines()[3] == training["command"]
    assert "2 earlier stages" in train_time_text(training)
    (tmp_path / "first" / "last.pt").unlink()  # a chain is only followed through run folders still present
    assert main(["export", str(third), "--out", str(out), "--no-measure"]) == 0
    assert [s["run"] for s in load_model(out)[1].training["earlier_stages"]] == ["second"]


def test_baseline_export_is_the_common_weights_format(image_folder, tmp_path):
    run = _tiny_run(image_folder, tmp_path, arch="espcn")
    model, info = load_model(run / "final.safetensors")
    assert (info.spec.name, info.scale, info.metrics["step"], info.training["steps"]) == ("espcn", 2, 4, 4)
    assert model(torch.rand(1, 3, 10, 12)).shape == (1, 3, 20, 24)


def test_legacy_baseline_files_still_load(tmp_path):
    from tinyespcn_nodes.core.arch.espcn import ESPCN
    from tinyespcn_nodes.core.files import save_safetensors_atomic

    model = ESPCN()
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    old = save_safetensors_atomic(tmp_path / "old.safetensors", tensors, {
        "format": "tinyespcn-trainer-baseline", "architecture": "espcn", "scale": "2", "training": "{}", "metrics": "{}"})  # fmt: skip
    loaded, info = load_model(old)
    assert info.spec.id == "ESPCN" and torch.equal(loaded.conv_a.weight, model.conv_a.weight)


def test_recorded_command_line_rebuilds_the_same_config(tmp_path):
    from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
    from tinyespcn_nodes.core.weights import save_weights
    from trainer.models import arch_config

    save_weights(tmp_path / "w.safetensors", TinyESPCN(TinyESPCNConfig(scale=4, attention=False)))
    cfg = TrainConfig().updated({
        "dataset": "celeba", "data": [str(tmp_path / "faces")], "scale": 4, "init": str(tmp_path / "w.safetensors"),
        "face_size": 512, "holdout": 20, "steps": 1500, "lr": 5e-5, "amp": "bf16", "rescales": [0.8, 0.6],
        "attention": False, "loss": "seed-readme", "loss_weights": {"lab": 0.2},
    })  # fmt: skip
    args = build_parser().parse_args(shlex.split(command_line(cfg))[3:])
    rebuilt = training_config(args)
    ignore = _BOOKKEEPING | {"val_sets", "model"}  # `model` is compared as the effective architecture config
    assert {k: v for k, v in asdict(rebuilt).items() if k not in ignore} == {
        k: v for k, v in asdict(cfg).items() if k not in ignore
    }
    assert arch_config(rebuilt) == arch_config(cfg)


def test_eval_scores_only_the_given_weights_against_bicubic(weights_file, tmp_path):
    shared_path("data/benchmarks/Set5")
    out = tmp_path / "eval"
    assert main(["eval", str(weights_file), "--sets", "Set5", "--limit", "2", "--no-lpips", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["scales"]
    assert list(results) == ["2"]  # the weights' own scale only
    rows = results["2"]
    assert [r["name"] for r in rows] == ["bicubic", f"TinyESPCN {weights_file.stem}"]  # no baselines, no OpenCV
    expected, _ = score_row(model_rows(weights_file, torch.device("cpu"))[0], load_set("Set5", 2, limit=2), None, set())
    assert rows[1]["sets"]["Set5"]["n"] == 2 and abs(rows[1]["sets"]["Set5"]["psnr"] - expected.psnr) < 1e-3


def test_eval_keeps_two_runs_final_files_apart(image_folder, tmp_path):
    shared_path("data/benchmarks/Set5")
    first, second = _tiny_run(image_folder, tmp_path, "first"), _tiny_run(image_folder, tmp_path, "second", seed=1)
    out = tmp_path / "eval"
    argv = [
        "eval",
        str(first / "final.safetensors"),
        str(second / "final.safetensors"),
        "--sets",
        "Set5",
        "--limit",
        "1",
        "--no-lpips",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    rows = json.loads((out / "results.json").read_text())["scales"]["2"]
    assert [r["name"] for r in rows] == ["bicubic", "TinyESPCN first/final", "TinyESPCN second/final"]
    assert rows[1]["sets"]["Set5"]["psnr"] != rows[2]["sets"]["Set5"]["psnr"]  # each row scored its own weights


def test_bench_writes_table_json_crops_card_and_readme(weights_file, tmp_path):
    shared_path("data/benchmarks/Set5")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:begin -->\nold\n<!-- bench:end -->\noutro\n")
    out, card = tmp_path / "bench", tmp_path / "card" / "MODEL_CARD.md"
    argv = [
        "bench",
        "--weights",
        str(weights_file),
        "--baselines",
        "--sets",
        "Set5",
        "--limit",
        "2",
        "--no-lpips",
        "--crops",
        "Set5=",
        "--out",
        str(out),
        "--card",
        str(card),
        "--readme",
        str(readme),
        "--photo-val",
        str(tmp_path / "no-photos"),  # the real-photo table has tests of its own
    ]
    assert main(argv) == 0
    rows = json.loads((out / "results.json").read_text())["scales"]["2"]
    names = [r["name"] for r in rows]
    assert names[:2] == ["bicubic", f"TinyESPCN {weights_file.stem}"]
    assert all(r["sets"]["Set5"]["n"] == 2 and 0 < r["sets"]["Set5"]["ssim"] <= 1 for r in rows)
    assert rows[1]["params"] == sum(t.numel() for t in load_model(weights_file)[0].state_dict().values())
    assert (out / "crops_x2.png").stat().st_size > 1000
    text = readme.read_text()
    assert "old" not in text and "| bicubic |" in text and text.startswith("intro") and text.rstrip().endswith("outro")
    card_text = card.read_text()
    assert f"| {weights_file.name} |" in card_text  # its row in the file table
    assert "(command not recorded)" in card_text  # the fixture file has no training command in its metadata
    assert "| bicubic |" in card_text  # the benchmark table from the same run


def test_wild_faces_are_oriented_square_crops_never_trained_on():
    root = shared_path("data/faces/portraits_wild")
    from trainer.bench_sets import WILD_FACE_BOXES
    from trainer.sources import IMAGE_SUFFIXES

    photos = {p.name for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    assert set(WILD_FACE_BOXES) == photos  # every photo has a box, and every box a photo
    pairs = load_set("WildFaces", 4)
    assert len(pairs) == 7 and all(p.hr.shape[-2:] == (512, 512) and p.lr.shape[-2:] == (128, 128) for p in pairs)
    # EXIF orientation applied: 20200320.101220.jpg is stored landscape with orientation 6 (portrait when shown)
    left, top, side = WILD_FACE_BOXES["20200320.101220.jpg"]
    assert top + side <= 4032 and left + side <= 3024


def test_an_opencv_peer_that_cannot_load_is_reported_not_raised(tmp_path):
    pytest.importorskip("cv2")
    import cv2

    from tinyespcn_nodes.io.opencv_peer import load_opencv_superres
    from trainer.quality_bench import opencv_rows

    if not hasattr(cv2, "dnn_superres"):
        pytest.skip("opencv-contrib not installed")
    (tmp_path / "ESPCN_x2.pb").write_bytes(b"\x08\x01 not a TensorFlow graph")
    sr, reason = load_opencv_superres(tmp_path / "ESPCN_x2.pb", "espcn", 2)
    assert sr is None and reason.startswith("OpenCV") and "ESPCN_x2.pb" in reason
    logged = []
    assert opencv_rows(tmp_path, 2, log=logged.append) == []
    assert logged and "left out" in logged[0]
    assert load_opencv_superres(tmp_path / "FSRCNN_x2.pb", "fsrcnn", 2) == (None, "FSRCNN_x2.pb not found")


def test_evaluation_runs_the_engine_job_whole_image_in_fp32(weights_file, monkeypatch):
    """trainer eval/bench rows go through prepare(options) → UpscaleJob.run_tensor (tile 0, fp32), and give what
    the model itself gives on the whole image; an x2 file's x8 row is the engine's chain of three passes."""
    from tinyespcn_nodes.engine.job import UpscaleJob
    from trainer.evaluate import quantize
    from trainer.quality_bench import chained_row

    jobs = []
    real = UpscaleJob.run_tensor

    def spy(self, x, *args, **kwargs):
        jobs.append((self.options.tile, self.options.precision, len(self.models)))
        return real(self, x, *args, **kwargs)

    monkeypatch.setattr(UpscaleJob, "run_tensor", spy)
    model = load_model(weights_file)[0]
    x = torch.rand(1, 3, 30, 34, generator=torch.Generator().manual_seed(0))
    got = model_rows(weights_file, torch.device("cpu"))[0].upscale(x)
    x8 = chained_row(weights_file, torch.device("cpu")).upscale(x)
    assert jobs == [(0, "fp32", 1), (0, "fp32", 3)]
    with torch.inference_mode():
        want = model(x)
        want8 = model(model(model(x).clamp(0, 1)).clamp(0, 1))
    assert torch.equal(quantize(got), quantize(want)) and (got - want.clamp(0, 1)).abs().max() < 1e-5
    assert x8.shape == (1, 3, 240, 272) and (x8 - want8.clamp(0, 1)).abs().max() < 1e-4
