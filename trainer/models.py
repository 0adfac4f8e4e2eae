"""Build any trainable architecture from a TrainConfig; initialise from compatible weights."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.weights import WeightsError, load_model, read_weights, save_safetensors_atomic

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
    if cfg.arch == "rep":
        from tinyespcn_nodes.core.arch.rep import RepConfig, TinyESPCNRep

        return TinyESPCNRep(RepConfig(scale=cfg.scale, channels=cfg.channels, blocks=cfg.blocks))
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


BASELINE_FORMAT = "tinyespcn-trainer-baseline"


def save_baseline(
    path: str | Path, model: nn.Module, arch: str, scale: int, training: dict | None = None, metrics: dict | None = None
) -> Path:
    """ESPCN/SRCNN weights as safetensors (the plugin does not load these; the benchmark does)."""
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": BASELINE_FORMAT,
        "architecture": arch,
        "scale": str(scale),
        "training": json.dumps(training or {}, sort_keys=True),
        "metrics": json.dumps(metrics or {}, sort_keys=True),
    }
    return save_safetensors_atomic(path, tensors, meta)


def load_any(path: str | Path) -> tuple[nn.Module, str, int, dict]:
    """(model in eval mode, architecture, scale, {"metrics", "training"}) for TinyESPCN or a trainer baseline file."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise WeightsError(path, f"not a readable safetensors file ({exc})") from None
    if meta.get("format") != BASELINE_FORMAT:
        model, info = load_model(path)
        return model.eval(), "tinyespcn", info.scale, {"metrics": info.metrics, "training": info.training}
    arch, scale = meta.get("architecture", ""), int(meta.get("scale", "0"))
    if arch not in ("espcn", "srcnn") or scale not in (2, 3, 4):
        raise WeightsError(path, f"baseline architecture {arch!r} at scale {scale} is not supported")
    model = build_model(TrainConfig(arch=arch, scale=scale))
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as exc:
        raise WeightsError(path, f"tensors do not fit {arch} x{scale}: {exc}") from None
    return (
        model.eval(),
        arch,
        scale,
        {"metrics": json.loads(meta.get("metrics", "{}")), "training": json.loads(meta.get("training", "{}"))},
    )
