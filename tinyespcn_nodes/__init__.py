"""tinyespcn-nodes: TinyESPCN super-resolution for napari and ComfyUI.

This file is also the ComfyUI custom-node entry point. Inside ComfyUI (its `folder_paths` is loaded) it
exposes the V3 `comfy_entrypoint` (relative imports; a broken import surfaces in ComfyUI's log, never as an
empty pack), registers the spandrel architectures and adds the bundled weights to `upscale_models`. Outside
ComfyUI it imports nothing. There is no `NODE_CLASS_MAPPINGS`: ComfyUI 0.3.64 would take that V1 route first.
"""

import sys

__version__ = "0.1.0"
__all__ = ["__version__"]

if "folder_paths" in sys.modules:  # running inside ComfyUI
    from .hosts.comfy.folders import register_weights as _register_weights
    from .hosts.comfy.nodes import comfy_entrypoint
    from .hosts.comfy.spandrel_arch import register as _register_spandrel

    _register_spandrel()
    _register_weights()  # the core "Load Upscale Model" lists the bundled files too
    __all__ += ["comfy_entrypoint"]
