"""`python -m tinyespcn_nodes bench`: speed and memory measured in one run, on the path users run.

* user path: every bundled tier on one 1920x1080 photo through `upscale_array` as the CLI calls it (default
  tile and precision), with the post filters off and (x2) on: ms per output MP, achieved GFLOP/s ÷ the
  float32 matmul rate measured in the same run, speed vs the seed config and vs OpenCV's ESPCN;
* peers on the same image: Pillow bicubic, OpenCV dnn_superres ESPCN/FSRCNN (when opencv-contrib and the
  shared .pb files exist); onnxruntime on the exported folded models;
* folder: 16 mixed JPEG/PNG photos (0.3-12 MP) through the CLI's batch path, images/s and decode/encode share;
* tiling: default tiled ÷ untiled on a 768² LR input, and the sampled statistics pass vs the exact two-pass;
* fp32 conv efficiency of the seed-config x2 file (its user path with --precision fp32) and, per x2 tier, the
  share of one default tile's time per kind of op (torch.profiler);
* filters: MP/s of unsharp mask and MSAA vs Pillow; memory: peak RSS of a 2048² → 8192² x4 upscale minus
  the output's bytes, in a child process;
* big images: 4096²/8192² TIFFs through the CLI (row bands), peak RSS of the whole process and probes of
  the written file against untiled crops.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from ....core.arch import macs_per_lr_pixel
from ....core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from ....core.catalog import bundled
from ....core.defaults import DEFAULT_TILE
from ....core.filters import msaa_antialias, unsharp_mask
from ....core.shared import shared_path
from ....core.tiling import TileOptions, needs_statistics, resolve_tile, upscale_tensor
from ....core.weights import load_model
from ....engine.job import PostProcess, load_models, upscale_array
from ....engine.models import DEFAULT_PRECISION
from ....io.opencv_peer import load_opencv_superres
from .child import run_child

SHARED_PB = shared_path("weights", "opencv_dnn_superres")
TIERS = ("seed", "general", "balanced", "fast")  # `seed-xN` is a file of its own where general-xN was promoted


def _best_of(fn, repeat: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def matmul_gflops(device: torch.device, n: int = 2048) -> float:
    a = torch.rand(n, n, device=device)
    b = torch.rand(n, n, device=device)

    def run():
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()

    return 2 * n**3 / _best_of(run) / 1e9


def _model_for(scale: int, device: torch.device, tier: str = "general") -> tuple[torch.nn.Module, str]:
    name = f"{tier}-x{scale}"
    if name in bundled():
        model, _ = load_model(bundled()[name])
    else:
        model, name = TinyESPCN(TinyESPCNConfig(scale=scale)).eval(), "random-init (no bundled file)"
    model = model.to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    return model, name


def _test_image(size: int | tuple[int, int]) -> np.ndarray:
    w, h = (size, size) if isinstance(size, int) else size
    src = Path(__file__).resolve().parents[3] / "data" / "astronaut.png"
    return np.array(Image.open(src).convert("RGB").resize((w, h), Image.BICUBIC))


def machine() -> dict:
    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model in ("", platform.machine()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return {
        "cpu": model,
        "flags": shown,
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def user_path_rows(img: np.ndarray, scales: list[int], device: str, mm: float) -> list[dict]:
    """Every bundled tier through `upscale_array` exactly as the CLI calls it (default tile and precision)."""
    rows = []
    lr_px = img.shape[0] * img.shape[1]
    for scale in scales:
        for tier in TIERS:
            name = f"{tier}-x{scale}"
            if name not in bundled():
                continue
            models = load_models(name, scale, device, DEFAULT_PRECISION)
            model = models[0]
            upscale_array(img[:64, :64], models=models)  # warm-up (kernels, caches)
            t = _once(lambda m=models: upscale_array(img, models=m))
            out_mp = lr_px * scale * scale / 1e6
            macs = macs_per_lr_pixel(model)
            row = {
                "weights": name, "scale": scale, "tier": tier, "macs_per_lr_px": macs, "seed": needs_statistics(model),
                "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
                "tile": resolve_tile(DEFAULT_TILE, model), "seconds": t, "ms_per_out_mp": 1e3 * t / out_mp,
                "gflops": 2 * macs * lr_px / t / 1e9,
            }  # fmt: skip
            row["gflops_over_fp32_matmul"] = row["gflops"] / mm
            if scale == 2:
                post = PostProcess(sharpen=True, antialias=True)
                t_post = _once(lambda m=models, p=post: upscale_array(img, models=m, post=p))
                row["ms_per_out_mp_with_filters"] = 1e3 * t_post / out_mp
            rows.append(row)
    return rows


def _bundled_models(name: str, device: str, precision: str) -> list[torch.nn.Module] | None:
    """The bundled file `name` (e.g. general-x2) at its own scale, or None when it is not bundled."""
    if name not in bundled():
        return None
    return load_models(name, int(name.rsplit("-x", 1)[1]), device, precision)


def fp32_efficiency_row(img: np.ndarray, mm: float, device: str = "auto", name: str = "seed-x2") -> dict | None:
    """The user path of `name` with `--precision fp32`: achieved conv GFLOP/s (nominal MACs of the image, the
    tiles' context overlap included as cost) ÷ the in-run fp32 matmul rate. Default: the seed-config x2 file."""
    models = _bundled_models(name, device, "fp32")
    if models is None:
        return None
    upscale_array(img[:64, :64], models=models)
    t = _best_of(lambda: upscale_array(img, models=models), repeat=2)
    gflops = 2 * macs_per_lr_pixel(models[0]) * img.shape[0] * img.shape[1] / t / 1e9
    return {"weights": name, "tile": resolve_tile(DEFAULT_TILE, models[0]), "gflops": gflops, "ratio": gflops / mm}


_OP_GROUPS = (
    ("conv", ("conv",)),
    ("activation", ("prelu", "relu")),
    ("attention", ("sigmoid", "mul")),
    ("add", ("add",)),
    ("upsample/shuffle", ("upsample", "shuffle", "repeat_interleave", "index")),
)


def op_profile(name: str, device: str = "auto") -> dict[str, float] | None:
    """Share of CPU time per kind of op in one default-size tile at the default precision (torch.profiler)."""
    models = _bundled_models(name, device, DEFAULT_PRECISION)
    if models is None:
        return None
    from torch.profiler import profile

    model = models[0]
    side = resolve_tile(DEFAULT_TILE, model) + 2 * (model.receptive_radius + 2)
    p = next(model.parameters())
    x = torch.rand(1, 3, side, side, device=p.device).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        model(x)
        with profile() as prof:
            model(x)
    times: dict[str, float] = {}
    for event in prof.key_averages():
        if event.key.startswith("aten::") or event.key.startswith("mkldnn::"):
            op = event.key.split("::", 1)[1]
            group = next((g for g, keys in _OP_GROUPS if any(k in op for k in keys)), "other")
            times[group] = times.get(group, 0.0) + event.self_cpu_time_total
    total = sum(times.values()) or 1.0
    return {"weights": name, "side": side, **{g: t / total for g, t in sorted(times.items(), key=lambda kv: -kv[1])}}


def peer_rows(img: np.ndarray, scales: list[int]) -> dict[int, dict[str, float | str]]:
    """ms per output MP of Pillow bicubic and, when installed, OpenCV dnn_superres ESPCN/FSRCNN, same image
    (a peer that is installed but cannot load its model gets the reason instead of a time)."""
    pil = Image.fromarray(img)
    h, w = img.shape[:2]
    out = {}
    for scale in scales:
        out_mp = h * w * scale * scale / 1e6
        row = {"pillow_bicubic": 1e3 * _once(lambda s=scale: pil.resize((w * s, h * s), Image.BICUBIC)) / out_mp}
        for kind in ("espcn", "fsrcnn"):
            t = _opencv(img, kind, scale)
            if isinstance(t, str):
                row[f"opencv_{kind}"] = t
            elif t is not None:
                row[f"opencv_{kind}"] = 1e3 * t / out_mp
        out[scale] = row
    return out


def onnx_rows(img: np.ndarray, names: list[str]) -> list[dict]:
    """onnxruntime (CPU) on the exported folded model vs torch fp32 untiled on the same image."""
    try:
        import onnxruntime as ort

        from ....io.onnx_export import export_onnx
    except ImportError:
        return []
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255).contiguous()
    rows = []
    for name in names:
        if name not in bundled():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.onnx"
            try:
                export_onnx(bundled()[name], path)
            except ImportError:
                return []
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            feed = {"lr": x.numpy()}
            session.run(None, feed)
            t_ort = _once(lambda s=session, f=feed: s.run(None, f))
        model, _ = load_model(bundled()[name])
        model = model.to(memory_format=torch.channels_last)
        with torch.inference_mode():
            model(x[..., :64, :64])
            t_torch = _once(lambda m=model: m(x))
        out_mp = x.shape[-1] * x.shape[-2] * model.scale**2 / 1e6
        rows.append({"weights": name, "onnxruntime_ms_per_out_mp": 1e3 * t_ort / out_mp,
                     "torch_fp32_ms_per_out_mp": 1e3 * t_torch / out_mp})  # fmt: skip
    return rows


def folder_row(tier: str = "fast", scale: int = 2, count: int = 16) -> dict | None:
    """`count` mixed JPEG/PNG photos of 0.3-12 MP through the CLI's batch path: images/s, decode/encode share."""
    from ..batch import run_batch

    name = f"{tier}-x{scale}"
    if name not in bundled():
        return None
    models = load_models(name, scale, "auto", DEFAULT_PRECISION)
    sizes = np.geomspace(0.3e6, 12e6, count)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        plan = []
        rng = np.random.default_rng(0)
        for i, px in enumerate(sizes):
            w = int(math.sqrt(px * 4 / 3))
            h = int(px / w)
            img = _test_image((w, h)).astype(np.int16) + rng.integers(-6, 7, (h, w, 3), dtype=np.int16)
            path = src / f"p{i:02d}.{'jpg' if i % 2 else 'png'}"
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=92)
            plan.append((path, dst / f"p{i:02d}_x{scale}.png"))
        report = run_batch(plan, lambda a, on_tile: upscale_array(a, models=models, on_tile=on_tile), quiet=True)
    total = report.seconds
    return {
        "weights": name, "images": len(report.done), "megapixels_in": float(sizes.sum() / 1e6),
        "images_per_s": len(report.done) / total, "seconds": total,
        "decode_share": report.decode_seconds / total, "encode_share": report.encode_seconds / total,
    }  # fmt: skip


def _peer_text(name: str, value: float | str) -> str:
    return f"{name} {value:.1f} ms/MP" if isinstance(value, float) else f"{name} not run ({value})"


def _once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _opencv(img: np.ndarray, kind: str, scale: int) -> float | str | None:
    """Seconds for one upsample, None when the peer is absent, or why an installed OpenCV cannot load it."""
    pb = SHARED_PB / f"{kind.upper()}_x{scale}.pb"
    sr, reason = load_opencv_superres(pb, kind, scale)
    if sr is None:
        return reason if reason.startswith("OpenCV") else None
    bgr = img[..., ::-1].copy()
    sr.upsample(bgr[:64, :64])
    return _once(lambda: sr.upsample(bgr))


def bench_tiling(scales: list[int], device: torch.device, size: int = 768, images: int | None = None) -> list[dict]:
    """Default tiled ÷ untiled time per bundled general model; statistics-pass deviation where it applies."""
    rows = []
    x = torch.from_numpy(_test_image(size)).permute(2, 0, 1)[None].float().div(255).to(device)
    jobs = [(s, t) for s in scales for t in TIERS if t == "general" or f"{t}-x{s}" in bundled()]
    for scale, tier in jobs:
        model, name = _model_for(scale, device, tier)
        with torch.inference_mode():
            t_tiled = _best_of(lambda m=model: upscale_tensor(m, x), repeat=2)
            t_whole = _best_of(lambda m=model: upscale_tensor(m, x, tile=0), repeat=2)
        row = {"scale": scale, "weights": name, "lr_size": size, "tile": resolve_tile(DEFAULT_TILE, model)}
        row["tiled_over_untiled"] = t_tiled / t_whole
        if needs_statistics(model):
            row["statistics_max_levels"] = _statistics_deviation(model, device, images)
        rows.append(row)
    return rows


def _statistics_deviation(model: torch.nn.Module, device: torch.device, images: int | None = None) -> float | None:
    """Max |sampled − exact| in 8-bit levels over the Set14 HR images used as inputs, default tile, for the
    sampled statistics pass (images whose code does not fit CODE_CACHE_BYTES)."""
    folder = shared_path("data", "benchmarks", "Set14", "image_SRF_2")
    files = (sorted(folder.glob("*_HR.png")) if folder.is_dir() else [])[:images]
    if not files:
        return None
    worst = 0.0
    with torch.inference_mode():
        for f in files:
            x = torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1)[None].float().div(255)
            x = x.to(device)
            exact = upscale_tensor(model, x, opts=TileOptions(exact="exact")).clamp(0, 1)
            # what images above the cache get
            sampled = upscale_tensor(model, x, opts=TileOptions(exact="sampled")).clamp(0, 1)
            worst = max(worst, (exact - sampled).abs().max().item() * 255)
    return worst


def bench_filters(size: int = 1024, repeat: int = 5) -> dict:
    """MP/s of ours and Pillow's unsharp mask and MSAA on one image; the two are timed in alternation, so a
    machine whose speed drifts during the run (shared VMs) biases neither."""
    img = _test_image(size)
    pil = Image.fromarray(img)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255)
    mp = size * size / 1e6
    runs = {
        "unsharp": lambda: unsharp_mask(x),
        "unsharp_pillow": lambda: pil.filter(ImageFilter.UnsharpMask(1.2, 100, 1)),
        "msaa": lambda: msaa_antialias(x),
        "msaa_pillow": lambda: (
            pil.resize((2 * size, 2 * size), Image.LANCZOS)
            .filter(ImageFilter.GaussianBlur(0.5))
            .resize((size, size), Image.LANCZOS)
        ),
    }
    best = dict.fromkeys(runs, float("inf"))
    for fn in runs.values():
        fn()  # warm-up
    for _ in range(repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return {"size": size, **{f"{name}_mp_s": mp / t for name, t in best.items()}}


def bench_memory() -> dict:
    """Peak RSS of a 2048² → 8192² x4 upscale in a fresh process (`memory_child`), minus the output's bytes."""
    t0 = time.perf_counter()
    data = run_child("memory_child")
    data["seconds"] = time.perf_counter() - t0
    data["peak_minus_output_mb"] = (data["peak_rss"] - data["out_bytes"]) / 2**20
    return data


def bench_big_image(name: str, lr_size: int) -> dict:
    """One big TIFF through the CLI in a fresh process (`big_child`: peak RSS is its own), probed against
    untiled crops."""
    with tempfile.TemporaryDirectory() as tmp:
        data = run_child("big_child", name, str(lr_size), str(Path(tmp) / "in.tif"), str(Path(tmp) / "out.tif"))
    data.update(weights=name, lr_side=lr_size)
    return data


BIG_IMAGES = (("fast-x2", 4096), ("fast-x2", 8192), ("fast-x4", 4096))
