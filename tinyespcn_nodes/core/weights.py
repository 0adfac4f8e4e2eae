"""TinyESPCN weight files: safetensors with self-describing, validated metadata.

A file is accepted only if its header names our architecture and format version, its config rebuilds a
model whose tensor names and shapes match the file exactly, and every tensor is finite. Every refusal is a
`WeightsError` naming the file and the cause. Pickle is never read here (see `convert_pth`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .arch import ArchConfig, ArchSpec, by_id, deployed, spec_of
from .arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from .files import save_safetensors_atomic
from .header import peek_metadata
from .limits import check_config_fields

FORMAT_NAME = "tinyespcn-weights"
FORMAT_VERSION = "1"
LEGACY_BASELINE_FORMAT = "tinyespcn-trainer-baseline"  # ESPCN/SRCNN files of trainer versions before the registry
_LEGACY_BASELINE_IDS = {"espcn": "ESPCN", "srcnn": "SRCNN"}


class WeightsError(ValueError):
    """A weights file that cannot be used; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass
class WeightsInfo:
    path: str
    spec: ArchSpec
    config: ArchConfig
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def scales(self) -> tuple[int, ...]:
        """Every scale the file serves (several for multi-output nets such as the pyramid)."""
        return self.spec.scales(self.config)

    @property
    def architecture(self) -> str:
        return self.spec.id


def save_weights(
    path: str | os.PathLike,
    model: nn.Module,
    training: dict | None = None,
    metrics: dict | None = None,
) -> Path:
    """Write the deployed (folded) fp32 form with metadata atomically (temp file in the same folder + rename)."""
    model = deployed(model)
    spec = spec_of(model)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    tensors.update(derived_tensors(spec, model.config))  # a buffer loaded from an --init file must not win
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": spec.id,
        "scale": str(model.config.scale),
        "config": model.config.to_json(),
        "scales": ",".join(map(str, spec.scales(model.config))),
        "training": json.dumps(training or {}, sort_keys=True),
        "metrics": json.dumps(metrics or {}, sort_keys=True),
    }
    return save_safetensors_atomic(path, tensors, meta)


def derived_tensors(spec: ArchSpec, config: ArchConfig) -> dict[str, torch.Tensor]:
    """The stored tensors that are a function of the config alone: the persistent buffers of a fresh build (our
    architectures keep no learned buffers). A bare state dict (spandrel) reads the config back from them."""
    fresh = spec.build(config)
    buffers = {name for name, _ in fresh.named_buffers()}
    return {k: v.to(torch.float32).contiguous() for k, v in fresh.state_dict().items() if k in buffers}


def _read_json(path: Path, meta: dict, key: str) -> dict:
    try:
        value = json.loads(meta.get(key, "{}"))
    except json.JSONDecodeError as exc:
        raise WeightsError(path, f"metadata '{key}' is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise WeightsError(path, f"metadata '{key}' must be a JSON object")
    return value


def offered_scales(path: str | os.PathLike) -> tuple[int, ...]:
    """The scales a file serves, from its header alone (files written before multi-output nets: `scale`)."""
    meta = peek_metadata(path) or {}
    text = meta.get("scales") or meta.get("scale") or ""
    return tuple(int(v) for v in text.split(",") if v.strip().isdigit())


def describe_foreign(path: str | os.PathLike) -> str | None:
    """None for our own files; else what the file is, for a message (another project's model, no metadata)."""
    meta = peek_metadata(path)
    if meta is None:
        return "not a safetensors file"
    if meta.get("format") in (FORMAT_NAME, LEGACY_BASELINE_FORMAT):
        return None
    arch = meta.get("architecture") or meta.get("modelspec.architecture")
    return f"another project's model ({arch})" if arch else "a safetensors file without TinyESPCN metadata"


def read_weights(path: str | os.PathLike, expected_scale: int | None = None) -> tuple[WeightsInfo, dict]:
    """Validate a file and return (info, state_dict). Raises WeightsError on any problem."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightsError(path, "file not found")
    if path.suffix.lower() in {".pth", ".pt", ".ckpt", ".pkl", ".bin"}:
        raise WeightsError(path, "pickle-based checkpoints are not loaded; run `python -m tinyespcn_nodes convert`")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
            state = {k: f.get_tensor(k) for k in keys}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(path, f"not a readable safetensors file (truncated or corrupt?): {exc}") from None
    spec, config = _spec_and_config(path, meta)
    if meta.get("scale") != str(config.scale):
        raise WeightsError(path, f"metadata scale {meta.get('scale')!r} disagrees with config scale {config.scale}")
    offered = spec.scales(config)
    if expected_scale is not None and expected_scale not in offered:
        shown = "/".join(f"x{s}" for s in offered)
        raise WeightsError(path, f"weights are for {shown}, but x{expected_scale} was requested")
    reference = _reference_state(path, spec, config, state)
    missing, unexpected = set(reference) - set(state), set(state) - set(reference)
    if missing or unexpected:
        raise WeightsError(
            path,
            f"tensor names do not match the config (missing {sorted(missing)[:4]}, "
            f"unexpected {sorted(unexpected)[:4]})",
        )
    for name, ref in reference.items():
        t = state[name]
        if tuple(t.shape) != tuple(ref.shape):
            raise WeightsError(path, f"tensor {name} has shape {tuple(t.shape)}, expected {tuple(ref.shape)}")
        if not t.is_floating_point():
            raise WeightsError(path, f"tensor {name} has non-float dtype {t.dtype}")
        if not torch.isfinite(t).all():
            raise WeightsError(path, f"tensor {name} contains NaN or Inf")
    info = WeightsInfo(str(path), spec, config, _read_json(path, meta, "training"), _read_json(path, meta, "metrics"))
    return info, {k: v.float() for k, v in state.items()}


def _reference_state(path: Path, spec: ArchSpec, config: ArchConfig, state: dict) -> dict:
    """The tensors `config` needs, built on the meta device (no memory), checked against the file's before
    any real model is made: a config claiming more than the file holds is refused by the caller's name and
    shape comparison, having cost no memory."""
    with torch.device("meta"):
        return spec.build(config).state_dict()


def _spec_and_config(path: Path, meta: dict) -> tuple[ArchSpec, ArchConfig]:
    if meta.get("format") == LEGACY_BASELINE_FORMAT:
        arch = _LEGACY_BASELINE_IDS.get(meta.get("architecture", ""))
        if arch is None:
            raise WeightsError(path, f"baseline architecture {meta.get('architecture')!r} is not supported")
        scale = meta.get("scale", "0") or "0"
        if not scale.isdigit():
            raise WeightsError(path, f"metadata scale {scale!r} is not a number")
        meta = {**meta, "architecture": arch, "config": json.dumps({"scale": int(scale)})}
    elif meta.get("format") != FORMAT_NAME:
        raise WeightsError(path, f"metadata 'format' is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    elif meta.get("format_version") != FORMAT_VERSION:
        raise WeightsError(path, f"unsupported format_version {meta.get('format_version')!r}")
    try:
        spec = by_id(meta.get("architecture", ""))
    except ValueError as exc:
        raise WeightsError(path, str(exc)) from None
    try:
        raw = json.loads(meta.get("config", ""))
        check_config_fields(spec.config_cls, raw)  # bounds first: a crafted config never reaches a constructor
        config = spec.config_cls.from_dict(raw)
    except (ValueError, TypeError) as exc:
        raise WeightsError(path, f"invalid model config: {exc}") from None
    return spec, config


def load_model(path: str | os.PathLike, expected_scale: int | None = None) -> tuple[nn.Module, WeightsInfo]:
    """Any registered architecture, validated, in eval mode without gradients."""
    info, state = read_weights(path, expected_scale)
    model = info.spec.build(info.config)
    model.load_state_dict(state)
    if expected_scale is not None and expected_scale != info.config.scale:
        model = model.at_scale(expected_scale)  # a multi-output net answering one of its smaller scales
    return model.eval().requires_grad_(False), info


def convert_pth(src: str | os.PathLike, dst: str | os.PathLike, config: TinyESPCNConfig) -> Path:
    """Convert a seed-style PyTorch state_dict (`tiny_espcn_*.pth`) to our safetensors format.

    Reads with `weights_only=True` (no code execution). Seed names (conv1, conv_layers, ca, conv2) are mapped.
    """
    if not Path(src).is_file():
        raise WeightsError(src, "file not found")
    try:
        raw = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors carry torch's advice to load unsafely: never pass it on
        kind = "it holds objects other than tensors" if "weights_only" in str(exc) else "it is truncated or corrupt"
        raise WeightsError(src, f"not a plain PyTorch state_dict ({kind}); only tensor files are read") from None
    if not isinstance(raw, dict):
        raise WeightsError(src, "expected a state_dict (a mapping of tensor names to tensors)")
    for wrapper in ("state_dict", "model", "params_ema", "params"):
        if wrapper in raw and isinstance(raw[wrapper], dict):
            raw = raw[wrapper]
    mapped = {}
    for key, value in raw.items():
        k = key.removeprefix("module.")
        k = k.replace("conv1.", "feat_in.").replace("conv2.", "to_sub.")
        k = k.replace("ca.fc.0.", "attn.fc_down.").replace("ca.fc.2.", "attn.fc_up.")
        if k.startswith("conv_layers."):
            _, idx, rest = k.split(".", 2)
            k = f"trunk.{int(idx) // 2}.{rest}"
        mapped[k] = value
    model = TinyESPCN(config)
    if config.residual:
        mapped.setdefault("residual_trunk", torch.ones(1))  # our marker buffer; the seed files have none
    try:
        model.load_state_dict(mapped)
    except RuntimeError as exc:
        raise WeightsError(src, f"state_dict does not fit {config}: {exc}") from None
    return save_weights(dst, model, training={"converted_from": Path(src).name})
