"""ComfyUI entry point of a git clone of this repository (ComfyUI-Manager, the Comfy Registry, `git clone` into
custom_nodes/): ComfyUI imports this folder as a package under a path-mangled name; the node pack is the
`tinyespcn_nodes` package beside this file. Inside ComfyUI it hands on the pack's V3 `comfy_entrypoint`, and
the pack adds the bundled weights to ComfyUI's upscale_models.

Outside ComfyUI nothing here may break an import: pytest imports this file while collecting (as a plain
top-level module when the folder name is not an identifier, e.g. `tinyespcn-nodes`). Inside ComfyUI an
import error must surface in its log, never load as an empty pack.
"""

import importlib
import sys

if __package__:  # a package (ComfyUI's load_custom_node): the pack in this folder, whatever is installed
    _pack = importlib.import_module(".tinyespcn_nodes", __package__)
else:  # a plain module (pytest): the importable copy, if any
    try:
        _pack = importlib.import_module("tinyespcn_nodes")
    except ImportError:
        if "folder_paths" in sys.modules:
            raise
        _pack = None

__all__ = []
if hasattr(_pack, "comfy_entrypoint"):  # inside ComfyUI
    comfy_entrypoint = _pack.comfy_entrypoint
    __all__ += ["comfy_entrypoint"]
