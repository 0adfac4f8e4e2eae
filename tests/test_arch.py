"""The architecture registry and TinyESPCN-Rep: specs, folding, counts, detection, one weights format."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from tinyespcn_nodes.core.arch import SPECS, by_id, by_name, count_parameters, deployed, macs_per_lr_pixel, spec_of
from tinyespcn_nodes.core.arch.rep import RepConfig, RepConv3x3, TinyESPCNRep
from tinyespcn_nodes.core.tiling import TileOptions, upscale_tensor
from tinyespcn_nodes.core.weights import load_model, read_weights, save_weights


def _perturbed(model, sigma=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * sigma)
    return model.eval()


def _portrait(h=40, w=36):
    from PIL import Image

    img = np.array(Image.open(REPO / "tinyespcn_nodes" / "data" / "astronaut.png").convert("RGB"))[
        60 : 60 + h, 200 : 200 + w
    ]
    return torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255


def test_registry_lookups_are_consistent():
    assert len({s.id for s in SPECS}) == len({s.name for s in SPECS}) == len(SPECS)
    for spec in SPECS:
        model = spec.build(spec.config_cls(scale=4))  # not any default scale (2, or 8 for the pyramid)
        assert spec_of(model) is spec is by_id(spec.id) is by_name(spec.name)
        assert model.scale == 4 and model.receptive_radius >= 1
        assert spec.config_cls.from_json(model.config.to_json()) == model.config
        assert spec.detect(deployed(model).state_dict())
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        by_name("nope")


def test_branch_sum_in_weight_space_equals_running_every_branch():
    conv = _perturbed(RepConv3x3(6, 6, expand=2, edge=True), 0.1).double()
    x = torch.rand(2, 6, 13, 11, dtype=torch.float64)
    torch.testing.assert_close(conv(x), conv.forward_branches(x), rtol=0, atol=1e-12)
    folded = conv.fold()
    torch.testing.assert_close(folded(x), conv.forward_branches(x), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cfg", [RepConfig(scale=2, channels=8, blocks=3), RepConfig(scale=3, channels=6, blocks=4, attn_every=3),
                                 RepConfig(scale=4, channels=8, blocks=2, expand=0, edge=False, attn_every=0),
                                 RepConfig(scale=2, channels=8, blocks=5, act="leaky", gate="hardswish"),
                                 RepConfig(scale=3, channels=8, blocks=5, act="leaky", gate="sum")])  # fmt: skip
def test_folded_model_equals_the_branched_one(cfg):
    model = _perturbed(TinyESPCNRep(cfg))
    folded = model.deploy()
    assert folded.config.deployed and not any(isinstance(m, RepConv3x3) for m in folded.modules())
    for x in (torch.rand(2, 3, 19, 23), _portrait()):
        with torch.no_grad():
            want = model(x)  # random weights give outputs far outside [0, 1]: 1e-5 of their range
            assert (want - folded(x)).abs().max().item() < 1e-5 * max(1.0, want.abs().max().item())


def test_counts_come_from_the_deployed_model():
    model = TinyESPCNRep(RepConfig(scale=2))
    folded = deployed(model)
    c, s, blocks = 32, 2, 10
    assert macs_per_lr_pixel(folded) == 3 * c * 9 + blocks * c * c * 9 + c * 3 * s * s * 9  # 96,480
    assert count_parameters(folded) < count_parameters(model)  # the branches are gone


@pytest.mark.parametrize(
    "act, gate", [("prelu", "sigmoid"), ("leaky", "hardswish"), ("leaky", "sigmoid"), ("leaky", "sum")]
)
def test_rep_weights_store_the_fold_and_reload_exactly(tmp_path, act, gate):
    model = _perturbed(TinyESPCNRep(RepConfig(scale=2, channels=8, blocks=4, attn_every=3, act=act, gate=gate)))
    path = save_weights(tmp_path / "rep-x2.safetensors", model, training={"note": "t"})
    loaded, info = load_model(path)
    assert info.spec.id == "TinyESPCN-Rep" and info.config.deployed and info.config.attn_every == 3
    assert (info.config.act, info.config.gate) == (act, gate)
    x = _portrait()
    with torch.no_grad():
        assert (loaded(x) - model(x)).abs().max().item() < 1e-5
    _, state = read_weights(path)
    assert by_id("TinyESPCN-Rep").config_from_state(state) == info.config  # a bare state dict suffices


def test_rep_tiles_are_exact_in_one_pass():
    model = _perturbed(TinyESPCNRep(RepConfig(scale=2, channels=8, blocks=4))).deploy()
    x = torch.rand(1, 3, 70, 53)
    steps = []
    ref = upscale_tensor(model, x, tile=0)
    tiled = upscale_tensor(model, x, tile=24, on_tile=lambda done, total: steps.append(total))
    assert (ref - tiled).abs().max().item() < 1e-5
    assert steps[-1] == 9 == len(steps)  # 3×3 tiles, no statistics pass


def test_real_spandrel_detects_and_runs_every_registered_architecture(tmp_path, spandrel):
    """spandrel's own registry (the core 'Load Upscale Model' path), with a stub for its torchvision import."""
    for spec, cfg in ((by_name("tinyespcn"), {"channels": 16, "blocks": 2, "residual": True, "attention": False}),
                      (by_name("rep"), {"channels": 8, "blocks": 3, "attn_every": 3}),
                      (by_name("rep"), {"channels": 8, "blocks": 3, "act": "leaky", "gate": "hardswish"}),
                      (by_name("rep"), {"channels": 8, "blocks": 4, "act": "leaky", "gate": "sum"}),
                      (by_name("pyramid"), {"stem": 8, "channels": 8, "blocks": 2})):  # fmt: skip
        model = _perturbed(spec.build(spec.config_cls(scale=2, **cfg)), 0.01)
        path = save_weights(tmp_path / f"{spec.name}-{len(cfg)}.safetensors", model)
        desc = spandrel.ModelLoader().load_from_file(str(path))
        assert desc.architecture.id == spec.id and desc.scale == 2
        assert desc.tiling == spandrel.ModelTiling.SUPPORTED  # files needing whole-image statistics: refused
        x = _portrait(24, 20)
        with torch.no_grad():
            assert (desc(x) - deployed(model)(x).clamp(0, 1)).abs().max().item() < 1e-5  # spandrel clamps


def test_fused_conv_relu_equals_the_two_ops_and_keeps_hooks(monkeypatch):
    from tinyespcn_nodes.core.arch import ops

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 8, 3, padding=1).eval()
    x = torch.randn(1, 8, 20, 17).contiguous(memory_format=torch.channels_last)
    calls, real = [], ops._FUSED["op"]
    if real is None:
        pytest.skip("this torch build has no oneDNN pointwise conv")
    monkeypatch.setattr(ops, "_DTYPE_FUSABLE", {})

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setitem(ops._FUSED, "op", spy)
    dtypes = (torch.float32, torch.bfloat16)
    fused = sum(ops.fusable_dtype(d) for d in dtypes)  # bf16 only on CPUs with native bf16 convs
    for dtype, tol in zip(dtypes, (1e-6, 1e-2)):
        c, xi = conv.to(dtype), x.to(dtype)
        with torch.inference_mode():
            got = ops.conv_relu(c, xi)
            want = torch.relu(c(xi))
        assert torch.allclose(got.float(), want.float(), atol=tol)
    assert len(calls) == fused
    conv = conv.float()
    with torch.enable_grad():  # training: the plain ops, so autograd works
        ops.conv_relu(conv, x.requires_grad_()).sum().backward()
    assert len(calls) == fused and x.grad is not None
    seen = []
    handle = conv.register_forward_pre_hook(lambda m, args: seen.append(1))
    with torch.inference_mode():
        ops.conv_relu(conv, x.detach())
    assert seen == [1] and len(calls) == fused + 1  # pre-hooks (the tiler's stop check) still run when fused
    handle.remove()


def test_a_failing_dtype_turns_off_only_its_own_fusion(monkeypatch):
    from tinyespcn_nodes.core.arch import ops

    if ops._FUSED["op"] is None:
        pytest.skip("this torch build has no oneDNN pointwise conv")
    real = ops._FUSED["op"]
    monkeypatch.setattr(ops, "_DTYPE_FUSABLE", {torch.float32: True, torch.bfloat16: True})
    calls = []

    def bf16_unsupported(x, *args):  # what an AVX2-only CPU's oneDNN does
        if x.dtype == torch.bfloat16:
            raise RuntimeError("mkldnn_convolution: bf16 path needs the cpu support avx512bw")
        calls.append(x.dtype)
        return real(x, *args)

    monkeypatch.setitem(ops._FUSED, "op", bf16_unsupported)
    conv = torch.nn.Conv2d(8, 8, 3, padding=1).eval()
    x = torch.randn(1, 8, 12, 9).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        got = ops.conv_relu(conv.bfloat16(), x.bfloat16())  # the plain ops answer instead
        assert torch.allclose(got.float(), torch.relu(conv(x.bfloat16())).float(), atol=1e-2)
        ops.conv_relu(conv.float(), x)
    assert ops._DTYPE_FUSABLE == {torch.float32: True, torch.bfloat16: False}
    assert calls == [torch.float32]  # fp32 stays fused after the bf16 failure


def test_an_avx2_only_cpu_keeps_fp32_fusion_and_plain_bf16():
    """oneDNN capped at AVX2 (as on a CPU without AVX-512): bf16 is never tried, fp32 stays fused."""
    script = (
        "import torch; from tinyespcn_nodes.core.arch import ops\n"
        "conv = torch.nn.Conv2d(8, 8, 3, padding=1).eval()\n"
        "x = torch.randn(1, 8, 12, 9).contiguous(memory_format=torch.channels_last)\n"
        "with torch.inference_mode():\n"
        "    for d in (torch.bfloat16, torch.float32):\n"
        "        got = ops.conv_relu(conv.to(d), x.to(d))\n"
        "        assert torch.allclose(got.float(), torch.relu(conv.to(d)(x.to(d))).float(), atol=1e-2)\n"
        "print(ops.fusable_dtype(torch.float32), ops.fusable_dtype(torch.bfloat16))\n"
    )
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]


@pytest.mark.parametrize("channels, side", [(16, 33), (32, 20), (3, 7), (1, 9)])
def test_row_prelu_is_prelu_bit_for_bit(channels, side):
    import torch.nn.functional as F

    from tinyespcn_nodes.core.arch.ops import prelu

    torch.manual_seed(0)
    weight = torch.rand(channels) * 2.4 - 0.5  # negative and > 1 slopes, as trained files have
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(2, channels, side, side + 3).to(dtype)
        for layout in (torch.contiguous_format, torch.channels_last):
            xi = x.contiguous(memory_format=layout)
            got = prelu(xi, weight.to(dtype))
            assert torch.equal(got, F.prelu(x, weight.to(dtype))) and got.is_contiguous(memory_format=layout)
    x = torch.randn(2, channels, side, side).contiguous(memory_format=torch.channels_last).requires_grad_()
    w = weight.clone().requires_grad_()
    prelu(x, w).square().sum().backward()
    x2, w2 = x.detach().clone().requires_grad_(), weight.clone().requires_grad_()
    F.prelu(x2, w2).square().sum().backward()
    assert torch.allclose(x.grad, x2.grad) and torch.allclose(w.grad, w2.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale, side", [(2, 17), (3, 8), (4, 5)])
def test_pixel_shuffle_is_torchs_bit_for_bit(scale, side):
    import torch.nn.functional as F

    from tinyespcn_nodes.core.arch.ops import pixel_shuffle

    torch.manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(2, 3 * scale * scale, side, side + 2).to(dtype)
        for layout in (torch.contiguous_format, torch.channels_last):
            xi = x.contiguous(memory_format=layout)
            got = pixel_shuffle(xi, scale)
            assert torch.equal(got, F.pixel_shuffle(x, scale)) and got.shape == (2, 3, side * scale, (side + 2) * scale)
    x = torch.randn(1, 3 * scale * scale, side, side).contiguous(memory_format=torch.channels_last).requires_grad_()
    pixel_shuffle(x, scale).square().sum().backward()
    assert torch.equal(x.grad, 2 * x.detach())


def test_rep_rejects_unknown_activations():
    with pytest.raises(ValueError, match="act must be one of prelu, leaky"):
        RepConfig(act="relu")
    with pytest.raises(ValueError, match="gate must be one of sigmoid, hardswish, sum"):
        RepConfig(gate="none")
    with pytest.raises(ValueError, match="gate sum needs attn_every >= 2"):
        RepConfig(gate="sum", attn_every=1)  # every layer would close a group: no nonlinearity left


def test_fusable_rep_runs_fused_at_cpu_inference_and_matches_the_plain_ops(monkeypatch):
    from tinyespcn_nodes.core.arch import ops

    real = ops._FUSED["op"]
    if real is None:
        pytest.skip("this torch build has no oneDNN pointwise conv")
    attrs = []

    def spy(*args):
        attrs.append(args[7])
        return real(*args)

    monkeypatch.setitem(ops._FUSED, "op", spy)
    cfg = RepConfig(scale=2, channels=8, blocks=4, act="leaky", gate="hardswish")
    model = _perturbed(TinyESPCNRep(cfg)).deploy().to(memory_format=torch.channels_last)
    x = _portrait().contiguous(memory_format=torch.channels_last)
    with torch.enable_grad():
        plain = model(x).detach()
    assert attrs == []  # autograd on: the plain ops
    with torch.inference_mode():
        fused = model(x)
    assert attrs == ["leaky_relu", "leaky_relu", "hardswish", "leaky_relu", "hardswish"]
    assert (fused - plain).abs().max().item() < 1e-5
    half = model.to(torch.bfloat16)
    with torch.enable_grad():
        half_plain = half(x).detach()
    with torch.inference_mode():  # bf16: the fused op rounds once where the plain ops round twice
        half_fused = half(x)
    scale = half_plain.abs().max().item()
    assert (half_fused - half_plain).abs().max().item() < 0.02 * scale and half_fused.dtype == torch.float32


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pixel_shuffle_skip_is_the_repeat_and_shuffle_bit_for_bit(scale):
    import torch.nn.functional as F

    from tinyespcn_nodes.core.arch.ops import pixel_shuffle_skip

    torch.manual_seed(0)
    lr = torch.rand(2, 3, 9, 7)
    for dtype in (torch.float32, torch.bfloat16):
        detail = torch.randn(2, 3 * scale * scale, 9, 7).to(dtype)
        want = F.pixel_shuffle(detail.float() + lr.repeat_interleave(scale * scale, dim=1), scale)
        for layout in (torch.contiguous_format, torch.channels_last):
            got = pixel_shuffle_skip(
                detail.contiguous(memory_format=layout), lr.contiguous(memory_format=layout), scale
            )
            assert torch.equal(got, want) and got.dtype == torch.float32 and got.is_contiguous()


def test_sum_gate_adds_inside_the_conv_at_cpu_inference_and_matches_the_plain_ops(monkeypatch):
    """gate sum: the group's first conv self-gates with hardswish, the last one accumulates the group input
    in place (oneDNN's sum post-op); the same function as the plain ops, and nothing the caller holds changes."""
    from tinyespcn_nodes.core.arch import ops

    op = getattr(torch.ops.mkldnn, "_convolution_pointwise_", None)
    if ops._FUSED["op"] is None or op is None:
        pytest.skip("this torch build has no oneDNN pointwise conv")
    sums = []

    class Spy:
        def __getattr__(self, name):
            return getattr(torch.ops.mkldnn, name)

        class _convolution_pointwise_:  # noqa: N801 (the op's own name)
            @staticmethod
            def binary(other, *args):
                sums.append(other.data_ptr())
                return op.binary(other, *args)

    monkeypatch.setattr(torch.ops, "mkldnn", Spy(), raising=False)
    cfg = RepConfig(scale=2, channels=8, blocks=5, act="leaky", gate="sum")  # groups (0,1) (2,3) (4)
    assert [cfg.activation(i) for i in range(5)] == ["open", "add", "open", "add", "add"]
    model = _perturbed(TinyESPCNRep(cfg)).deploy().to(memory_format=torch.channels_last)
    x = _portrait().contiguous(memory_format=torch.channels_last)
    before = x.clone()
    with torch.enable_grad():
        plain = model(x).detach()
    assert sums == []
    with torch.inference_mode():
        fused = model(x)
    assert len(sums) == 2  # the lone last layer's input IS its group input: it adds out of place
    assert (fused - plain).abs().max().item() < 1e-5 * max(1.0, plain.abs().max().item())
    assert torch.equal(x, before)


def test_conv_add_falls_back_where_it_cannot_accumulate():
    from tinyespcn_nodes.core.arch.ops import conv_add_

    conv = torch.nn.Conv2d(4, 4, 3, padding=1)
    x = torch.randn(1, 4, 9, 9)
    with torch.inference_mode():
        for residual in (torch.randn(1, 4, 9, 9, dtype=torch.float64), torch.randn(1, 4, 9, 9).transpose(2, 3), x):
            want = conv(x) + residual
            assert torch.equal(conv_add_(conv, x, residual.clone()), want)
        held = x.clone()
        assert torch.equal(conv_add_(conv, held, held), conv(x) + x) and torch.equal(held, x)  # own input: kept


def test_pixel_shuffle_skip_keeps_autograd():
    from tinyespcn_nodes.core.arch.ops import pixel_shuffle_skip

    detail = torch.randn(1, 12, 5, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    lr = torch.rand(1, 3, 5, 6).contiguous(memory_format=torch.channels_last)
    pixel_shuffle_skip(detail, lr, 2).sum().backward()
    assert torch.equal(detail.grad, torch.ones_like(detail))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_registered_spec_builds_detects_saves_loads_tiles_and_exports(spec, tmp_path):
    """The registry promise, over every spec: a network is one module plus one SPECS line."""
    torch.manual_seed(0)
    model = _perturbed(spec.build(spec.config_cls(scale=4)), 0.05).eval()
    state = deployed(model).state_dict()
    assert [s.name for s in SPECS if s.detect(state)] == [spec.name]  # no look-alike accepts it (ESPCN/SRCNN)
    path = save_weights(tmp_path / f"{spec.name}.safetensors", model)
    loaded, info = load_model(path, 4)
    assert spec_of(loaded) is spec and info.scale == 4
    x = _portrait(40, 36)
    whole = upscale_tensor(loaded, x, tile=0)
    tiled = upscale_tensor(loaded, x, tile=2 * loaded.receptive_radius + 12, opts=TileOptions(exact="exact"))
    assert (whole - tiled).abs().max().item() < 1e-4
    pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    from tinyespcn_nodes.io.onnx_export import export_onnx

    torch.manual_seed(0)  # the network's own init: perturbed weights can blow up through deep nets in fp32
    plain = save_weights(tmp_path / f"{spec.name}-plain.safetensors", spec.build(spec.config_cls(scale=4)).eval())
    result = export_onnx(plain, tmp_path / f"{spec.name}.onnx", 4)
    assert (tmp_path / f"{spec.name}.onnx").is_file()
    assert result["max_abs_diff"] is None or result["max_abs_diff"] < 1e-3
