"""ComfyUI V3 nodes (`comfy_api.latest`: `io.ComfyNode` with `define_schema` / `execute`, one `ComfyExtension`
from `comfy_entrypoint`). Node ids, input names, types and defaults are those of the V1 nodes they replace, so
saved workflows load unchanged. `comfy_api` comes with ComfyUI (tests install a fake of the part used here);
the other host modules (`comfy.*`, `folder_paths`) and torch are imported inside the calls."""

from __future__ import annotations

from dataclasses import dataclass

from comfy_api.latest import ComfyExtension, io

MODEL_TYPE = "TINYESPCN_MODEL"
TinyModel = io.Custom(MODEL_TYPE)  # the socket between the loader and the upscale node
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
    from pathlib import Path

    from ...core.catalog import bundled, weights_dirs
    from ...core.weights import describe_foreign

    table = {name: str(path) for name, path in bundled().items()}
    ours = {d.resolve() for d in weights_dirs()}  # added to upscale_models for the core loader (comfy_folders)
    for filename, path in sorted(_upscale_model_files().items()):
        name = _canonical(filename)
        if ours & set(Path(path).resolve().parents):  # bundled files and their baselines/ are listed above
            continue
        if name not in table and describe_foreign(path) is None:
            table[name] = path
    return table


def _weight_choices() -> list[str]:
    return sorted(_catalog()) or ["general-x2"]


def _default_choice() -> str:
    """general-x2, as the tooltip says (without it ComfyUI preselects the alphabetically first name)."""
    from ...core.catalog import default_name

    choices = _weight_choices()
    return default_name(2) if default_name(2) in choices else choices[0]


def _weights_tooltip() -> str:
    """The `models` table, one line per bundled file (scale, MACs per LR pixel, use, stored quality)."""
    from ...core.model_table import models_tooltip

    return (
        "general-x2 is the default; general-xN is the best measured file at each scale. Also lists TinyESPCN "
        "files in models/upscale_models.\n" + models_tooltip()
    )


def _resolve_choice(choice: str):
    """Only names this loader lists (or a renamed/alias name of one) resolve; a path, absolute or relative,
    is never opened: workflows come from strangers."""
    from ...core.catalog import bundled_name
    from ...core.weights import describe_foreign

    if not isinstance(choice, str):
        raise ValueError(f"weights: expected a name from the list, got {type(choice).__name__}")
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
    shown = choice if len(choice) <= 80 else f"{choice[:60]}… ({len(choice)} characters)"
    raise FileNotFoundError(f"unknown weights {shown!r}: pick one of the loader's list (bundled or upscale_models)")


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


class TinyESPCNModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TinyESPCN_ModelLoader", display_name="Load TinyESPCN Model", category=UPSCALING,
            description="Load TinyESPCN weights (bundled or from models/upscale_models).",
            inputs=[
                io.Combo.Input("weights", options=_weight_choices(), default=_default_choice(), tooltip=_weights_tooltip()),
                io.Combo.Input("device", options=_device_choices(), default="auto", tooltip="auto = ComfyUI's device; only devices this machine has are listed."),
                # optional: the first release's saved workflows have an `fp16` widget here instead
                io.Combo.Input("precision", options=["auto", "fp32", "bf16", "fp16"], default="auto", optional=True, tooltip="auto = fp16 on CUDA (a tile that overflows is redone in fp32), bf16 on CPUs with native bf16, else fp32; measured cost ≤ 0.02 dB on Set5/Set14."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.05, optional=True, tooltip="photo-x2/x4, photo-fast-x2 and portrait-x2/x4 only: restoration strength, 0 = the clean model (general-x2 / balanced-x4 / fast-x2), 1 = full JPEG/noise/blur removal; the weights are mixed, the cost stays the same."),
            ],
            outputs=[TinyModel.Output(display_name="model")],
        )  # fmt: skip

    @classmethod
    def validate_inputs(cls, weights: str) -> bool | str:
        """Before the run: any name the loader cannot resolve is refused here (ComfyUI checks no V3 combo
        value against its list), while saved workflows naming a renamed file (`balanced-x2`, now
        `general-x2`) still run."""
        try:
            _resolve_choice(weights)
        except (FileNotFoundError, ValueError) as e:
            return str(e)
        return True

    @classmethod
    def execute(
        cls, weights: str, device: str = "auto", precision: str = "auto", strength: float = 1.0
    ) -> io.NodeOutput:
        from ...core.weights import read_weights
        from ...engine.models import PRECISIONS

        if isinstance(precision, bool):  # the first release's `fp16` widget sat here; UI workflows fill by position
            precision = "fp16" if precision else "fp32"
        path = _resolve_choice(weights)
        if device != "auto":
            _checked_device(device)  # raises a clear message now, not an AssertionError at the upscale node
        info, _ = read_weights(path)  # validate now so a bad file fails at the loader node
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if strength != 1.0:
            from ...core.catalog import PARTNERS
            from ...core.strength import check_strength, clean_partner

            if clean_partner(path) is None:
                raise ValueError(
                    f"{weights}: strength below 1 applies to the photo and portrait models ({', '.join(PARTNERS)}) only"
                )
            check_strength(strength)
        return io.NodeOutput(ModelHandle(str(path), info.scale, device, precision, float(strength)))


class TinyESPCNUpscale(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TinyESPCN_Upscale", display_name="Upscale Image (TinyESPCN)", category=UPSCALING,
            description="Upscale every frame with TinyESPCN (RGBA: alpha resized bicubic).",
            inputs=[
                io.Image.Input("image", tooltip="Images to upscale (every frame of the batch; RGBA alpha is resized bicubic)."),
                TinyModel.Input("model", tooltip="From 'Load TinyESPCN Model'."),
                io.Int.Input("tile_size", default=-1, min=-1, max=8192, step=8,
                             tooltip="LR tile side; -1 = auto (the largest that fits the memory budget: a quarter of free VRAM on CUDA), 0 = whole image. Halved automatically on out-of-memory."),
                io.Int.Input("overlap", default=0, min=0, max=256,
                             tooltip="Extra LR context around each tile. The model's own context (its receptive radius) is always added, so tiles are exact at 0."),
                io.Float.Input("scale_by", default=0.0, min=0.0, max=8.0, step=0.05, optional=True,
                               tooltip="Any factor (e.g. 1.5, 2.5; 0 = the model's own scale): the fewest model passes that reach it, then an exact Lanczos resize inside the same tile loop."),
            ],
            outputs=[io.Image.Output()],
        )  # fmt: skip

    @classmethod
    def execute(
        cls, image, model: ModelHandle, tile_size: int = -1, overlap: int = 0, scale_by: float = 0.0
    ) -> io.NodeOutput:
        from ...engine.job import prepare
        from ...engine.models import release
        from .inputs import checked_factor, checked_image

        image, scale_by = checked_image(image), checked_factor(scale_by, "scale_by")
        device, _, _, _ = _host()
        if model.device != "auto":
            device = _checked_device(model.device)
        if scale_by and scale_by <= 1:
            raise ValueError(f"scale_by must be 0 (the model's scale) or above 1, got {scale_by}")
        options = _options(
            weights=model.path, scale=model.scale, factor=scale_by or None, tile=tile_size, context=overlap,
            device=str(device), precision=model.precision, levels=255, strength=model.strength,
        )  # fmt: skip
        try:
            return io.NodeOutput(_run_pipeline(image, prepare(options, "tile_size"), device))
        finally:
            release(device)


class TinyESPCNUnsharpMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TinyESPCN_UnsharpMask", display_name="Unsharp Mask (TinyESPCN)", category=POSTPROCESSING,
            description="Pillow-compatible unsharp mask (threshold in 8-bit levels; alpha untouched).",
            inputs=[
                io.Image.Input("image", tooltip="Images to sharpen (alpha untouched)."),
                io.Float.Input("radius", default=1.2, min=0.0, max=50.0, step=0.1, tooltip="Gaussian blur radius in pixels (Pillow's UnsharpMask radius)."),
                io.Int.Input("percent", default=100, min=0, max=500, step=1, tooltip="Strength: how much of the detail (image − blur) is added back, in percent."),
                io.Int.Input("threshold", default=1, min=0, max=255, step=1, tooltip="Differences below this many 8-bit levels are left alone (keeps flat areas clean)."),
            ],
            outputs=[io.Image.Output()],
        )  # fmt: skip

    @classmethod
    def execute(cls, image, radius: float = 1.2, percent: int = 100, threshold: int = 1) -> io.NodeOutput:
        from ...core.filters import PostProcess
        from .inputs import checked_factor

        radius = checked_factor(radius, "radius")
        return _filtered(image, PostProcess(sharpen=True, radius=radius, percent=percent, threshold=threshold))


class TinyESPCNMSAA(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TinyESPCN_MSAA", display_name="MSAA Anti-alias (TinyESPCN)", category=POSTPROCESSING,
            description="MSAA-style anti-alias: Lanczos up, Gaussian blur, Lanczos down (tiled).",
            inputs=[
                io.Image.Input("image", tooltip="Images to anti-alias (alpha untouched)."),
                io.Int.Input("supersample", default=2, min=1, max=4, step=1, tooltip="Lanczos upscale factor before the blur (the MSAA sample count per axis)."),
                io.Float.Input("blur_radius", default=0.5, min=0.0, max=5.0, step=0.05, tooltip="Gaussian blur radius at the supersampled size, in its pixels."),
            ],
            outputs=[io.Image.Output()],
        )  # fmt: skip

    @classmethod
    def execute(cls, image, supersample: int = 2, blur_radius: float = 0.5) -> io.NodeOutput:
        from ...core.filters import PostProcess
        from .inputs import checked_factor

        blur_radius = checked_factor(blur_radius, "blur_radius")
        return _filtered(image, PostProcess(antialias=True, supersample=supersample, blur_radius=blur_radius))


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
    from ...engine.models import pick_device

    return pick_device(name)


def _filtered(image, post) -> io.NodeOutput:
    """A filter node's run: the post filters alone (scale 1) on 8-bit levels, on ComfyUI's device."""
    from ...engine.job import prepare

    return io.NodeOutput(_run_pipeline(image, prepare(_options(scale=1, post=post, levels=255)), _host()[0]))


def _options(**chosen):
    from ...engine.options import UpscaleOptions

    return UpscaleOptions(**chosen)


class _ComfyProgress:
    """Engine progress → ComfyUI's bar (created at the job's first count; `update_absolute` follows re-plans)."""

    def __init__(self) -> None:
        self.bar, self.shown = None, 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            import comfy.utils

            self.bar = comfy.utils.ProgressBar(total)
        if hasattr(self.bar, "update_absolute"):
            self.bar.update_absolute(done, total)
        elif done > self.shown:
            self.bar.update(done - self.shown)
        self.shown = done


def _run_pipeline(image, job, device):
    """IMAGE [B,H,W,C] float → the engine job (same as the CLI and napari) → IMAGE in ComfyUI's dtype.

    ComfyUI's float images come from 8-bit files and go back to them, so the job's filters round to the 8-bit
    grid between their stages exactly as the CLI does for a uint8 PNG (`levels=255`). Long batches (video
    frames) go a few frames at a time into an output allocated once (`frames`); one Progress counts them all.
    """

    import torch

    from ...core.progress import Progress
    from .frames import run_frames
    from .inputs import checked_image

    _, out_device, out_dtype, _ = _host()
    image = checked_image(image)
    try:
        import comfy.utils  # noqa: F401

        report = _ComfyProgress()
    except ImportError:
        report = None
    progress = Progress(report, _interrupted)
    scale = job.options.factor or job.scale

    def run_chunk(x):
        return job.run_tensor(x, progress, out_dtype=torch.float32)

    return run_frames(
        image, run_chunk, device=device, out_device=out_device, out_dtype=out_dtype, scale=scale,
        should_stop=_interrupted,
    )  # fmt: skip


NODES: list[type[io.ComfyNode]] = [TinyESPCNModelLoader, TinyESPCNUpscale, TinyESPCNUnsharpMask, TinyESPCNMSAA]


class TinyESPCNExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> TinyESPCNExtension:
    """ComfyUI's V3 entry (nodes.py `load_custom_node`): the extension that lists the nodes."""
    return TinyESPCNExtension()
