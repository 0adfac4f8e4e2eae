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
    precision: str  # auto | fp32 | bf16 | fp16 (core.devices.PRECISIONS)
    strength: float = 1.0  # photo files: restoration strength 0-1 (core/strength.py)


INSTALL_PREFIX = "tinyespcn-"  # what `install-comfyui` puts before the bundled names in upscale_models


def _upscale_model_files() -> dict[str, str]:
    """filename → full path of every .safetensors file in ComfyUI's upscale_models (empty outside ComfyUI)."""
    try:
        import folder_paths
    except ImportError:
        return {}
    names = [f for f in folder_paths.get_filename_list("upscale_models") if f.endswith(".safetensors")]
    return {f: folder_paths.get_full_path_or_raise("upscale_models", f) for f in names}


def _canonical(filename: str) -> str:
    """`tinyespcn-general-x2.safetensors` (install-comfyui) and `general-x2.safetensors` (copied) → `general-x2`."""
    stem = filename.removesuffix(".safetensors")
    base = stem.removeprefix(INSTALL_PREFIX)
    return base if "/" not in base and base.rsplit("-x", 1)[-1].isdigit() else filename


def _catalog() -> dict[str, str]:
    """choice → path: each model once. Bundled names win; upscale_models adds only files whose header says
    they are ours (another project's ESRGAN or a VGG file would only fail at the loader)."""
    from ..core.catalog import bundled
    from ..core.weights import describe_foreign

    table = {name: str(path) for name, path in bundled().items()}
    for filename, path in sorted(_upscale_model_files().items()):
        name = _canonical(filename)
        if name not in table and describe_foreign(path) is None:
            table[name] = path
    return table


def _weight_choices() -> list[str]:
    return sorted(_catalog()) or ["general-x2"]


def _resolve_choice(choice: str):
    from ..core.catalog import bundled_name, resolve_weights
    from ..core.weights import describe_foreign

    table = _catalog()
    name = bundled_name(choice, table)
    if name:
        return table[name]
    files = _upscale_model_files()
    if choice in files:  # a workflow naming a file we do not list: say what it is
        what = describe_foreign(files[choice])
        raise ValueError(
            f"{choice}: {what}; this loader reads TinyESPCN files only, use the core 'Load Upscale Model' node"
        )
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
            "weights": (_weight_choices(), {"tooltip": "Bundled tiers (general = the default, the best measured file per scale; seed = seed config; balanced ≤100k MACs/px, fast ≤25k, portrait = faces, balanced-portrait = faces at the balanced cost) and TinyESPCN files in models/upscale_models."}),
            "device": (_device_choices(), {"default": "auto", "tooltip": "auto = ComfyUI's device; only devices this machine has are listed."}),
            "precision": (["auto", "fp32", "bf16", "fp16"], {"default": "auto", "tooltip": "auto = fp16 on CUDA (a tile that overflows is redone in fp32), bf16 on CPUs with native bf16, else fp32; measured cost ≤ 0.02 dB on Set5/Set14."}),
        }, "optional": {
            "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05, "tooltip": "photo-x2 / photo-x4 only: restoration strength, 0 = the clean model (general-x2 / balanced-x4), 1 = full JPEG/noise/blur removal; the weights are mixed, the cost stays the same."}),
        }}  # fmt: skip

    @classmethod
    def VALIDATE_INPUTS(cls, weights: str):
        """Replaces ComfyUI's list check for `weights` only, so saved workflows that name a renamed file
        (`balanced-x2`, now `general-x2`) still run; any name the loader cannot resolve is refused here."""
        try:
            _resolve_choice(weights)
        except (FileNotFoundError, ValueError) as e:
            return str(e)
        return True

    RETURN_TYPES = (MODEL_TYPE,)
    RETURN_NAMES = ("model",)
    FUNCTION = "load"
    CATEGORY = UPSCALING
    DESCRIPTION = "Load TinyESPCN weights (bundled or from models/upscale_models)."

    def load(self, weights: str, device: str = "auto", precision: str = "auto", strength: float = 1.0):
        from ..core.devices import PRECISIONS
        from ..core.weights import read_weights

        path = _resolve_choice(weights)
        if device != "auto":
            _checked_device(device)  # raises a clear message now, not an AssertionError at the upscale node
        info, _ = read_weights(path)  # validate now so a bad file fails at the loader node
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if strength != 1.0:
            from ..core.strength import check_strength, clean_partner

            if clean_partner(path) is None:
                raise ValueError(f"{weights}: strength below 1 applies to the photo models (photo-x2, photo-x4) only")
            check_strength(strength)
        return (ModelHandle(str(path), info.scale, device, precision, float(strength)),)


class TinyESPCNUpscale:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "Images to upscale (every frame of the batch; RGBA alpha is resized bicubic)."}),
            "model": (MODEL_TYPE, {"tooltip": "From 'Load TinyESPCN Model'."}),
            "tile_size": ("INT", {"default": -1, "min": -1, "max": 8192, "step": 8,
                                  "tooltip": "LR tile side; -1 = auto (the largest that fits the memory budget: a quarter of free VRAM on CUDA), 0 = whole image. Halved automatically on out-of-memory."}),
            "overlap": ("INT", {"default": 0, "min": 0, "max": 256,
                                "tooltip": "Extra LR context around each tile. The model's own context (its receptive radius) is always added, so tiles are exact at 0."}),
        }, "optional": {
            "scale_by": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 8.0, "step": 0.05,
                                   "tooltip": "Any factor (e.g. 1.5, 2.5; 0 = the model's own scale): the fewest model passes that reach it, then an exact Lanczos resize inside the same tile loop."}),
        }}  # fmt: skip

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    CATEGORY = UPSCALING
    DESCRIPTION = "Upscale every frame with TinyESPCN (RGBA: alpha resized bicubic)."

    def upscale(self, image, model: ModelHandle, tile_size: int = -1, overlap: int = 0, scale_by: float = 0.0):
        import math

        from ..core.devices import get_model, release
        from ..core.tiling import check_tile, context_margin
        from ..core.weights import offered_scales

        device, _, _, _ = _host()
        if model.device != "auto":
            device = _checked_device(model.device)
        scale = model.scale
        if scale_by > 1:  # a multi-output file (the pyramid) answers the smallest of its scales that reaches it
            scale = min((s for s in offered_scales(model.path) if s >= scale_by), default=scale)
        net = get_model(model.path, scale, device, model.precision, model.strength)
        check_tile(tile_size, net, "tile_size")
        margin = max(overlap, context_margin(net))
        models, factor = [net], None
        if scale_by and scale_by != net.scale:
            if scale_by <= 1:
                raise ValueError(f"scale_by must be 0 (the model's scale) or above 1, got {scale_by}")
            models = [net] * max(1, math.ceil(math.log(scale_by) / math.log(net.scale) - 1e-9))
            factor = scale_by
        try:
            return (_run_pipeline(image, models, device, tile=tile_size, margin=margin, factor=factor),)
        finally:
            release(device)


class TinyESPCNUnsharpMask:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "Images to sharpen (alpha untouched)."}),
            "radius": ("FLOAT", {"default": 1.2, "min": 0.0, "max": 50.0, "step": 0.1, "tooltip": "Gaussian blur radius in pixels (Pillow's UnsharpMask radius)."}),
            "percent": ("INT", {"default": 100, "min": 0, "max": 500, "step": 1, "tooltip": "Strength: how much of the detail (image − blur) is added back, in percent."}),
            "threshold": ("INT", {"default": 1, "min": 0, "max": 255, "step": 1, "tooltip": "Differences below this many 8-bit levels are left alone (keeps flat areas clean)."}),
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
            "image": ("IMAGE", {"tooltip": "Images to anti-alias (alpha untouched)."}),
            "supersample": ("INT", {"default": 2, "min": 1, "max": 4, "step": 1, "tooltip": "Lanczos upscale factor before the blur (the MSAA sample count per axis)."}),
            "blur_radius": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 5.0, "step": 0.05, "tooltip": "Gaussian blur radius at the supersampled size, in its pixels."}),
        }}  # fmt: skip

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "apply"
    CATEGORY = POSTPROCESSING
    DESCRIPTION = "MSAA-style anti-alias: Lanczos up, Gaussian blur, Lanczos down (tiled)."

    def apply(self, image, supersample: int = 2, blur_radius: float = 0.5):
        from ..core.pipeline import PostProcess

        post = PostProcess(antialias=True, supersample=supersample, blur_radius=blur_radius)
        return (_run_pipeline(image, [], _host()[0], post=post),)


def _interrupted() -> bool:
    """ComfyUI's Cancel: its own check raises its interrupt exception, between tiles and between layers."""
    try:
        import comfy.model_management as mm
    except ImportError:
        return False
    check = getattr(mm, "throw_exception_if_processing_interrupted", None)
    if check is not None:
        check()
    return False


def _checked_device(name: str):
    from ..core.devices import pick_device

    return pick_device(name)


def _run_pipeline(image, models, device, **options):
    """IMAGE [B,H,W,C] float → the core pipeline (same as the CLI and napari) → IMAGE in ComfyUI's dtype.

    ComfyUI's float images come from 8-bit files and go back to them, so the filters round to the 8-bit
    grid between their stages exactly as the CLI does for a uint8 PNG (`levels=255`).
    """
    import torch

    from ..core.defaults import DEFAULT_TILE
    from ..core.pipeline import process_bchw, progress_total

    _, out_device, out_dtype, _ = _host()
    x = image.movedim(-1, 1).to(device)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    pbar = _progress_bar(progress_total(tuple(x.shape), models, options.get("tile", DEFAULT_TILE)))
    on_tile = (lambda done, total: pbar.update(1)) if pbar is not None else None
    out = process_bchw(
        x, models, on_tile=on_tile, should_stop=_interrupted, out_dtype=torch.float32, levels=255, **options
    )
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
