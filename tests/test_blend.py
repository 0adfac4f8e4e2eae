"""`trainer export --blend-with CLEAN --blend T`: the shipped file is exactly (1 - T)·clean + T·run."""

from pathlib import Path

import pytest
import torch

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.weights import read_weights, save_weights


def _file(path: Path, seed: int, channels: int = 8) -> Path:
    torch.manual_seed(seed)
    return save_weights(path, TinyESPCN(TinyESPCNConfig(scale=2, channels=channels, blocks=2)))


def test_the_blend_is_the_linear_mix_of_the_folded_tensors(tmp_path):
    from trainer.blend import blend_into

    clean, run = _file(tmp_path / "clean-x2.safetensors", 1), _file(tmp_path / "run.safetensors", 2)
    model, mix = blend_into(run, str(clean), 0.8)
    a, b = read_weights(clean)[1], read_weights(run)[1]
    for key, value in model.state_dict().items():
        assert torch.allclose(value, 0.2 * a[key] + 0.8 * b[key], atol=1e-6), key
    assert mix == {"clean": "clean-x2.safetensors", "t": 0.8}
    one, _ = blend_into(run, str(clean), 1.0)
    assert all(torch.equal(v, b[k]) for k, v in one.state_dict().items())


def test_another_architecture_or_an_out_of_range_share_is_refused(tmp_path):
    from trainer.blend import blend_into

    clean, run = _file(tmp_path / "clean-x2.safetensors", 1, channels=4), _file(tmp_path / "run.safetensors", 2)
    with pytest.raises(ValueError, match="another architecture"):
        blend_into(run, str(clean), 0.5)
    with pytest.raises(ValueError, match="within 0-1"):
        blend_into(run, str(_file(tmp_path / "c2-x2.safetensors", 3)), 1.5)


def test_export_blended_records_the_mix_and_measures_the_blended_network(tmp_path, monkeypatch):
    import trainer.export as export_module
    from trainer.blend import export_blended

    clean = _file(tmp_path / "clean-x2.safetensors", 1)
    measured = []

    def fake_export(source, out, measure, note):
        assert measure is False
        torch.manual_seed(2)
        model = TinyESPCN(TinyESPCNConfig(scale=2, channels=8, blocks=2))
        return save_weights(out, model, training={"command": "python -m trainer finetune ...", "note": note})

    monkeypatch.setattr(export_module, "load_run_config", lambda source: "cfg")
    monkeypatch.setattr(export_module, "validation_metrics", lambda model, cfg: measured.append(model) or {"x": 1.0})
    out = export_blended(fake_export, tmp_path / "my-run", tmp_path / "out.safetensors", str(clean), 0.8, "why")
    info, state = read_weights(out)
    assert info.training["blend"] == {"clean": "clean-x2.safetensors", "t": 0.8}
    assert "--blend-with" in info.training["command"] and "RUNS/my-run" in info.training["command"]
    assert info.training["note"] == "why" and info.metrics["x"] == 1.0
    assert all(torch.equal(v, state[k]) for k, v in measured[0].state_dict().items())
