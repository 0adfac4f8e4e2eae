"""`install-comfyui`: put this pack into ComfyUI's custom_nodes/ and its weights into models/upscale_models/."""

from __future__ import annotations

import shutil
from pathlib import Path

from ...core.catalog import bundled

PACKAGE = Path(__file__).resolve().parents[2]
SHIM = '''"""Shim installed by `python -m tinyespcn_nodes install-comfyui`: loads the pip-installed pack."""
from tinyespcn_nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS  # noqa: F401
'''


def install(comfyui: Path, link: bool = True) -> list[str]:
    custom = comfyui / "custom_nodes"
    if not custom.is_dir():
        raise FileNotFoundError(f"{comfyui} is not a ComfyUI folder (no custom_nodes/ inside)")
    done = []
    target = custom / "tinyespcn_nodes"
    if target.exists() or target.is_symlink():
        done.append(f"kept existing {target}")
    elif link:
        target.symlink_to(PACKAGE, target_is_directory=True)
        done.append(f"linked {target} -> {PACKAGE}")
    else:
        target.mkdir()
        (target / "__init__.py").write_text(SHIM)
        done.append(f"wrote shim {target / '__init__.py'} (imports the installed package)")
    models = comfyui / "models" / "upscale_models"
    models.mkdir(parents=True, exist_ok=True)
    for name, path in bundled().items():
        dst = models / f"tinyespcn-{name}.safetensors"
        if dst.exists() or dst.is_symlink():
            continue
        if link:
            dst.symlink_to(path)
        else:
            shutil.copy2(path, dst)
        done.append(f"{'linked' if link else 'copied'} {dst}")
    return done
