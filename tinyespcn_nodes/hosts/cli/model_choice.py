"""`upscale`'s model choice: the scale a `--weights` file implies, the name it is shown under, the output tag.

`--weights general-x4` alone runs x4 (the file's scale); a `--scale` the file does not serve is refused in
one line; a bare family name (`fast`) takes `--scale` (default 2). Outputs of the default model are named
`STEM_xS.EXT`; any other model adds its name (`STEM_xS_fast-x2.EXT`), so two models never share a name.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_SCALE = 2


def _specific_file(weights: str | None) -> Path | None:
    """The one file `weights` names on its own (a path or a bundled `name-xN`), else None (a family, or none)."""
    from ...core.catalog import resolve_weights

    if not weights:
        return None
    try:
        return resolve_weights(weights)
    except FileNotFoundError:
        if Path(weights).suffix == ".safetensors" or "/" in weights:
            raise
        return None  # a family name (`fast`): the scale picks its file


def pick_scale(weights: str | None, scale: int | None, factor: float | None) -> int:
    """The model scale to run: from `--factor`, else `--scale`, else the weights file's own scale, else 2."""
    from ...core.weights import offered_scales
    from ...engine.job import scale_for_factor

    path = _specific_file(weights)
    served = offered_scales(path) if path is not None else ()
    if factor:
        return scale_for_factor(factor)
    if scale is None:
        return max(served) if served else DEFAULT_SCALE
    if served and scale not in served and not (scale == 8 and 2 in served):
        shown = "/".join(f"x{s}" for s in served)
        raise ValueError(f"--scale {scale} conflicts with --weights {weights} (a {shown} model); leave out --scale")
    return scale


def model_name(weights: str | None, scale: int) -> str:
    """What the user gets, as they would name it: `general-x4`, `fast-x2`, or a weights file's stem."""
    from ...core.catalog import bundled, bundled_name, default_name, resolve_weights

    if not weights:
        return default_name(scale)
    path = resolve_weights(weights, 2 if scale == 8 and "-x" not in str(weights) else scale)
    if path.suffix == ".safetensors" and Path(str(weights)).suffix == ".safetensors":
        return path.stem
    return bundled_name(path.stem, bundled()) or path.stem


def model_label(name: str, passes: int) -> str:
    return f"{name} ×{passes}" if passes > 1 else name


def output_tag(name: str, scale: float, default_scale: int) -> str:
    """`x2` for the default model of the scale, `x2_fast-x2` for any other (so their outputs never collide)."""
    from ...core.catalog import default_name

    return f"x{scale:g}" if name == default_name(default_scale) else f"x{scale:g}_{name}"
