"""Build any trainable architecture from a TrainConfig; initialise from compatible weights."""

from __future__ import annotations

from torch import nn

from tinyespcn_nodes.model import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.weights import read_weights

from .baselines import ESPCN, SRCNN
from .config import TrainConfig

ARCHITECTURES = ("tinyespcn", "espcn", "srcnn")


def tiny_config(cfg: TrainConfig) -> TinyESPCNConfig:
    return TinyESPCNConfig(
        scale=cfg.scale, channels=cfg.channels, blocks=cfg.blocks, head_kernel=cfg.head_kernel,
        attention=cfg.attention, residual=cfg.residual,
    )  # fmt: skip


def build_model(cfg: TrainConfig) -> nn.Module:
    if cfg.arch == "tinyespcn":
        return TinyESPCN(tiny_config(cfg))
    if cfg.arch == "espcn":
        return ESPCN(cfg.scale)
    if cfg.arch == "srcnn":
        return SRCNN(cfg.scale)
    raise ValueError(f"arch must be one of {ARCHITECTURES}, got {cfg.arch!r}")


def init_from(model: nn.Module, path: str) -> list[str]:
    """Copy every tensor whose name and shape match (e.g. an x2 trunk into an x4 model); return what was copied."""
    _, state = read_weights(path)
    own = model.state_dict()
    copied = [k for k, v in state.items() if k in own and own[k].shape == v.shape]
    if not copied:
        raise ValueError(f"{path}: no tensor matches this model; cannot initialise from it")
    model.load_state_dict({**own, **{k: state[k] for k in copied}})
    return copied
