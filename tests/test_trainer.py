import numpy as np
import pytest
import torch
from PIL import Image

from tinyespcn_nodes.core.weights import load_model
from trainer.config import TrainConfig
from trainer.loop import Trainer
from trainer.losses import dssim_loss, edge_loss, lab_loss, rgb_to_lab
from trainer.patches import Degradation


def config(folder, run, **kw):
    base = dict(
        data=[str(folder)],
        dataset="lsdir",
        channels=8,
        blocks=2,
        patch=12,
        batch=4,
        steps=6,
        warmup=1,
        lr=1e-3,
        ckpt_every=3,
        val_every=1000,
        log_every=3,
        run_dir=str(run),
        threads=1,
        workers=1,
        ema=0.9,
    )
    return TrainConfig().updated({**base, **kw})


def test_corrupt_files_are_skipped_and_counted(image_folder, tmp_path):
    t = Trainer(config(image_folder, tmp_path / "r"))
    t.prepare()
    assert len(t.pool.hr) == 4 and len(t.pool.skipped) == 1


def test_a_run_without_validation_sets_says_so(image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("TINYESPCN_SHARED", str(tmp_path / "no-shared"))
    lines = []
    Trainer(config(image_folder, tmp_path / "r"), log=lines.append).prepare()
    assert any(line.startswith("no validation:") and "TINYESPCN_SHARED" in line for line in lines)
    lines.clear()
    Trainer(config(image_folder, tmp_path / "q", val_every=0), log=lines.append).prepare()
    assert not any(line.startswith("no validation") for line in lines)  # none asked for


def test_resume_after_kill_equals_uninterrupted(image_folder, tmp_path):
    full = Trainer(config(image_folder, tmp_path / "full"))
    full.fit()
    part = Trainer(config(image_folder, tmp_path / "part"))
    part.fit(until=3)  # the process dies right after the step-3 checkpoint
    resumed = Trainer(config(image_folder, tmp_path / "part"))
    resumed.resume(tmp_path / "part" / "last.pt")
    resumed.fit()
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    model, info = load_model(tmp_path / "full" / "final.safetensors")
    assert info.training["steps"] == 6 and info.config.channels == 8


def test_few_steps_reduce_loss_on_a_fixed_batch(image_folder, tmp_path):
    t = Trainer(config(image_folder, tmp_path / "r"))
    t.prepare()
    from trainer.patches import sample_batch

    lr, hr = sample_batch(t.pool, 4, 12, 0, 0)
    first = t.criterion(t.model(lr), hr)[0].item()
    for _ in range(60):
        t.train_step(lr, hr)
    assert t.criterion(t.model(lr), hr)[0].item() < 0.9 * first


def test_lab_matches_skimage_and_losses_have_gradients():
    skcolor = pytest.importorskip("skimage.color")
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    ref = skcolor.rgb2lab(x.permute(0, 2, 3, 1).numpy())
    assert np.abs(rgb_to_lab(x).permute(0, 2, 3, 1).numpy() - ref).max() < 1e-3
    pred = torch.rand(1, 3, 16, 16, requires_grad=True)
    for fn in (lab_loss, edge_loss, dssim_loss):
        pred.grad = None
        fn(pred, torch.rand(1, 3, 16, 16)).backward()
        assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_replay_fills_the_last_share_of_each_batch(image_folder, tmp_path):
    general = tmp_path / "general"
    general.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 44, 3), 255, np.uint8)).save(general / f"{i}.png")
    cfg = config(image_folder, tmp_path / "r", batch=8, replay_data=[str(general)], replay_fraction=0.25)
    t = Trainer(cfg)
    t.prepare()
    lr, hr = t.batch(Degradation())
    assert lr.shape[0] == hr.shape[0] == 8
    assert torch.all(lr[6:] == 1.0) and torch.all(hr[6:] == 1.0)  # the 2 replay patches (all-white images)
    assert not torch.all(lr[:6] == 1.0)
    again = Trainer(cfg)
    again.prepare()
    assert torch.equal(again.batch(Degradation())[0], lr)  # deterministic in (seed, step)
