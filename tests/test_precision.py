"""Precision policy: auto is the default only because its measured cost is within 0.02 dB everywhere."""

import pytest
import torch
from conftest import shared_path

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.catalog import bundled
from tinyespcn_nodes.core.tiling import attach_fp32_twin, upscale_tensor
from tinyespcn_nodes.engine.job import upscale_bchw_tensor
from tinyespcn_nodes.engine.models import DEFAULT_PRECISION, cpu_has_fast_bf16, get_model, pick_dtype

CPU = torch.device("cpu")


def test_policy_rules():
    assert pick_dtype(CPU, "fp32") == torch.float32 and pick_dtype(CPU, "bf16") == torch.bfloat16
    assert pick_dtype(CPU, "auto") == (torch.bfloat16 if cpu_has_fast_bf16() else torch.float32)
    assert pick_dtype(torch.device("cuda"), "auto") == torch.float16
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        pick_dtype(CPU, "fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        pick_dtype(CPU, "int8")
    assert DEFAULT_PRECISION == "auto"


class Overflowing(torch.nn.Module):
    """A reduced-precision model whose own dtype overflows on one tile (a forced overflow)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = 0

    scale = property(lambda self: self.inner.scale)
    receptive_radius = property(lambda self: self.inner.receptive_radius)

    def forward(self, x):
        y = self.inner(x)
        if next(self.inner.parameters()).dtype != torch.float32:
            self.calls += 1
            if self.calls == 2:
                y = y.clone()
                y[..., 0, 0] = float("inf")
        return y


def test_a_tile_that_overflows_is_redone_in_fp32():
    torch.manual_seed(0)
    fp32 = TinyESPCN(TinyESPCNConfig(scale=2, channels=8, blocks=1, attention=False)).eval()
    low = Overflowing(TinyESPCN(TinyESPCNConfig(scale=2, channels=8, blocks=1, attention=False)).eval())
    low.inner.load_state_dict(fp32.state_dict())
    low = low.to(torch.bfloat16)
    attach_fp32_twin(low, Overflowing(fp32))  # as get_model does
    x = torch.rand(1, 3, 40, 40)
    with torch.inference_mode():
        out = upscale_tensor(low, x, tile=20)
        ref = upscale_tensor(fp32, x, tile=20)
    assert torch.isfinite(out).all()
    tile2 = (slice(None), slice(None), slice(0, 40), slice(40, 80))  # the second tile came from the fp32 twin
    assert torch.equal(out[tile2], ref[tile2])
    assert (out - ref).abs().max().item() < 0.02  # the other tiles stay bf16


def test_reduced_precision_models_keep_their_fp32_original(weights_file):
    low = get_model(weights_file, 2, "cpu", "bf16")
    twin = low._tinyespcn_fp32
    assert next(low.parameters()).dtype == torch.bfloat16 and next(twin.parameters()).dtype == torch.float32
    exact = get_model(weights_file, 2, "cpu", "fp32")
    assert all(torch.equal(a, b) for a, b in zip(twin.state_dict().values(), exact.state_dict().values()))
    assert not any("fp32" in k for k in low.state_dict())


@pytest.mark.skipif(not cpu_has_fast_bf16(), reason="auto is fp32 on this CPU: nothing to measure")
def test_auto_costs_at_most_002_db_on_set5_and_set14_for_every_bundled_model():
    from trainer.bench_sets import load_set
    from trainer.evaluate import score

    shared_path("data/benchmarks/Set5/HR")
    for name, path in sorted(bundled().items()):
        scale = int(name.rsplit("-x", 1)[1])
        models = {p: [get_model(path, scale, "cpu", p)] for p in ("fp32", "auto")}
        for set_name in ("Set5", "Set14"):
            pairs = load_set(set_name, scale)
            res = {
                p: score(lambda lr, m=m: upscale_bchw_tensor(lr, m), pairs, scale, with_ssim=False)["psnr"]
                for p, m in models.items()
            }
            assert res["fp32"] - res["auto"] <= 0.02, (name, set_name, res)
