from pathlib import Path

import numpy as np
import pytest
import torch

from tinyespcn_nodes.model import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.weights import save_weights

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def shared_path(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f"../shared/{rel} not available")
    return p


@pytest.fixture
def small_model() -> TinyESPCN:
    torch.manual_seed(0)
    return TinyESPCN(TinyESPCNConfig(scale=2, channels=16, blocks=3)).eval()


@pytest.fixture
def weights_file(tmp_path) -> Path:
    torch.manual_seed(1)
    model = TinyESPCN(TinyESPCNConfig(scale=2, channels=16, blocks=3))
    return save_weights(tmp_path / "tiny-x2.safetensors", model, training={"note": "test"})


@pytest.fixture
def portrait_u8() -> np.ndarray:
    from PIL import Image

    return np.array(Image.open(REPO / "tinyespcn_nodes" / "data" / "astronaut.png").convert("RGB"))
