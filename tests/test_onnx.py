"""`export-onnx`: the folded model as ONNX with dynamic H/W, equal to torch under onnxruntime."""

import pytest
import torch

from tinyespcn_nodes.core.arch.rep import RepConfig, TinyESPCNRep
from tinyespcn_nodes.core.weights import save_weights
from tinyespcn_nodes.hosts.cli.main import main

pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(params=["prelu/sigmoid", "leaky/hardswish", "leaky/sum"])
def rep_file(tmp_path, request):
    torch.manual_seed(3)
    act, gate = request.param.split("/")
    model = TinyESPCNRep(RepConfig(scale=3, channels=8, blocks=3, act=act, gate=gate))
    for p in model.parameters():  # non-trivial branches, so the fold is really exercised
        p.data.normal_(0, 0.2)
    return save_weights(tmp_path / "rep-x3.safetensors", model.deploy(), training={"note": "test"}), model


@pytest.mark.parametrize("shape", [(1, 3, 29, 41), (1, 3, 5, 90)])
def test_onnx_equals_torch_on_any_size(tmp_path, rep_file, shape, capsys):
    path, model = rep_file
    out = tmp_path / "rep.onnx"
    assert main(["export-onnx", str(path), str(out)]) == 0
    assert "onnxruntime vs torch" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.rand(shape)
    got = torch.from_numpy(session.run(None, {"lr": x.numpy()})[0])
    with torch.inference_mode():
        ref = model.eval()(x)  # the unfolded training form: the fold and the export are both checked
    assert got.shape == (1, 3, shape[2] * 3, shape[3] * 3)
    assert (got - ref).abs().max().item() < 1e-4
    assert not list(tmp_path.glob("*.data")) and not list(tmp_path.glob(".rep.onnx.*"))


def test_seed_model_with_its_global_gate_exports_too(tmp_path, weights_file):
    out = tmp_path / "seed.onnx"
    assert main(["export-onnx", str(weights_file), str(out)]) == 0
    assert out.stat().st_size > 0


def test_missing_extra_is_named(tmp_path, weights_file, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "onnxscript" else real(n, *a))
    assert main(["export-onnx", str(weights_file), str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "tinyespcn-nodes[onnx]" in err and "onnxscript" in err
    assert not (tmp_path / "x.onnx").exists()
