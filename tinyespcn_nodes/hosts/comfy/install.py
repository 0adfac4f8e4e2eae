"""`install-comfyui`: put this pack into ComfyUI's custom_nodes/ (its weights reach upscale_models from there)."""

from __future__ import annotations

from pathlib import Path

from ...core.catalog import bundled

PACKAGE = Path(__file__).resolve().parents[2]
SHIM_HEAD = '"""Shim installed by `python -m tinyespcn_nodes install-comfyui`'
SHIM = f'''{SHIM_HEAD}: loads the pip-installed pack."""
from tinyespcn_nodes import comfy_entrypoint  # noqa: F401 (ComfyUI's V3 entry)
'''


def install(comfyui: Path, link: bool = True) -> list[str]:
    custom = comfyui / "custom_nodes"
    if not custom.is_dir():
        raise FileNotFoundError(f"{comfyui} is not a ComfyUI folder (no custom_nodes/ inside)")
    done = []
    target = custom / "tinyespcn_nodes"
    shim = target / "__init__.py"
    text = shim.read_text() if not target.is_symlink() and shim.is_file() else ""
    if text.startswith(SHIM_HEAD) and text != SHIM:
        shim.write_text(SHIM)  # a shim of an older release (V1 mappings) would no longer import
        done.append(f"updated shim {shim}")
    elif target.exists() or target.is_symlink():
        done.append(f"kept existing {target}")
    elif link:
        target.symlink_to(PACKAGE, target_is_directory=True)
        done.append(f"linked {target} -> {PACKAGE}")
    else:
        target.mkdir()
        (target / "__init__.py").write_text(SHIM)
        done.append(f"wrote shim {target / '__init__.py'} (imports the installed package)")
    # no weights are linked or copied into models/upscale_models: when ComfyUI loads the pack it adds the
    # pack's own weights folder there (hosts/comfy/folders.py), and a second copy would list each file twice
    done.append(f"{len(bundled())} bundled models: listed by ComfyUI's core loader from the pack's own folder")
    return done
