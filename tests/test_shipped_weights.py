"""The files in weights/: they load, the model card describes exactly them, and their stored Set5 PSNR is real."""

import re

import pytest
import torch
from conftest import REPO, shared_path

from tinyespcn_nodes.core.catalog import bundled
from tinyespcn_nodes.core.weights import load_model
from trainer.bench_sets import load_set
from trainer.evaluate import score
from trainer.model_card import sha256

SHIPPED = sorted(p for p in (REPO / "weights").glob("*.safetensors") if re.search(r"-x\d$", p.stem))
CARD = REPO / "weights" / "MODEL_CARD.md"


def test_every_shipped_file_is_bundled_and_loads():
    assert SHIPPED, "no weights in weights/"
    names = bundled()
    for path in SHIPPED:
        assert path.stem in names
        model, info = load_model(path)
        assert path.stem.endswith(f"-x{info.scale}")
        assert info.training.get("command", "").startswith("python -m trainer")
        assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8 * info.scale, 8 * info.scale)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_model_card_matches_the_file_metadata(path):
    text = CARD.read_text()
    _, info = load_model(path)
    row = next((line for line in text.splitlines() if line.startswith(f"| {path.name} |")), None)
    assert row is not None, f"{path.name} is not in the model card"
    assert f"`{sha256(path)[:16]}`" in row, "the card describes a different file (sha256 differs)"
    for key, value in info.metrics.items():
        if key != "step":
            assert f"{key} {value}" in row
    assert f"| {info.training['steps']} |" in row


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_stored_set5_psnr_is_reproduced(path):
    shared_path("data/benchmarks/Set5")
    model, info = load_model(path)
    key = f"Set5_x{info.scale}_psnr_y"
    assert key in info.metrics
    got = score(model.eval(), load_set("Set5", info.scale), info.scale, with_ssim=False)["psnr"]
    assert abs(got - info.metrics[key]) <= 0.02, f"{path.name}: {got:.3f} dB measured, {info.metrics[key]} stored"


def test_promoted_names_resolve_and_the_tier_text_matches_each_general_file():
    """A balanced file promoted to `general-xN` leaves the seed file as `seed-xN`; the old name still loads it."""
    from tinyespcn_nodes.core.catalog import RENAMED, TIERS, resolve_weights
    from tinyespcn_nodes.core.weights import read_weights

    for old, new in RENAMED.items():
        assert old not in bundled() and resolve_weights(old) == resolve_weights(new)
    arch = {s: read_weights(resolve_weights(f"general-x{s}"))[0].spec.name for s in (2, 3, 4)}
    assert arch == {2: "rep", 3: "tinyespcn", 4: "tinyespcn"}, arch  # what TIERS["general"] says
    assert TIERS["general"].startswith("default: TinyESPCN-Rep ≤100k MACs/px at x2, seed config ~390k at x3/x4")
    for s in (2, 3, 4):
        assert read_weights(resolve_weights(f"seed-x{s}"))[0].spec.name == "tinyespcn"
