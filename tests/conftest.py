from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.shared import shared_root
from tinyespcn_nodes.core.weights import save_weights

REPO = Path(__file__).resolve().parent.parent
SHARED = shared_root()


def interrupt_on_call(real, n: int):
    """`real`, wrapped to raise KeyboardInterrupt (a Ctrl-C) on its n-th call."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapper


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


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "LSDIR" / "0001000"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        yy, xx = np.mgrid[0:64, 0:72]
        img = np.stack([np.sin(xx / (3 + i)) * 0.5 + 0.5, np.cos(yy / 4) * 0.5 + 0.5, rng.random((64, 72))], -1)
        Image.fromarray((img * 255).astype(np.uint8)).save(root / f"{i:07d}.png")
    (root / "0000009.png").write_bytes(b"not a png")  # corrupt: skipped and reported
    return tmp_path / "LSDIR"
