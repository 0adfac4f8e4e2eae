"""Issue 33, security: hostile weights names and crafted weights files are refused before anything is opened
or allocated, with one line naming the file."""

import json

import pytest
import torch
from safetensors.torch import save_file
from test_comfy_nodes import comfy  # noqa: F401  (the fake-ComfyUI fixture)

from tinyespcn_nodes.core.weights import FORMAT_NAME, FORMAT_VERSION, WeightsError, read_weights
from tinyespcn_nodes.hosts.cli.main import main as cli


def _loader(comfy):  # noqa: F811
    return comfy.nodes["TinyESPCN_ModelLoader"]


@pytest.mark.parametrize("name", ["/etc/hostname", "../elsewhere/x.safetensors", "OUTSIDE", "a" * 5000])
def test_comfy_loader_opens_only_its_own_listed_names(comfy, tmp_path, monkeypatch, name):  # noqa: F811
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.safetensors").write_bytes((comfy.models_dir / "mine.safetensors").read_bytes())
    name = str(outside / "x.safetensors") if name == "OUTSIDE" else name
    monkeypatch.chdir(comfy.models_dir)
    opened = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    verdict = _loader(comfy).validate_inputs(weights=name)
    assert isinstance(verdict, str) and "unknown weights" in verdict and len(verdict) < 300
    with pytest.raises(FileNotFoundError, match="unknown weights"):
        _loader(comfy).execute(name, "cpu", "fp32")
    assert not any("elsewhere" in f or f == "/etc/hostname" for f in opened)


def test_comfy_loader_still_loads_listed_names(comfy):  # noqa: F811
    assert _loader(comfy).validate_inputs(weights="mine.safetensors") is True
    assert _loader(comfy).execute("mine.safetensors", "cpu", "fp32")[0].scale == 2


def _crafted(path, config: dict, arch="TinyESPCN"):
    """A few-hundred-byte valid safetensors file whose config claims what it likes."""
    meta = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "architecture": arch,
        "scale": str(config.get("scale", 2)), "config": json.dumps(config),
    }  # fmt: skip
    save_file({"feat_in.weight": torch.zeros(2, 3, 1, 1)}, str(path), metadata=meta)
    return path


CRAFTED = [
    {"scale": 2, "blocks": 10**8},
    {"scale": 2, "channels": 10**6},
    {"scale": 2, "channels": 512, "blocks": 512},  # within bounds, far more than the file holds
    {"scale": 2, "blocks": 3.5},
    {"scale": 2, "attention": "yes"},
    {"scale": 2, "reduction": -(10**9)},
]


@pytest.mark.parametrize("config", CRAFTED, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items())[:40])
def test_crafted_weights_config_is_refused_before_building(tmp_path, config, monkeypatch):
    path = _crafted(tmp_path / "evil-x2.safetensors", config)
    assert path.stat().st_size < 1000
    built = []
    import tinyespcn_nodes.core.arch.tinyespcn as arch

    real_init = arch.TinyESPCN.__init__

    def spy(self, cfg=None):
        built.append(torch.empty(0).device.type)  # "meta" inside the shape check, else a real build
        real_init(self, cfg)

    monkeypatch.setattr(arch.TinyESPCN, "__init__", spy)
    with pytest.raises(WeightsError, match="evil-x2.safetensors"):
        read_weights(path)
    assert set(built) <= {"meta"}, "a model was built for real from a config the file cannot fill"


def test_crafted_weights_give_one_line_in_the_cli_and_trainer(tmp_path, capsys):
    from trainer.cli import main as trainer

    path = _crafted(tmp_path / "evil-x2.safetensors", {"scale": 2, "blocks": 10**8})
    img = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(img)
    assert cli(["upscale", str(img), "-o", str(tmp_path / "out"), "--weights", str(path)]) == 2
    assert trainer(["eval", str(path), "--sets", "Set5", "--limit", "1", "--no-lpips"]) == 2
    assert trainer(["pretrain", "--init", str(path), "--steps", "1", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all("evil-x2.safetensors" in line and "sane range" in line for line in err)


def test_pickle_payload_via_convert_is_never_executed(tmp_path, capsys):
    """Regression: `convert` reads with weights_only=True; a pickle that would run code is refused."""
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    src = tmp_path / "evil.pth"
    src.write_bytes(pickle.dumps({"w": Payload()}))
    assert cli(["convert", str(src), str(tmp_path / "out.safetensors")]) == 2
    assert not marker.exists() and not (tmp_path / "out.safetensors").exists()
    assert "evil.pth" in capsys.readouterr().err


def test_nan_weights_are_refused(tmp_path, weights_file):
    """Regression: a file with a NaN tensor is refused by name."""
    from safetensors import safe_open

    with safe_open(str(weights_file), "pt") as f:
        meta, state = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    state["feat_in.weight"][0, 0, 0, 0] = float("nan")
    bad = tmp_path / "nan-x2.safetensors"
    save_file(state, str(bad), metadata=meta)
    with pytest.raises(WeightsError, match="nan-x2.safetensors.*NaN"):
        read_weights(bad)
