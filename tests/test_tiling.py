import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.catalog import resolve_weights
from tinyespcn_nodes.core.pixels import numpy_to_bchw
from tinyespcn_nodes.core.tiling import TileOptions, UpscaleCancelled, plan_tiles, upscale_tensor
from tinyespcn_nodes.engine.job import PostProcess, upscale_bchw_tensor
from tinyespcn_nodes.engine.models import cpu_has_fast_bf16, pick_dtype


def untiled(model, x):
    with torch.inference_mode():
        return model(x).clamp(0, 1)


@pytest.mark.parametrize("shape", [(2, 3, 67, 45), (1, 3, 1, 1), (1, 3, 1, 37), (1, 3, 29, 1)])
@pytest.mark.parametrize("tile", [0, 8, 23, 64])
def test_tiled_equals_untiled(small_model, shape, tile):
    torch.manual_seed(0)
    x = torch.rand(shape)
    y = upscale_tensor(small_model, x, tile=tile)
    assert y.shape == (shape[0], 3, shape[2] * 2, shape[3] * 2)
    assert (y - untiled(small_model, x)).abs().max().item() < 1e-4


def test_faithful_model_tiled_with_global_attention_gate():
    torch.manual_seed(0)
    model = TinyESPCN(TinyESPCNConfig(scale=3)).eval()
    x = torch.rand(1, 3, 70, 53)
    assert (upscale_tensor(model, x, tile=24) - untiled(model, x)).abs().max().item() < 1e-4


def test_too_small_margin_is_visible(small_model):
    """The context band is what makes tiles exact: without it seams appear (so the exactness test can fail)."""
    x = torch.rand(1, 3, 40, 40)
    no_context = upscale_tensor(small_model, x, tile=10, opts=TileOptions(margin=0))
    err = (no_context - untiled(small_model, x)).abs().max().item()
    assert err > 1e-3


def test_plan_tiles_partitions_the_image():
    tiles = plan_tiles(100, 37, 32)
    covered = np.zeros((100, 37), int)
    for t in tiles:
        covered[t.y0 : t.y1, t.x0 : t.x1] += 1
    assert (covered == 1).all()


def test_progress_and_cancel(small_model):
    x = torch.rand(1, 3, 40, 40)
    seen = []
    upscale_tensor(small_model, x, tile=20, on_tile=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] == len(seen) == 8  # 4 tiles, gate pass + output pass
    calls = []
    with pytest.raises(UpscaleCancelled):
        upscale_tensor(
            small_model, x, tile=20, should_stop=lambda: len(calls) >= 3, on_tile=lambda d, t: calls.append(d)
        )
    assert len(calls) == 3


class OOMOnce(torch.nn.Module):
    """Wraps a model; raises CUDA-style OOM whenever a tile wider than `limit` is run (as the tiler sees it)."""

    def __init__(self, model, limit):
        super().__init__()
        self.inner, self.limit, self.raised = model, limit, 0

    scale = property(lambda self: self.inner.scale)
    receptive_radius = property(lambda self: self.inner.receptive_radius)
    needs_statistics = property(lambda self: self.inner.needs_statistics)

    def check(self, x):
        if x.shape[-1] > self.limit:
            self.raised += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    def statistics(self, x, region=None):
        self.check(x)
        return self.inner.statistics(x, region)

    def forward(self, x, stats=None):
        self.check(x)
        return self.inner(x, stats=stats)


def test_oom_halves_the_tile_and_gives_the_same_result(small_model):
    x = torch.rand(1, 3, 64, 64)
    wrapped = OOMOnce(small_model, limit=60)
    y = upscale_tensor(wrapped, x, tile=64)
    assert wrapped.raised >= 1
    assert (y - untiled(small_model, x)).abs().max().item() < 1e-4


def test_other_exceptions_are_not_swallowed(small_model):
    class Boom(OOMOnce):
        def check(self, x):
            raise RuntimeError("shape mismatch somewhere")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        upscale_tensor(Boom(small_model, 0), torch.rand(1, 3, 64, 64), tile=32)


@pytest.mark.parametrize(
    "dtype,maxval", [(torch.uint8, 255), (torch.uint16, 65535), (torch.float32, 1.0), (torch.float16, 1.0)]
)
def test_dtype_in_equals_dtype_out(small_model, dtype, maxval):
    x = torch.rand(1, 3, 20, 20) * maxval
    x = x.round().to(dtype) if dtype in (torch.uint8, torch.uint16) else x.to(dtype)
    y = upscale_bchw_tensor(x, [small_model], tile=8)
    assert y.dtype == dtype and y.shape == (1, 3, 40, 40)
    ref = untiled(small_model, x.to(torch.int32).float() / maxval if maxval > 1 else x.float())
    assert (y.to(torch.float32) / maxval - ref).abs().max().item() <= 0.5 / maxval + 1e-3


def test_gray_and_rgba_layouts(small_model):
    gray = torch.rand(2, 1, 15, 11)
    y = upscale_bchw_tensor(gray, [small_model], tile=0)
    assert y.shape == (2, 1, 30, 22)
    ref = untiled(small_model, gray.expand(2, 3, 15, 11)).mean(dim=1, keepdim=True)
    assert (y - ref).abs().max() < 1e-5
    rgba = torch.rand(1, 4, 12, 12)
    rgba[:, 3] = 1.0
    y = upscale_bchw_tensor(rgba, [small_model], tile=0)
    assert y.shape == (1, 4, 24, 24)
    assert torch.allclose(y[:, 3], torch.ones(1, 24, 24))
    assert (y[:, :3] - untiled(small_model, rgba[:, :3])).abs().max() < 1e-5


def test_x8_chains_three_x2_passes(small_model):
    x = torch.rand(1, 3, 6, 5)
    y = upscale_bchw_tensor(x, [small_model] * 3, tile=0)
    ref = x
    for _ in range(3):
        ref = untiled(small_model, ref)
    assert y.shape == (1, 3, 48, 40) and (y - ref).abs().max() < 1e-4


def test_filters_inside_the_tile_loop_match_filtering_afterwards(small_model):
    x = (torch.rand(1, 3, 50, 44) * 255).round().to(torch.uint8)
    post = PostProcess(sharpen=True, antialias=True)
    fused = upscale_bchw_tensor(x, [small_model], tile=16, post=post)
    whole = upscale_bchw_tensor(x, [small_model], tile=0, out_dtype=torch.float32)
    after = (post(whole) * 255).round().to(torch.uint8)
    assert (fused.int() - after.int()).abs().max() <= 1


@pytest.mark.parametrize(
    "bad,err",
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (np.zeros((1, 2, 4, 4, 3), np.uint8), "dimensions"),
        (np.zeros((4, 4, 3), np.int64), "unsupported dtype"),
        (np.zeros((4, 4, 5), np.uint8), "channels"),
    ],
)
def test_bad_arrays_get_clear_errors(bad, err):
    with pytest.raises((ValueError, TypeError), match=err):
        numpy_to_bchw(bad)


@pytest.mark.skipif(not cpu_has_fast_bf16(), reason="this CPU has no native bf16")
def test_bf16_model_keeps_an_fp32_skip_and_stays_within_a_level():
    assert pick_dtype(torch.device("cpu"), "auto") == torch.bfloat16
    torch.manual_seed(0)
    model = TinyESPCN(TinyESPCNConfig(scale=2)).eval()
    for p in model.parameters():  # trained-like small weights, so the detail branch is a correction
        p.data.mul_(0.3)
    half = TinyESPCN(model.config).eval()
    half.load_state_dict(model.state_dict())
    half = half.to(torch.bfloat16)
    x = torch.rand(1, 3, 40, 36)
    ref, low = upscale_tensor(model, x, tile=0), upscale_tensor(half, x, tile=16)
    assert low.dtype == torch.float32
    assert (ref - low).abs().max() < 2 / 255


def test_public_api_never_modifies_its_inputs(small_model, weights_file):
    import warnings

    from tinyespcn_nodes.engine.job import upscale_array

    x = torch.rand(1, 3, 20, 18) * 1.4 - 0.2  # out of range on purpose: clamping must not write back
    before = x.clone()
    upscale_bchw_tensor(x, [small_model], tile=8)
    assert torch.equal(x, before)
    g = before.clone().requires_grad_(True)  # a tensor that autograd tracks is accepted and left alone
    upscale_bchw_tensor(g, [small_model], tile=8)
    assert torch.equal(g.detach(), before) and g.grad is None
    arr = (before[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)
    arr.setflags(write=False)  # e.g. np.asarray(PIL image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "The given NumPy array is not writable" must not reach users
        out = upscale_array(arr, 2, str(weights_file), device="cpu", tile=8)
    assert out.shape == (40, 36, 3) and not arr.flags.writeable


@pytest.mark.parametrize("scale", [2, 4])
def test_sampled_statistics_stay_within_half_a_level_on_real_images(scale, monkeypatch):
    """Images too big for the code cache: the sampled statistics pass vs the exact two-pass, shipped
    seed-config weights, Set14 HR as the input."""
    from conftest import shared_path

    from tinyespcn_nodes.core import tiling

    monkeypatch.setattr(tiling, "CODE_CACHE_BYTES", 0)

    from tinyespcn_nodes.core.weights import load_model

    folder = shared_path("data/benchmarks/Set14/image_SRF_2")
    model, _ = load_model(resolve_weights(f"seed-x{scale}"))
    for name in ("img_001_SRF_2_HR.png", "img_002_SRF_2_HR.png"):
        x = torch.from_numpy(np.array(Image.open(folder / name).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
        x = x[:, :, :320, :320]
        exact = upscale_tensor(model, x, tile=128, opts=TileOptions(exact=True))
        sampled = upscale_tensor(model, x, tile=128)
        assert (exact.clamp(0, 1) - sampled.clamp(0, 1)).abs().max().item() * 255 <= 0.5


def test_auto_tile_fits_the_budget_and_gives_lean_models_bigger_tiles():
    """The seed-config x4 file gets the 256² tile the memory bench was measured with; leaner nets get more."""
    from tinyespcn_nodes.core.arch.rep import RepConfig, TinyESPCNRep
    from tinyespcn_nodes.core.defaults import AUTO_TILE, TILE_BUDGET_BYTES
    from tinyespcn_nodes.core.tiling import activation_bytes_per_pixel, auto_tile, context_margin, tile_count
    from tinyespcn_nodes.core.weights import load_model

    seed, _ = load_model(REPO / "weights" / "general-x4.safetensors")
    assert auto_tile(seed) == 256
    lean = TinyESPCNRep(RepConfig(scale=2, channels=16, blocks=8)).deploy().eval()
    side = auto_tile(lean)
    assert side > 256 and side % 32 == 0
    assert (side + 2 * context_margin(lean)) ** 2 * activation_bytes_per_pixel(lean) <= TILE_BUDGET_BYTES
    assert tile_count(side, side, AUTO_TILE, lean) == 1 and tile_count(side + 1, side, AUTO_TILE, lean) == 2
    torch.manual_seed(0)
    x = torch.rand(1, 3, side + 40, 70)
    with torch.inference_mode():
        ref = lean(x).clamp(0, 1)
    assert (upscale_tensor(lean, x).clamp(0, 1) - ref).abs().max().item() < 1e-5


@pytest.mark.parametrize("tile", [0, 4096])
def test_one_big_tile_still_stops_between_layers(small_model, tile):
    """tile=0 or a tile larger than the image: Cancel is seen inside the forward pass, not after it."""
    from tinyespcn_nodes.core.tiling import stop_between_layers

    layers = sum(1 for m in small_model.modules() if not list(m.children()))
    asked = []

    def stop():
        asked.append(1)
        return len(asked) > 3

    with pytest.raises(UpscaleCancelled):
        upscale_tensor(small_model, torch.rand(1, 3, 30, 30), tile=tile, should_stop=stop)
    assert len(asked) == 4 < layers  # stopped at the 4th check, part-way through one tile
    # another thread's run (or one without a stop function) is never cancelled by these hooks
    with stop_between_layers(small_model, None):
        assert upscale_tensor(small_model, torch.rand(1, 3, 9, 9), tile=0).shape == (1, 3, 18, 18)


@pytest.mark.parametrize("factor", [1.5, 1.37, 3.9])
@pytest.mark.parametrize("tile", [0, 12])
def test_any_factor_equals_lanczos_of_the_full_upscale(small_model, factor, tile):
    """The resize runs inside the tile loop, yet equals Pillow-semantics Lanczos of the whole x2/x4 result."""
    from tinyespcn_nodes.core.resize import pil_resize
    from tinyespcn_nodes.engine.job import process_bchw

    torch.manual_seed(0)
    x = torch.rand(1, 4, 37, 50)  # RGBA: alpha follows the same size
    models = [small_model] * (2 if factor > 2 else 1)
    full = process_bchw(x, models, tile=0)
    out = process_bchw(x, models, tile=tile, factor=factor)
    assert out.shape == (1, 4, round(37 * factor), round(50 * factor))
    ref = pil_resize(full[:, :3], tuple(out.shape[-2:])).clamp(0, 1)
    assert (out[:, :3] - ref).abs().max().item() < 1e-5
    with pytest.raises(ValueError, match="factor must be"):
        process_bchw(x, [small_model], factor=2.5)


@pytest.mark.parametrize("scale", [2, 4])
def test_code_cache_makes_gated_models_exact_in_one_pass(scale):
    """Below the cache budget a seed-config model runs encode + decode: equal to the untiled forward."""
    from tinyespcn_nodes.core.tiling import tile_count, uses_code_cache
    from tinyespcn_nodes.core.weights import load_model

    model, _ = load_model(resolve_weights(f"seed-x{scale}"))
    img = np.array(Image.open(REPO / "tinyespcn_nodes" / "data" / "astronaut.png").convert("RGB"))[:150, :170]
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    assert uses_code_cache(model, 150, 170) and tile_count(150, 170, 64, model) == 2 * len(plan_tiles(150, 170, 64))
    with torch.inference_mode():
        ref = model(x).clamp(0, 1)
    for tile in (64, 100):
        assert (upscale_tensor(model, x, tile=tile).clamp(0, 1) - ref).abs().max().item() < 1e-4
    post = PostProcess(sharpen=True, antialias=True)
    whole = upscale_bchw_tensor(x, [model], tile=0, post=post)
    assert (upscale_bchw_tensor(x, [model], tile=64, post=post) - whole).abs().max().item() < 2 / 255


def test_a_gray_out_gets_the_mean_of_the_rgb_result_tile_by_tile(small_model):
    x = torch.rand(1, 3, 45, 38)
    rgb = upscale_tensor(small_model, x, tile=16)
    for dtype in (torch.float32, torch.uint8):
        gray = torch.empty((1, 1, 90, 76), dtype=dtype)
        upscale_tensor(small_model, x, tile=16, out=gray)
        want = rgb.clamp(0, 1).mean(dim=1, keepdim=True)
        want = want if dtype == torch.float32 else want.mul(255).round().to(torch.uint8)
        assert torch.equal(gray, want)
    with pytest.raises(ValueError, match="1 channel"):
        upscale_tensor(small_model, x, tile=16, out=torch.empty((1, 2, 90, 76)))
