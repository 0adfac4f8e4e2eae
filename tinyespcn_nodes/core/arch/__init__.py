"""The architecture registry: one module per network, one line here each (BasicSR's ARCH_REGISTRY in spirit).

A spec is looked up by the weights file's `architecture` id, by the trainer's `--arch` name, by a built
model's class, or by its tensor names (spandrel detection). Nothing outside this package branches on an
architecture.
"""

from __future__ import annotations

from torch import nn

from . import espcn, pyramid, rep, srcnn, tinyespcn
from .spec import SUPPORTED_SCALES, ArchConfig, ArchSpec, count_parameters, macs_per_lr_pixel

SPECS: tuple[ArchSpec, ...] = (tinyespcn.SPEC, rep.SPEC, pyramid.SPEC, espcn.SPEC, srcnn.SPEC)

__all__ = ["SPECS", "SUPPORTED_SCALES", "ArchConfig", "ArchSpec", "by_id", "by_name", "count_parameters",
           "deployed", "macs_per_lr_pixel", "names", "spec_of"]  # fmt: skip


def names() -> list[str]:
    return [s.name for s in SPECS]


def by_name(name: str) -> ArchSpec:
    for s in SPECS:
        if s.name == name:
            return s
    raise ValueError(f"unknown architecture {name!r} (choose from {', '.join(names())})")


def by_id(arch_id: str) -> ArchSpec:
    for s in SPECS:
        if s.id == arch_id:
            return s
    raise ValueError(f"unknown architecture {arch_id!r} (known: {', '.join(s.id for s in SPECS)})")


def spec_of(model: nn.Module) -> ArchSpec:
    for s in SPECS:
        if isinstance(model.config, s.config_cls) and type(model.config) is s.config_cls:
            return s
    raise ValueError(f"{type(model).__name__} is not a registered architecture")


def deployed(model: nn.Module) -> nn.Module:
    """The inference form: re-parameterised models folded, every other model as it is."""
    fold = getattr(model, "deploy", None)
    return fold() if callable(fold) else model
