"""`python -m trainer export RUN --out OUT --blend-with CLEAN --blend T`: a run's weights mixed with a clean file.

A degradation-trained file restores compressed and noisy inputs but softens clean ones. Mixing its folded
weights with the clean file of the same architecture it was fine-tuned from (exact: folding is linear, the
same rule as the restoration strength in `core/strength.py`) ships one file at a measured point between the
two; `trainer bench --photo-only` prints the faces table the point is chosen from. The metadata records the
mix, and the metrics are re-measured on the blended network.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from tinyespcn_nodes.core.catalog import resolve_weights
from tinyespcn_nodes.core.strength import blend_states, check_strength
from tinyespcn_nodes.core.weights import read_weights


def blend_into(exported: Path, clean: str, t: float) -> tuple[torch.nn.Module, dict]:
    """The network (1 - t)·clean + t·exported, and the metadata entry that says so."""
    t = check_strength(t)
    clean_path = resolve_weights(clean)
    info, state = read_weights(exported)
    clean_info, clean_state = read_weights(clean_path)
    if (clean_info.spec.id, clean_info.config) != (info.spec.id, info.config):
        raise ValueError(f"--blend-with {clean}: {clean_path.name} has another architecture than the run")
    model = info.spec.build(info.config)
    model.load_state_dict(blend_states(clean_state, state, t))
    return model.eval().requires_grad_(False), {"clean": clean_path.name, "t": t}


def export_blended(export, source: Path, out: Path, clean: str, t: float, note: str | None) -> Path:
    """`export(source, tmp)` the run as usual (metadata unmeasured), mix it, measure, write `out` atomically."""
    from tinyespcn_nodes.core.weights import save_weights

    from .export import load_run_config, validation_metrics

    with tempfile.TemporaryDirectory(prefix="tinyespcn-blend-") as tmp:
        raw = export(source, Path(tmp) / "run.safetensors", measure=False, note=note)
        info = read_weights(raw)[0]
        model, mix = blend_into(raw, clean, t)
    training = dict(info.training)
    training["blend"] = mix
    training["command"] = (
        f"{training.get('command', '')}\npython -m trainer export RUNS/{Path(source).name} --blend-with {clean} --blend {t:g}"
    )
    metrics = validation_metrics(model, load_run_config(source))
    metrics["step"] = info.metrics.get("step")
    return save_weights(out, model, training=training, metrics=metrics)
