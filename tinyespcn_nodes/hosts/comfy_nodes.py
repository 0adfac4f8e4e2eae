"""ComfyUI V1 nodes. Host modules (`comfy.*`, `folder_paths`) and torch are imported inside the calls, so
this module imports nothing heavy and loads without ComfyUI (tests fake the host modules)."""

from __future__ import annotations

from dataclasses import dataclass

MODEL_TYPE = "TINYESPCN_MODEL"
UPSCALING = "image/upscaling"
POSTPROCESSING = "image/postprocessing"


@dataclass(frozen=True)
class ModelHandle:
    """What flows between nodes: where the weights are and how to run them (loaded lazily, cached)."""

    path: str
    scale: int
    device: str  # "auto" = ComfyUI's torch device
    fp16: bool


def _weight_choices() -> list[str]:
    from ..core.catalog import bundled

    names = sorted(bundled())
    try:
        import folder_paths

        names += [f for f in folder_paths.get_filename_list("upscale_models") if f.endswith(".safetensors")]
    except ImportError:
        pass
    return names or ["general-x2"]


def _resolve_choice(choice: str):
    from ..core.catalog import bundled, resolve_weights

    if choice in bundled():
        return bundled()[choice]
    try:
        import folder_paths

        return folder_paths.get_full_path_or_raise("upscale_models", choice)
    except ImportError:
        return resolve_weights(choice)


def _device_choices() -> list[str]:
    """Only devices this machine has (a CUDA entry without CUDA would fail later, at the upscale node)."""
    import torch

    return ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _host():
    """(torch device, intermediate device, intermediate dtype, oom exception class) from ComfyUI or defaults."""
    import torch

    try:
        import comfy.model_management as mm
    except ImportError:
        return torch.device("cpu"), torch.device("cpu"), torch.float32, torch.OutOfMemoryError
    dtype = mm.intermediate_dtype() if hasattr(mm, "intermediate_dtype") else torch.float32
    return mm.get_torch_device(), mm.intermediate_device(), dtype, getattr(mm, "OOM_EXCEPTION", torch.OutOfMemoryError)


def _progress_bar(total: int):
    try:
        import comfy.utils

        return comfy.utils.ProgressBar(total)
    except ImportError:
        return None


class TinyESPCNModelLoader:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "weights": (_weight_choices(),),
            "device": (_device_choices(), {"default": "auto"}),
            "fp16": ("BOOLEAN", {"default": False}),
        }}  # fmt: skip

    RETURN_TYPES = (MODEL_TYPE,)
    RETURN_NAMES = ("model",)
    FUNCTION = "load"
    CATEGORY = UPSCALING
    DESCRIPTION = "Load TinyESPCN weights (bundled or from models/upscale_models)."

    def load(self, weights: str, device: str = "auto", fp16: bool = False):
        from ..core.weights import read_weights

        path = _resolve_choice(weights)
        if device != "auto":
            _checked_device(device)  # raises a clear message now, not an AssertionError at the upscale node
        info, _ = read_weights(path)  # validate now so a bad file fails at the loader node
        return (ModelHandle(str(path), info.scale, device, fp16),)


class TinyESPCNUpscale:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE",),
            "model": (MODEL_TYPE,),
            "tile_size": ("INT", {"default": -1, "min": -1, "max": 8192, "step": 8,
                                  "tooltip": "LR tile side; -1 = auto (the largest that fits the memory budget: a quarter of free VRAM on CUDA), 0 = whole image. Halved automatically on out-of-memory."}),
            "overlap": ("INT", {"default": 0, "min": 0, "max": 256,
                                "tooltip": "Extra LR context around each tile. The model's own context (its receptive radius) is always added, so tiles are exact at 0."}),
        }}  # fmt: skip

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = UPSCALING
    DESCRIPTION = "Upscale every frame with TinyESPCN (RGBA: alpha resized bicubic)."

    def upscale(self, image, model: ModelHandle, tile_size: int = -1, overlap: int = 0):
        from ..core.devices import get_model, release
        from ..core.tiling import context_margin

        device, _, _, _ = _host()
        if model.device != "auto":
            device = _checked_device(model.device)
        net = get_model(model.path, model.scale, device, model.fp16)
        margin = max(overlap, context_margin(net))
        try:
            return (_run_pipeline(image, [net], device, tile=tile_size, margin=margin),)
        finally:
            release(device)


class TinyESPCNUnsharpMask:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE",),
            "radius": ("FLOAT", {"default": 1.2, "min": 0.0, "max": 50.0, "step": 0.1}),
            "percent": ("INT", {"default": 100, "min": 0, "max": 500, "step": 1}),
            "threshold": ("INT", {"default": 1, "min": 0, "max": 255, "step": 1}),
        }}  # fmt: skip

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "apply"
    CATEGORY = POSTPROCESSING
    DESCRIPTION = "Pillow-compatible unsharp mask (threshold in 8-bit levels; alpha untouched)."

    def apply(self, image, radius: float = 1.2, percent: int = 100, threshold: int = 1):
        from ..core.pipeline import PostProcess

        post = PostProcess(sharpen=True, radius=radius, percent=percent, threshold=threshold)
        return (_run_pipeline(image, [], _host()[0], post=post),)


class TinyESPCNMSAA:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE",),
            "supersample": ("INT", {"default": 2, "min": 1, "max": 4, "step": 1}),
            "blur_radius": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 5.0, "step": 0.05}),
        }}  # fmt: skip

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "apply"
    CATEGORY = POSTPROCESSING
    DESCRIPTION = "MSAA-style anti-alias: Lanczos up, Gaussian blur, Lanczos down (tiled)."

    def apply(self, image, supersample: int = 2, blur_radius: float = 0.5):
        from ..core.pipeline import PostProcess

        post = PostProcess(antialias=True, supersample=supersample, blur_radius=blur_radius)
        return (_run_pipeline(image, [], _host()[0], post=post),)


def _checked_device(name: str):
    from ..core.devices import pick_device

    return pick_device(name)


def _run_pipeline(image, models, device, **options):
    """IMAGE [B,H,W,C] float → the core pipeline (same as the CLI and napari) → IMAGE in ComfyUI's dtype.

    ComfyUI's float images come from 8-bit files and go back to them, so the filters round to the 8-bit
    grid between their stages exactly as the CLI does for a uint8 PNG (`levels=255`).
    """
    import torch

    from ..core.pipeline import process_bchw, progress_total

    _, out_device, out_dtype, _ = _host()
    x = image.movedim(-1, 1).to(device)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    pbar = _progress_bar(progress_total(tuple(x.shape), models, options.get("tile", 0)))
    on_tile = (lambda done, total: pbar.update(1)) if pbar is not None else None
    out = process_bchw(x, models, on_tile=on_tile, out_dtype=torch.float32, levels=255, **options)
    return out.movedim(1, -1).to(out_device, out_dtype)


NODE_CLASS_MAPPINGS = {
    "TinyESPCN_ModelLoader": TinyESPCNModelLoader,
    "TinyESPCN_Upscale": TinyESPCNUpscale,
    "TinyESPCN_UnsharpMask": TinyESPCNUnsharpMask,
    "TinyESPCN_MSAA": TinyESPCNMSAA,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "TinyESPCN_ModelLoader": "Load TinyESPCN Model",
    "TinyESPCN_Upscale": "Upscale Image (TinyESPCN)",
    "TinyESPCN_UnsharpMask": "Unsharp Mask (TinyESPCN)",
    "TinyESPCN_MSAA": "MSAA Anti-alias (TinyESPCN)",
}
