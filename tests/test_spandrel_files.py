"""Every shipped file through spandrel's registry (ComfyUI's core "Load Upscale Model"), not only fresh models."""

import pytest
import torch
from conftest import REPO

from tinyespcn_nodes.core.arch import SPECS
from tinyespcn_nodes.core.arch.rep import RepConfig, TinyESPCNRep
from tinyespcn_nodes.core.weights import derived_tensors, load_model, read_weights, save_weights

WEIGHTS = REPO / "weights"
FILES = sorted(WEIGHTS.glob("*.safetensors")) + sorted((WEIGHTS / "baselines").glob("*.safetensors"))
# registered with spandrel: product architectures whose config can be read back from the tensors alone
REGISTERED = {s.id for s in SPECS if s.config_from_state is not None and not s.baseline}


def test_every_shipped_file_stores_the_tensors_its_config_implies():
    assert len(FILES) >= 16
    for path in FILES:
        info, state = read_weights(path)
        for name, want in derived_tensors(info.spec, info.config).items():
            assert torch.equal(state[name], want), f"{path.name}: {name} is {state[name].tolist()}, config says {want}"


def test_saving_derives_config_tensors_even_when_the_model_holds_other_values(tmp_path):
    model = TinyESPCNRep(RepConfig(scale=2, channels=8, blocks=4, act="leaky", gate="sum", attn_every=4))
    model.attn_every.fill_(2.0)  # what loading an --init file of another grouping left behind
    _, state = read_weights(save_weights(tmp_path / "m-x2.safetensors", model))
    assert state["attn_every"].item() == 4.0


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_shipped_file_loads_through_spandrel_like_our_loader(spandrel, path):
    from safetensors.torch import load_file

    from tinyespcn_nodes.core.tiling import needs_statistics

    ours, info = load_model(path)
    if info.spec.id not in REGISTERED:  # ESPCN/SRCNN baselines: the README says they do not load there
        with pytest.raises(spandrel.UnsupportedModelError):
            spandrel.ModelLoader().load_from_state_dict(load_file(str(path)))
        return
    if needs_statistics(ours):  # ComfyUI's core upscaler would tile it: refused, naming this pack's nodes
        with pytest.raises(ValueError, match=r"needs whole-image statistics.*'Load TinyESPCN Model'"):
            spandrel.ModelLoader().load_from_state_dict(load_file(str(path)))
        return
    desc = spandrel.ModelLoader().load_from_state_dict(load_file(str(path)))
    assert desc.architecture.id == info.spec.id and desc.scale == info.scale
    torch.manual_seed(0)
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert (desc(x) - ours(x).clamp(0, 1)).abs().max().item() < 1e-5  # spandrel clamps


def test_readme_says_which_baselines_the_core_loader_cannot_read():
    text = " ".join((REPO / "README.md").read_text().split())
    assert "ESPCN and SRCNN baselines are not loadable by the core" in text


def test_whole_image_statistics_files_are_the_ones_the_core_loader_refuses_and_the_readme_names_them():
    """The refusal is not a list: it follows the model (TinyESPCN's squeeze-and-excitation gate), so a
    no-attention TinyESPCN file still loads there; the README names every bundled file it refuses."""
    from tinyespcn_nodes.core.tiling import needs_statistics

    refused = sorted(p.stem for p in FILES if needs_statistics(load_model(p)[0]))
    assert refused and "general-x2" not in refused
    text = " ".join((REPO / "README.md").read_text().split())
    assert "needs whole-image statistics" in text and all(name in text for name in refused)
