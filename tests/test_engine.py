"""The engine: outputs byte-identical to those saved before the redesign, progress that never passes its
total (an injected out-of-memory error included), options that pickle and hash."""

import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import REPO

from tinyespcn_nodes.core.filters import PostProcess
from tinyespcn_nodes.core.intensity import Window
from tinyespcn_nodes.core.progress import Progress, UpscaleCancelled
from tinyespcn_nodes.engine import UpscaleJob, UpscaleOptions, prepare
from tinyespcn_nodes.engine.chain import plan_chain

# saved by the pre-redesign code (commit de8a19b, fp32 on CPU); see test_outputs_match_the_saved_references
REFERENCE = np.load(REPO / "tests" / "data" / "engine_reference.npz")
FP32 = {"device": "cpu", "precision": "fp32"}
CASES = {
    "rgb_general_t24": ("inputs_rgb", UpscaleOptions("general", 2, tile=24, **FP32)),
    "rgb_seed_t24": ("inputs_rgb", UpscaleOptions("seed", 2, tile=24, **FP32)),
    "rgb_seed_t24_exact": ("inputs_rgb", UpscaleOptions("seed", 2, tile=24, statistics="exact", **FP32)),
    "rgb_factor_post": (
        "inputs_rgb",
        UpscaleOptions("general", factor=1.5, tile=0, post=PostProcess(sharpen=True, antialias=True), **FP32),
    ),
    "gray16_auto": ("inputs_gray16", UpscaleOptions("balanced", 3, **FP32)),
    "float_micro": ("inputs_micro", UpscaleOptions("fast", 4, tile=20, **FP32)),
    # saved with the seed-config portrait file, which was retired; the engine still gives its saved bytes
    # (checked before the swap), and the reference was re-saved with seed-x2, the same architecture
    "rgba": ("inputs_rgba", UpscaleOptions("seed", 4, **FP32)),
    "filters_only": ("inputs_rgb", UpscaleOptions(scale=1, post=PostProcess(sharpen=True, antialias=True))),
}


def _job(options: UpscaleOptions) -> UpscaleJob:
    """`prepare` without its host-facing tile check (these tests use tiles below it to get many tiles)."""
    return UpscaleJob(options, plan_chain(options))


def _same(name: str, out: np.ndarray) -> None:
    ref = REFERENCE[name]
    assert out.shape == ref.shape and out.dtype == ref.dtype
    if str(REFERENCE["cpu_capability"]) == torch.backends.cpu.get_cpu_capability():
        assert np.array_equal(out, ref), name  # the machine that saved them: every byte
    else:  # another SIMD level reassociates float sums: at most one level off, rarely
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        assert diff.max() <= (1 if out.dtype.kind == "u" else 1e-4) and (diff > 0).mean() < 1e-3, name


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_match_the_saved_references(name):
    src, options = CASES[name]
    if name == "rgba":  # saved at x2
        options = replace(options, scale=2)
    _same(name, _job(options).run_array(REFERENCE[src]))


def test_x8_chain_matches_the_saved_reference():
    out = _job(UpscaleOptions("general", 8, **FP32)).run_array(REFERENCE["inputs_rgb"][:12, :10])
    _same("rgb_x8", out)


def test_comfy_layout_and_levels_match_the_saved_reference():
    job = _job(UpscaleOptions("general", 2, tile=24, levels=255, **FP32))
    x = torch.from_numpy(REFERENCE["inputs_rgb"]).float().div(255)[None]
    out = job.run_tensor(x, layout="BHWC", out_dtype=torch.float32)[0].numpy()
    _same("comfy_float", out)


def test_bands_match_the_saved_reference():
    job = prepare(UpscaleOptions("general", 2, tile=64, **FP32))
    _same("bands_general", np.concatenate(list(job.run_bands(REFERENCE["inputs_tall"], rows=40))))


def test_options_pickle_hash_and_check_their_values():
    options = UpscaleOptions("general", 3, intensity=Window(0.0, 2.0), post=PostProcess(sharpen=True))
    assert pickle.loads(pickle.dumps(options)) == options and hash(options) == hash(replace(options))
    assert options.fingerprint()["intensity"] == [0.0, 2.0]
    for bad, message in [
        ({"scale": 5}, "scale must be one of"),
        ({"factor": 9.0}, "factor must be above 1"),
        ({"precision": "fp8"}, "precision must be one of"),
        ({"statistics": "some"}, "statistics must be one of"),
        ({"intensity": "gamma"}, "intensity must be one of"),
    ]:
        with pytest.raises(ValueError, match=message):
            UpscaleOptions(**bad)


def test_prepare_checks_the_tile_and_names_the_hosts_option():
    with pytest.raises(ValueError, match="--tile 8: below"):
        prepare(UpscaleOptions("general", 2, tile=8, **FP32), "--tile")


def test_tile_is_resolved_once_per_model():
    job = prepare(UpscaleOptions("general", 8, **FP32))
    assert len(job.tiles) == 3 and all(t > 0 for t in job.tiles)


def _reports(job, image, progress_stop=None):
    seen = []
    progress = Progress(lambda done, total: seen.append((done, total)), progress_stop)
    return job.run_array(image, progress), seen


@pytest.mark.parametrize("weights", ["general", "seed"])
def test_progress_stays_within_its_total_through_an_out_of_memory_split(weights, monkeypatch):
    """A batch of two 128² images at tile 64 whose first tile raises OutOfMemoryError: the split tile and the
    smaller tile carried to the second image are re-planned, so done <= total always, and it ends equal."""
    from tinyespcn_nodes.core import tiling

    job = _job(UpscaleOptions(weights, 2, tile=64, **FP32))
    images = np.random.default_rng(0).integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)
    ref, clean = _reports(job, images)
    emit = tiling._Runner.emit
    calls = {"n": 0}

    def flaky(self, *args):
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return emit(self, *args)

    monkeypatch.setattr(tiling._Runner, "emit", flaky)
    out, seen = _reports(job, images)
    assert calls["n"] > 1 and np.array_equal(out, ref)
    assert all(done <= total for done, total in seen), seen
    assert seen[-1][0] == seen[-1][1] > clean[-1][1]


def test_cancel_reaches_inside_filters_and_bands():
    flag = {"stop": False}
    calls = []

    def report(done, total):
        calls.append(done)
        flag["stop"] = done >= 1

    filters = prepare(UpscaleOptions(scale=1, post=PostProcess(sharpen=True), tile=16))
    with pytest.raises(UpscaleCancelled):
        filters.run_array(np.zeros((64, 64, 3), np.uint8), Progress(report, lambda: flag["stop"]))
    assert max(calls) == 1
    flag["stop"], calls[:] = False, []
    bands = prepare(UpscaleOptions("general", 2, tile=32, **FP32))
    stops = iter([False, False, True])  # the second band is stopped inside its tiles, not between bands
    with pytest.raises(UpscaleCancelled):
        list(bands.run_bands(np.zeros((200, 40, 3), np.uint8), Progress(stop=lambda: next(stops, True)), rows=40))
