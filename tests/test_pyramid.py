"""Seed 004's pyramid: x2/x4/x8 from one pass, tile-exact, one file serving three scales in every host path."""

from __future__ import annotations

import pytest
import torch

from tinyespcn_nodes.core.arch import by_name, macs_per_lr_pixel
from tinyespcn_nodes.core.arch.pyramid import LapPyramidSR, PyramidConfig
from tinyespcn_nodes.core.catalog import resolve_weights
from tinyespcn_nodes.core.resize import matlab_imresize
from tinyespcn_nodes.core.weights import WeightsError, load_model, offered_scales, save_weights
from tinyespcn_nodes.engine.job import load_models, process_bchw
from trainer.loop import pyramid_targets

SMALL = PyramidConfig(stem=12, channels=8, blocks=3)


def _perturbed(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


@pytest.fixture
def pyramid_file(tmp_path):
    return save_weights(tmp_path / "pyramid-x8.safetensors", _perturbed(LapPyramidSR(SMALL)))


def test_the_faithful_config_is_the_seeds_split_and_far_cheaper_than_its_code():
    cfg = PyramidConfig()
    assert (cfg.stem, cfg.channels, cfg.level_blocks()) == (512, 128, [6, 4, 2])
    assert PyramidConfig(blocks=7).level_blocks() == [4, 2, 1] and PyramidConfig(scale=4, blocks=6).level_blocks() == [
        4,
        2,
    ]
    # seed-projects.md §4: the seed's code spends 52.3M MACs per LR pixel on its x2 output alone
    assert macs_per_lr_pixel(LapPyramidSR(cfg), size=8) < 52_300_000
    with pytest.raises(ValueError, match="scale must be one of"):
        PyramidConfig(scale=3)


def test_one_pass_gives_every_level_and_a_smaller_scale_runs_only_its_levels():
    model = _perturbed(LapPyramidSR(SMALL))
    x = torch.rand(2, 3, 11, 9)
    levels = model.pyramid(x)
    assert [tuple(o.shape[-2:]) for o in levels] == [(22, 18), (44, 36), (88, 72)]
    assert torch.equal(model(x), levels[-1])
    full_macs = macs_per_lr_pixel(model)
    for k, s in enumerate((2, 4)):
        model.at_scale(s)
        assert model.scale == s and torch.allclose(model(x), levels[k], atol=1e-6)
        assert macs_per_lr_pixel(model) < full_macs
    with pytest.raises(ValueError, match="offers x2/x4/x8, not x3"):
        model.at_scale(3)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_receptive_radius_bounds_the_measured_influence_and_tiles_are_exact(pyramid_file, scale):
    model, _ = load_model(pyramid_file, scale)
    m64 = LapPyramidSR(SMALL).double().at_scale(scale)
    m64.load_state_dict(model.state_dict())
    x = torch.rand(1, 3, 45, 45, dtype=torch.float64)
    bumped = x.clone()
    bumped[0, :, 22, 22] += 1.0
    changed = (m64(bumped) - m64(x)).abs().sum(1)[0] > 1e-12
    rows = torch.nonzero(changed.any(1)).flatten()
    reach = max(22 * scale - rows.min().item(), rows.max().item() - (22 * scale + scale - 1)) / scale
    assert 0 < reach <= model.receptive_radius <= reach + 3  # a bound, but not a lazy one

    img = torch.rand(1, 3, 70, 53)
    whole = process_bchw(img, [model], tile=0)
    tiled = process_bchw(img, [model], tile=2 * model.receptive_radius + 8)
    assert whole.shape[-2:] == (70 * scale, 53 * scale)
    assert (tiled - whole).abs().max().item() < 1e-5


def test_one_file_serves_three_scales_through_the_catalog_and_the_pipeline(pyramid_file, monkeypatch):
    assert offered_scales(pyramid_file) == (2, 4, 8)
    assert offered_scales(resolve_weights("general-x2")) == (2,)  # files without the key: their scale
    model, info = load_model(pyramid_file, 4)
    assert info.scale == 8 and info.scales == (2, 4, 8) and model.scale == 4
    with pytest.raises(WeightsError, match=r"weights are for x2/x4/x8, but x3 was requested"):
        load_model(pyramid_file, 3)

    monkeypatch.setenv("TINYESPCN_WEIGHTS_DIR", str(pyramid_file.parent))
    assert resolve_weights("pyramid", 2) == pyramid_file  # the family name finds the file serving x2
    with pytest.raises(FileNotFoundError, match=r"'pyramid' have no x3 model \(they serve x2/x4/x8\)"):
        resolve_weights("pyramid", 3)
    chain = load_models("pyramid", 8, "cpu", "fp32")
    assert len(chain) == 1 and chain[0].scale == 8
    x2, x8 = load_models("pyramid", 2, "cpu", "fp32")[0], chain[0]
    assert x2 is not x8 and x2.scale == 2  # cached per scale: asking for x2 does not change the x8 model

    for name in ("general-x2", "general", "balanced", "seed"):  # a family without an x8 file: its x2 file three times
        assert [m.scale for m in load_models(name, 8, "cpu", "fp32")] == [2, 2, 2]
    with pytest.raises(WeightsError, match="x8 needs an x8 file or an x2 file"):
        load_models("general-x4", 8, "cpu", "fp32")


def test_deep_supervision_targets_are_the_hr_pyramid():
    hr = torch.rand(2, 3, 64, 48)
    targets = pyramid_targets(hr, 3)
    assert [tuple(t.shape[-2:]) for t in targets] == [(16, 12), (32, 24), (64, 48)]
    assert targets[-1] is hr
    assert torch.allclose(targets[0], matlab_imresize(hr, scale=0.25))


def test_trainer_trains_every_level_and_exports_a_three_scale_file(tmp_path):
    from PIL import Image

    from trainer.config import TrainConfig
    from trainer.loop import Trainer
    from trainer.patches import Degradation

    (tmp_path / "imgs").mkdir()
    for i in range(2):
        Image.fromarray((torch.rand(80, 80, 3) * 255).byte().numpy()).save(tmp_path / "imgs" / f"{i}.png")
    cfg = TrainConfig().updated({
        "arch": "pyramid", "scale": 8, "model": {"stem": 8, "channels": 8, "blocks": 3}, "loss": "dssim",
        "data": [str(tmp_path / "imgs")], "dataset": "lsdir", "patch": 8, "batch": 2, "steps": 2, "warmup": 0,
        "val_sets": [], "amp": "none", "threads": 1, "workers": 1, "rescales": [], "run_dir": str(tmp_path / "run"), "ema": 0.0,
    })  # fmt: skip
    trainer = Trainer(cfg, log=lambda *a, **k: None)
    trainer.prepare()
    lr, hr = trainer.batch(Degradation())
    assert lr.shape[-1] == 8 and hr.shape[-1] == 64
    with torch.no_grad():
        levels = trainer.model.pyramid(lr)
        per_level = [trainer.criterion(p, t)[0].item() for p, t in zip(levels, pyramid_targets(hr, 3))]
    loss = trainer.train_step(lr, hr).item()
    assert loss == pytest.approx(sum(per_level), rel=1e-5)  # a DSSIM term at x2, x4 and x8 (LapSRN)
    assert loss > per_level[-1] * 1.5
    out = trainer.export(tmp_path / "p.safetensors", use_ema=False)
    assert offered_scales(out) == (2, 4, 8)
    assert by_name("pyramid").scales(load_model(out)[1].config) == (2, 4, 8)
