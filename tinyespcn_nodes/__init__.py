"""tinyespcn-nodes: TinyESPCN super-resolution for napari and ComfyUI.

This file is also the ComfyUI custom-node entry point: it only exposes the V1 node mappings (relative
imports, nothing heavy at import). Inside ComfyUI a broken import must surface, never hide.
"""

import sys

__version__ = "0.1.0"

try:
    from .hosts.comfy.nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
except ImportError:
    if "folder_paths" in sys.modules:  # running inside ComfyUI: let its loader log the real error
        raise
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = {}, {}

if "folder_paths" in sys.modules:
    from .hosts.comfy.folders import register_weights as _register_weights
    from .hosts.comfy.spandrel_arch import register as _register_spandrel

    _register_spandrel()
    _register_weights()  # the core "Load Upscale Model" lists the bundled files too

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "__version__"]
