"""Build any registered architecture from a TrainConfig (`--arch` + its own options); initialise from weights."""

from __future__ import annotations

from torch import nn

from tinyespcn_nodes.core.arch import ArchConfig, by_name, names, spec_of
from tinyespcn_nodes.core.weights import read_weights

from .config import TrainConfig

ARCHITECTURES = tuple(names())


def arch_config(cfg: TrainConfig) -> ArchConfig:
    """The architecture's config: its defaults, then `cfg.model` (passed through untouched), at `cfg.scale`."""
    spec = by_name(cfg.arch)
    allowed = [n for n in spec.config_cls.option_names() if n not in ("scale", "deployed")]
    unknown = sorted(set(cfg.model) - set(allowed))
    if unknown:
        raise ValueError(f"--arch {cfg.arch} has no option(s) {unknown} (its options: {', '.join(allowed) or 'none'})")
    return spec.config_cls.from_dict({**cfg.model, "scale": cfg.scale})


def build_model(cfg: TrainConfig) -> nn.Module:
    """The trainable form (re-parameterised architectures keep their branches; export folds them)."""
    return by_name(cfg.arch).build(arch_config(cfg))


def adopt_init_architecture(cfg: TrainConfig, keep_arch: bool = False) -> TrainConfig:
    """`init` names a file or bundled name: resolve it, and train that file's own architecture and options;
    options already in `cfg.model` still win. With `keep_arch` (an architecture named by the user) a file of
    another architecture lends only its matching tensors; one of the same architecture still gives the
    options the user left out, so `--arch rep --init balanced-x4` trains the file's 9 blocks, not the default."""
    if not cfg.init:
        return cfg
    from tinyespcn_nodes.core.catalog import resolve_weights

    path = resolve_weights(cfg.init, cfg.scale)
    cfg = cfg.updated({"init": str(path)})
    info, _ = read_weights(path)
    if keep_arch and info.spec.name != cfg.arch:
        return cfg
    options = {k: getattr(info.config, k) for k in info.config.option_names() if k not in ("scale", "deployed")}
    return cfg.updated({"arch": info.spec.name, "model": {**options, **cfg.model}})


def init_from(model: nn.Module, path: str) -> list[str]:
    """Copy every tensor whose name and shape match (e.g. an x2 trunk into an x4 model); return what was copied.

    A re-parameterised model is initialised from the training-form tensors of a file exported from it,
    which hold the folded convs: those load into the 3x3 branch, the other branches start at zero effect.
    """
    _, state = read_weights(path)
    own = model.state_dict()
    state = _into_training_form(model, state)
    copied = [k for k, v in state.items() if k in own and own[k].shape == v.shape]
    if not copied:
        raise ValueError(f"{path}: no tensor matches this model; cannot initialise from it")
    model.load_state_dict({**own, **{k: state[k] for k in copied}})
    return copied


def fresh_layers(model: nn.Module, copied: list[str]) -> list[str]:
    """The layers (a re-parameterised block counts as one) that `init_from` gave no tensor to."""
    spec = spec_of(model)
    blocks = spec.fused_blocks(model) if spec.fused_blocks is not None else []

    def layer(key: str) -> str:
        return next((b for b in blocks if key.startswith(b + ".")), key.rpartition(".")[0])

    keys: dict[str, list[str]] = {}
    for key in model.state_dict():
        keys.setdefault(layer(key), []).append(key)
    done = set(copied)
    return [name for name, own in keys.items() if name and done.isdisjoint(own)]


def _into_training_form(model: nn.Module, state: dict) -> dict:
    """The file's (deployed) tensors in `model`'s training form, where its architecture has one."""
    spec = spec_of(model)
    return spec.training_form(model, state) if spec.training_form is not None else dict(state)
