"""What every architecture declares (spandrel's descriptor, BasicSR's registry entry), and the counts derived from it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

SUPPORTED_SCALES = (2, 3, 4)


@dataclass(frozen=True)
class ArchConfig:
    """Base of every architecture's config: a frozen dataclass with a `scale`, stored as JSON in weights files."""

    scale: int = 2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.scale not in SUPPORTED_SCALES:
            raise ValueError(f"scale must be one of {SUPPORTED_SCALES}, got {self.scale!r}")

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, raw: dict):
        if not isinstance(raw, dict):
            raise ValueError("model config must be a JSON object")
        unknown = set(raw) - set(cls.option_names())
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**raw)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class ArchSpec:
    """One registered network. `model_cls(config)` builds it; the model exposes `scale` and `receptive_radius`.

    `global_stats`: the model needs whole-image statistics (the tiler then runs its statistics pass through
    `model.statistics` / `model.forward_with_stats`); ComfyUI's core loader refuses such files, as its
    upscaler would tile them (hosts/comfy/spandrel_arch.py).
    `deploy`: models with a training form (re-parameterised branches) are folded by `model.deploy()` on export.
    """

    id: str  # the weights file's "architecture" metadata value
    name: str  # `--arch` in the trainer
    config_cls: type[ArchConfig]
    model_cls: Callable[..., nn.Module]
    description: str
    detect_keys: tuple[str, ...]  # tensor names that identify a state dict as this architecture
    detect_shapes: tuple[
        tuple[str, tuple[int | None, ...]], ...
    ] = ()  # (name, shape; None = any) look-alikes differ by
    config_from_state: Callable[[dict], ArchConfig] | None = None
    global_stats: bool = False
    supports_half: bool = True
    supports_bfloat16: bool = True
    runs_at_hr: bool = False  # SRCNN-style: the network runs on the bicubic-upscaled image
    baseline: bool = False  # a published reference re-trained for comparison, not a product model
    describe: Callable[[ArchConfig], str] | None = None  # one line for the model card (default: description + config)
    offers: Callable[[ArchConfig], tuple[int, ...]] | None = None  # multi-output nets: every scale a file serves
    # a deployed state dict → the training form of `model` (re-parameterised nets), for fine-tuning from a file
    training_form: Callable[[nn.Module, dict], dict] | None = None
    # names of the modules that count as one layer each (a re-parameterised block and its branches)
    fused_blocks: Callable[[nn.Module], list[str]] | None = None
    # (label, model) rows `info` shows besides the bundled files (e.g. the seed's own configs)
    showcase: Callable[[], list[tuple[str, nn.Module]]] | None = None

    def scales(self, config: ArchConfig) -> tuple[int, ...]:
        """The scales a file of this config serves (`config.scale` only, unless the net has several outputs)."""
        return self.offers(config) if self.offers is not None else (config.scale,)

    def build(self, config: ArchConfig) -> nn.Module:
        return self.model_cls(config)

    def detect(self, state: dict) -> bool:
        """This architecture's tensor names are all there, with the shapes `detect_shapes` asks for (so
        look-alike nets such as ESPCN and SRCNN, same names, different kernels, tell apart)."""
        if not all(k in state for k in self.detect_keys):
            return False
        return all(_shape_fits(state.get(k), want) for k, want in self.detect_shapes)

    def summary(self, config: ArchConfig) -> str:
        if self.describe is not None:
            return self.describe(config)
        return f"{self.id}: {self.description}"


def _shape_fits(tensor, want: tuple[int | None, ...]) -> bool:
    shape = tuple(getattr(tensor, "shape", ()))
    return len(shape) == len(want) and all(w is None or w == n for w, n in zip(want, shape))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def macs_per_lr_pixel(model: nn.Module, size: int = 24) -> int:
    """Multiply-accumulates per LR pixel of every conv / linear layer, counted with hooks on one forward pass.

    Element-wise work (activations, attention gates, skips, the bicubic of a bicubic skip) is not counted.
    """
    total = [0]

    def hook(module: nn.Module, inputs, output) -> None:
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, nn.Linear):
            total[0] += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        p = next(model.parameters())
        model(torch.zeros(1, 3, size, size, device=p.device))
    finally:
        for h in handles:
            h.remove()
    return round(total[0] / (size * size))
