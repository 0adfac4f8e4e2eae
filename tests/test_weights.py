import json

import pytest
import torch
from safetensors.torch import save_file

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.catalog import bundled, resolve_weights
from tinyespcn_nodes.core.weights import WeightsError, convert_pth, load_model, read_weights, save_weights


def test_round_trip_keeps_config_and_metadata(weights_file):
    model, info = load_model(weights_file)
    assert info.config == TinyESPCNConfig(scale=2, channels=16, blocks=3)
    assert info.training == {"note": "test"}
    assert not any(p.requires_grad for p in model.parameters())


def test_truncated_file_is_refused_with_its_name(weights_file, tmp_path):
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(weights_file.read_bytes()[:-100])
    with pytest.raises(WeightsError, match=r"cut\.safetensors.*(truncated|corrupt)"):
        read_weights(bad)


def _raw(tmp_path, meta, tensors=None, name="x.safetensors"):
    tensors = tensors or {
        k: v.contiguous() for k, v in TinyESPCN(TinyESPCNConfig(channels=16, blocks=3)).state_dict().items()
    }
    path = tmp_path / name
    save_file(tensors, str(path), metadata=meta)
    return path


def _meta(**over):
    cfg = TinyESPCNConfig(channels=16, blocks=3)
    meta = {
        "format": "tinyespcn-weights",
        "format_version": "1",
        "architecture": "TinyESPCN",
        "scale": "2",
        "config": cfg.to_json(),
        "training": "{}",
        "metrics": "{}",
    }
    meta.update(over)
    return meta


def test_wrong_architecture_scale_and_nan_are_refused(tmp_path, weights_file):
    with pytest.raises(WeightsError, match="architecture"):
        read_weights(_raw(tmp_path, _meta(architecture="RealESRGAN")))
    with pytest.raises(WeightsError, match="x2, but x4 was requested"):
        read_weights(weights_file, expected_scale=4)
    with pytest.raises(WeightsError, match="disagrees"):
        read_weights(_raw(tmp_path, _meta(scale="3")))
    state = {k: v.clone() for k, v in TinyESPCN(TinyESPCNConfig(channels=16, blocks=3)).state_dict().items()}
    state["trunk.0.weight"][0, 0, 0, 0] = float("nan")
    with pytest.raises(WeightsError, match=r"trunk\.0\.weight.*NaN"):
        read_weights(_raw(tmp_path, _meta(), state, "nan.safetensors"))
    with pytest.raises(WeightsError, match="format"):
        read_weights(_raw(tmp_path, {}, None, "nometa.safetensors"))


def test_shape_and_name_mismatch_are_refused(tmp_path):
    state = TinyESPCN(TinyESPCNConfig(channels=16, blocks=3)).state_dict()
    with pytest.raises(WeightsError, match="tensor names|needs [0-9]+ weights"):
        read_weights(_raw(tmp_path, _meta(config=TinyESPCNConfig(channels=16, blocks=4).to_json()), dict(state)))
    with pytest.raises(WeightsError, match="invalid model config"):
        read_weights(
            _raw(tmp_path, _meta(config=json.dumps({"scale": 2, "channels": -1})), dict(state), "c.safetensors")
        )


def test_pickle_is_never_loaded_implicitly_but_convert_works(tmp_path):
    seed_style = {}
    model = TinyESPCN(TinyESPCNConfig(channels=16, blocks=3))
    for k, v in model.state_dict().items():
        k = k.replace("feat_in.", "conv1.").replace("to_sub.", "conv2.")
        k = k.replace("attn.fc_down.", "ca.fc.0.").replace("attn.fc_up.", "ca.fc.2.")
        if k.startswith("trunk."):
            _, i, rest = k.split(".", 2)
            k = f"conv_layers.{int(i) * 2}.{rest}"
        seed_style[k] = v
    pth = tmp_path / "tiny_espcn_celeba.pth"
    torch.save(seed_style, pth)
    with pytest.raises(WeightsError, match="pickle"):
        read_weights(pth)
    out = convert_pth(pth, tmp_path / "converted.safetensors", TinyESPCNConfig(channels=16, blocks=3))
    loaded, _ = load_model(out)
    x = torch.rand(1, 3, 9, 9)
    assert torch.allclose(loaded(x), model.eval()(x))


def test_registry_resolves_bundled_names_and_paths(weights_file):
    assert resolve_weights(weights_file) == weights_file
    with pytest.raises(FileNotFoundError, match="unknown weights"):
        resolve_weights("nonexistent-x2")
    for name, path in bundled().items():
        assert resolve_weights(name) == path
        assert resolve_weights(name.rsplit("-x", 1)[0], int(name.rsplit("-x", 1)[1])) == path
        _, info = load_model(path)
        assert f"x{info.scale}" in name


def test_save_is_atomic_and_leaves_no_temp(tmp_path):
    save_weights(tmp_path / "a.safetensors", TinyESPCN(TinyESPCNConfig(channels=8, blocks=1)))
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]
