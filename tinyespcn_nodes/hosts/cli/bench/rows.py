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

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from ....core.arch import macs_per_lr_pixel
from ....core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from ....core.catalog import bundled
from ....core.defaults import DEFAULT_TILE, tile_text
from ....core.files import write_text_atomic
from ....core.filters import msaa_antialias, unsharp_mask
from ....core.shared import shared_path
from ....core.tiling import TileOptions, needs_statistics, resolve_tile, upscale_tensor
from ....core.weights import load_model
from ....engine.job import PostProcess, load_models, upscale_array
from ....engine.models import DEFAULT_PRECISION, pick_device
from ....io.opencv_peer import load_opencv_superres
from ..allocator import is_tuned

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


# both child scripts read their peak RSS this way
_HIGH_WATER = r"""
import resource

def high_water() -> int:
    # VmHWM belongs to this process image; ru_maxrss survives exec and would report the parent's peak
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""

_MEMORY_CHILD = (
    _HIGH_WATER
    + r"""
import json, torch
from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.engine.job import upscale_bchw_tensor

torch.manual_seed(0)
model = TinyESPCN(TinyESPCNConfig(scale=4)).eval().to(memory_format=torch.channels_last)
img = torch.randint(0, 256, (1, 3, 2048, 2048), dtype=torch.uint8)
base = high_water()
out = upscale_bchw_tensor(img, [model])
print(json.dumps({"out_bytes": out.numel() * out.element_size(), "peak_rss": high_water(), "rss_before": base,
                  "shape": list(out.shape)}))
"""
)


def bench_memory() -> dict:
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[4],
    )
    data = json.loads(res.stdout.strip().splitlines()[-1])
    data["seconds"] = time.perf_counter() - t0
    data["peak_minus_output_mb"] = (data["peak_rss"] - data["out_bytes"]) / 2**20
    return data


_BIG_CHILD = (
    _HIGH_WATER
    + r"""
import json, sys, time
import numpy as np, tifffile
from tinyespcn_nodes.hosts.cli.allocator import retain_freed_memory
retain_freed_memory()  # as the CLI's own process does
from tinyespcn_nodes.engine.job import UpscaleOptions, load_models, prepare, upscale_array
from tinyespcn_nodes.core.tiling import context_margin
from tinyespcn_nodes.io.tiff import TiffRows, streamable
from tinyespcn_nodes.hosts.cli.main import main
from pathlib import Path

name, size, src, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
scale = int(name.rsplit("-x", 1)[1])
rng = np.random.default_rng(0)

def lr_rows(step=512):  # written band by band: the input never sits in this process's memory whole
    for y in range(0, size, step):
        rows = rng.integers(0, 256, (min(step, size - y), size, 3), dtype=np.uint8)
        rows[:, : size // 2] //= 2  # some structure: a darker half, so the probes are not all noise statistics
        yield rows

tifffile.imwrite(src, lr_rows(), shape=(size, size, 3), dtype=np.uint8, photometric="rgb")
models = load_models(name, scale, "auto", "auto")
banded = streamable(Path(src), Path(dst), prepare(UpscaleOptions(name, scale)))
before = high_water()
t0 = time.perf_counter()
code = main(["upscale", src, "-o", dst, "--weights", name, "--scale", str(scale)])  # the CLI's defaults
seconds = time.perf_counter() - t0
peak = high_water()
with TiffRows(src) as lr, TiffRows(dst) as saved:
    complete = code == 0 and saved.shape == (size * scale, size * scale, 3)
    crop, ctx = 40, context_margin(models[0]) + 4
    worst = 0
    for y, x in ((0, 0), (size // 2 - 20, size // 2 - 20), (size - crop, size - crop)):
        y0, x0 = max(0, y - ctx), max(0, x - ctx)
        y1, x1 = min(size, y + crop + ctx), min(size, x + crop + ctx)
        ref = upscale_array(lr[y0:y1, x0:x1], models=models, tile=0)
        oy, ox = (y - y0) * scale, (x - x0) * scale
        want = ref[oy : oy + crop * scale, ox : ox + crop * scale].astype(int)
        got = saved[y * scale : (y + crop) * scale, x * scale : (x + crop) * scale].astype(int)
        worst = max(worst, int(np.abs(got - want).max()))
print(json.dumps({"seconds": seconds, "peak_rss": peak, "rss_before": before, "banded": banded,
                  "out_bytes": 3 * (size * scale) ** 2, "in_bytes": 3 * size**2, "complete": complete,
                  "probe_max_levels": worst, "out_side": size * scale}))
"""
)


def bench_big_image(name: str, lr_size: int) -> dict:
    """One big TIFF through the CLI in a fresh process (peak RSS is its own), probed against untiled crops."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        res = subprocess.run(
            [sys.executable, "-c", _BIG_CHILD, name, str(lr_size), str(Path(tmp) / "in.tif"), str(Path(tmp) / "out.tif")],
            capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[4],
        )  # fmt: skip
    data = json.loads(res.stdout.strip().splitlines()[-1])
    data.update(weights=name, lr_side=lr_size)
    return data


BIG_IMAGES = (("fast-x2", 4096), ("fast-x2", 8192), ("fast-x4", 4096))


def run_bench(
    width: int = 1920,
    height: int = 1080,
    scales: list[int] | None = None,
    device: str = "auto",
    memory_test: bool = True,
    folder_test: bool = True,
    big_test: bool = True,
    out: str | Path | None = None,
    onnx_test: bool = True,
    tiling_size: int = 768,
    filter_size: int = 1024,
    statistics_images: int | None = None,
) -> dict:
    """Measure everything in one run, print it, and (with `out`) write the printed text there too."""
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    scales = scales or [2, 3, 4]
    dev = pick_device(device)
    info = machine()
    mm = matmul_gflops(dev)
    say(f"machine: {info['cpu']}; flags {' '.join(info['flags']) or '-'}; {info['logical_cores']} logical cores, "
        f"{info['torch_threads']} torch threads; torch {info['torch']}; device {dev}"
        + (f" ({info['cuda']})" if info["cuda"] else ""))  # fmt: skip
    say(
        f"in-run float32 matmul 2048^3: {mm:.1f} GFLOP/s; malloc: "
        + (
            "freed tensor blocks kept in the heap, as the CLI runs"
            if is_tuned()
            else "libc default (not run as the CLI)"
        )
    )
    img = _test_image((width, height))
    rows = user_path_rows(img, scales, device, mm)
    peers = peer_rows(img, scales)
    say(f"\nuser path: one {width}x{height} RGB photo through upscale_array as the CLI runs it "
        f"(tile {tile_text(DEFAULT_TILE)}, precision {DEFAULT_PRECISION}); ms per output MP")  # fmt: skip
    say(f"{'model':<14} {'MACs/px':>8} {'dtype':>8} {'tile':>5} {'ms/MP':>8} {'+filters':>9} {'GFLOP/s':>8} "
        f"{'÷matmul':>8} {'vs seed':>8} {'vs CV ESPCN':>11}")  # fmt: skip
    for r in rows:
        seed = next((q for q in rows if q["scale"] == r["scale"] and q["seed"]), None)
        cv = peers[r["scale"]].get("opencv_espcn")
        cv = cv if isinstance(cv, float) else None
        say(f"{r['weights']:<14} {r['macs_per_lr_px']:>8,} {r['dtype']:>8} {r['tile']:>5} {r['ms_per_out_mp']:>8.1f} "
            f"{r.get('ms_per_out_mp_with_filters', float('nan')):>9.1f} {r['gflops']:>8.1f} "
            f"{r['gflops_over_fp32_matmul']:>8.2f} "
            f"{(seed['ms_per_out_mp'] / r['ms_per_out_mp']) if seed else float('nan'):>7.2f}x "
            f"{(cv / r['ms_per_out_mp']) if cv else float('nan'):>10.2f}x")  # fmt: skip
    for scale, row in peers.items():
        say(f"x{scale} peers, same image: " + ", ".join(_peer_text(k, v) for k, v in row.items()))
    result = {"machine": info, "matmul_gflops": mm, "user_path": rows, "peers": peers}
    eff = fp32_efficiency_row(img, mm, device)
    if eff is not None:
        say(f"fp32 conv efficiency, {eff['weights']} through the same path with --precision fp32 (tile "
            f"{eff['tile']}): {eff['gflops']:.1f} GFLOP/s ÷ matmul = {eff['ratio']:.2f}")  # fmt: skip
    result["fp32_efficiency"] = eff
    result["profile"] = [p for p in (op_profile(f"{t}-x2", device) for t in TIERS) if p is not None]
    for p in result["profile"]:
        shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in p.items() if k not in ("weights", "side"))
        say(f"time per op kind, {p['weights']} one {p['side']}² tile ({DEFAULT_PRECISION}): {shares}")
    ort = onnx_rows(img, [f"{t}-x2" for t in ("fast", "general", "seed")]) if onnx_test else []
    for r in ort:
        say(f"onnxruntime {r['weights']}: {r['onnxruntime_ms_per_out_mp']:.1f} ms/MP vs torch fp32 untiled "
            f"{r['torch_fp32_ms_per_out_mp']:.1f} ms/MP")  # fmt: skip
    result["onnx"] = ort
    if folder_test:
        f = folder_row()
        if f is not None:
            say(f"\nfolder: {f['images']} mixed JPEG/PNG photos, {f['megapixels_in']:.0f} MP in, {f['weights']} x2 "
                f"through the CLI's batch path: {f['images_per_s']:.2f} images/s ({f['seconds']:.0f} s); decoding "
                f"{100 * f['decode_share']:.0f} %, encoding {100 * f['encode_share']:.0f} % of the wall time, "
                "both overlapped with the model")  # fmt: skip
        result["folder"] = f
    tiling = bench_tiling(scales, dev, tiling_size, statistics_images)
    say(f"\ntiling, {tiling[0]['lr_size']}² LR, default tile ({tile_text(DEFAULT_TILE)}), fp32:")
    for r in tiling:
        extra = ""
        if "statistics_max_levels" in r:
            levels = r["statistics_max_levels"]
            extra = "; exact (code cache); the sampled pass used above the cache budget vs exact on Set14 HR: " + (
                "n/a (no Set14)" if levels is None else f"max {levels:.2f} levels"
            )
        say(f"{r['weights']:<14} tile {r['tile']}: tiled ÷ untiled {r['tiled_over_untiled']:.2f}{extra}")
    result["tiling"] = tiling
    f = bench_filters(filter_size)
    say(f"\nfilters on {f['size']}² RGB: unsharp {f['unsharp_mp_s']:.1f} MP/s vs Pillow {f['unsharp_pillow_mp_s']:.1f} "
        f"(ratio {f['unsharp_mp_s'] / f['unsharp_pillow_mp_s']:.2f}); MSAA {f['msaa_mp_s']:.2f} MP/s vs Pillow "
        f"{f['msaa_pillow_mp_s']:.2f} (ratio {f['msaa_mp_s'] / f['msaa_pillow_mp_s']:.2f})")  # fmt: skip
    result["filters"] = f
    if memory_test:
        m = bench_memory()
        say(f"\nmemory: 2048² → {m['shape'][-1]}² x4 uint8 (seed config): peak RSS {m['peak_rss'] / 2**20:.0f} MB, "
            f"output {m['out_bytes'] / 2**20:.0f} MB, peak − output {m['peak_minus_output_mb']:.0f} MB (budget 512 MB), "
            f"RSS before the upscale {m['rss_before'] / 2**20:.0f} MB, {m['seconds']:.0f} s")  # fmt: skip
        result["memory"] = m
    if big_test:
        say("\nbig images: a TIFF through `upscale IN.tif -o OUT.tif` (the CLI's defaults: auto tile and precision; "
            "outputs above 64 MB stream in row bands, TIFF in and out); peak RSS of the whole process, output not "
            "held in memory; probes = three 40² LR crops run untiled with their context vs the file")  # fmt: skip
        result["big"] = []
        for name, side in BIG_IMAGES:
            b = bench_big_image(name, side)
            result["big"].append(b)
            out_mp = b["out_side"] ** 2 / 1e6
            say(f"{name} {side}² → {b['out_side']}²: {b['seconds']:.1f} s ({1000 * b['seconds'] / out_mp:.0f} ms/MP, "
                f"read + write included), {'in bands' if b['banded'] else 'in memory'}; peak RSS "
                f"{b['peak_rss'] / 2**20:.0f} MB (after imports and model load {b['rss_before'] / 2**20:.0f} MB; "
                f"input {b['in_bytes'] / 2**20:.0f} MB, output {b['out_bytes'] / 2**20:.0f} MB; budget 512 MB); "
                f"file complete {b['complete']}, probes max {b['probe_max_levels']} levels")  # fmt: skip
    if out is not None:
        write_text_atomic(out, "\n".join(lines) + "\n")
    return result
