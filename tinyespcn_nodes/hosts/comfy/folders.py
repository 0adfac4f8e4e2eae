"""Show the bundled weights to ComfyUI's core "Load Upscale Model": add their folder to `upscale_models`.

Called at pack import inside ComfyUI, for every install route (a clone, a symlinked package, a pip install
with the `install-comfyui` shim). ComfyUI lists files of added folders recursively, so `baselines/` shows
too; the ESPCN/SRCNN baselines there are not loadable by the core node (the README says so).
"""

from __future__ import annotations

FOLDER = "upscale_models"


def register_weights() -> list[str]:
    """Add each bundled weights folder to ComfyUI's upscale_models once; returns the folders added."""
    import folder_paths

    from ...core.catalog import weights_dirs

    add = getattr(folder_paths, "add_model_folder_path", None)
    if add is None:  # a ComfyUI too old to add model folders: `install-comfyui` links the files instead
        return []
    added = []
    for d in weights_dirs():
        add(FOLDER, str(d))
        added.append(str(d))
    return added
