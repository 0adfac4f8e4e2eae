"""`python -m tinyespcn_nodes bench`: speed and memory measured in one run, reported as ratios.

* model vs Pillow bicubic: ms per output megapixel for both, on the same image;
* conv efficiency: achieved GFLOP/s (2·MAC/time) ÷ float32 matmul GFLOP/s measured in the same run;
* filters: megapixels/s of unsharp mask and MSAA vs the Pillow equivalents;
* tiling: default tiled ÷ untiled wall time on a 768² LR input, and how far the sampled statistics pass
  (models with a global gate) is from the exact two-pass on Set14 HR inputs, in 8-bit levels;
* peak RSS of a 2048² → 8192² x4 upscale in a child process, minus the output array's bytes;
* OpenCV dnn_superres ESPCN on the same image when opencv-contrib and the shared .pb files exist.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from ..core.arch import macs_per_lr_pixel
from ..core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from ..core.catalog import bundled
from ..core.defaults import DEFAULT_TILE, tile_text
from ..core.devices import pick_device, pick_dtype
from ..core.filters import msaa_antialias, unsharp_mask
from ..core.shared import shared_path
from ..core.tiling import needs_statistics, resolve_tile, upscale_tensor
from ..core.weights import load_model

SHARED_PB = shared_path("weights", "opencv_dnn_superres")
TIERS = ("general", "balanced", "fast")


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


def _test_image(size: int) -> np.ndarray:
    src = Path(__file__).resolve().parents[1] / "data" / "astronaut.png"
    return np.array(Image.open(src).convert("RGB").resize((size, size), Image.BICUBIC))


def bench_scale(scale: int, size: int, device: torch.device, mm: float) -> dict:
    model, name = _model_for(scale, device)
    img = _test_image(size)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255).to(device)
    out_mp = (size * scale) ** 2 / 1e6

    def run_model():
        upscale_tensor(model, x, tile=0)
        if device.type == "cuda":
            torch.cuda.synchronize()

    t_model = _best_of(run_model)
    pil = Image.fromarray(img)
    t_pil = _best_of(lambda: pil.resize((size * scale, size * scale), Image.BICUBIC))
    gflops = 2 * macs_per_lr_pixel(model) * size * size / t_model / 1e9
    row = {
        "scale": scale,
        "weights": name,
        "lr_size": size,
        "ms_per_out_mp_model": 1e3 * t_model / out_mp,
        "ms_per_out_mp_pillow_bicubic": 1e3 * t_pil / out_mp,
        "model_over_pillow": t_model / t_pil,
        "gflops": gflops,
        "conv_efficiency": gflops / mm,
    }
    row.update(_reduced_precision(model, x, device, mm))
    cv = _opencv_espcn(img, scale)
    if cv is not None:
        row["ms_per_out_mp_opencv_espcn"] = 1e3 * cv / out_mp
    return row


def _reduced_precision(model: torch.nn.Module, x: torch.Tensor, device: torch.device, mm: float) -> dict:
    """`--half` (bf16 on CPUs with native bf16, fp16 on CUDA): speed, and how far its output is from fp32."""
    dtype = pick_dtype(device, "auto")
    if dtype == torch.float32:
        return {}
    half = copy.deepcopy(model).to(dtype)

    def run():
        y = upscale_tensor(half, x, tile=0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return y

    t = _best_of(run)
    with torch.inference_mode():
        ref = (upscale_tensor(model, x, tile=0).clamp(0, 1) * 255).round()
        low = (run().clamp(0, 1) * 255).round()
    gflops = 2 * macs_per_lr_pixel(model) * x.shape[-2] * x.shape[-1] / t / 1e9
    mse = ((ref - low) ** 2).mean().item()
    return {
        "half_dtype": str(dtype).removeprefix("torch."),
        "half_gflops": gflops,
        "half_over_fp32_matmul": gflops / mm,
        "half_max_diff_levels": (ref - low).abs().max().item(),
        "half_psnr_vs_fp32": float("inf") if mse == 0 else 10 * math.log10(255**2 / mse),
    }


def _opencv_espcn(img: np.ndarray, scale: int) -> float | None:
    pb = SHARED_PB / f"ESPCN_x{scale}.pb"
    try:
        import cv2

        sr = cv2.dnn_superres.DnnSuperResImpl_create()
    except (ImportError, AttributeError):
        return None
    if not pb.is_file():
        return None
    sr.readModel(str(pb))
    sr.setModel("espcn", scale)
    bgr = img[..., ::-1].copy()
    return _best_of(lambda: sr.upsample(bgr))


def bench_tiling(scales: list[int], device: torch.device, size: int = 768) -> list[dict]:
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
            row["statistics_max_levels"] = _statistics_deviation(model, device)
        rows.append(row)
    return rows


def _statistics_deviation(model: torch.nn.Module, device: torch.device) -> float | None:
    """Max |sampled − exact| in 8-bit levels over the Set14 HR images used as inputs, default tile."""
    folder = shared_path("data", "benchmarks", "Set14", "image_SRF_2")
    files = sorted(folder.glob("*_HR.png")) if folder.is_dir() else []
    if not files:
        return None
    worst = 0.0
    with torch.inference_mode():
        for f in files:
            x = torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1)[None].float().div(255)
            x = x.to(device)
            exact = upscale_tensor(model, x, exact=True).clamp(0, 1)
            sampled = upscale_tensor(model, x).clamp(0, 1)
            worst = max(worst, (exact - sampled).abs().max().item() * 255)
    return worst


def bench_filters(size: int = 1024) -> dict:
    img = _test_image(size)
    pil = Image.fromarray(img)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float().div(255)
    mp = size * size / 1e6
    t_usm = _best_of(lambda: unsharp_mask(x))
    t_usm_pil = _best_of(lambda: pil.filter(ImageFilter.UnsharpMask(1.2, 100, 1)))
    t_aa = _best_of(lambda: msaa_antialias(x), repeat=2)
    t_aa_pil = _best_of(
        lambda: (
            pil.resize((2 * size, 2 * size), Image.LANCZOS)
            .filter(ImageFilter.GaussianBlur(0.5))
            .resize((size, size), Image.LANCZOS)
        ),
        repeat=2,
    )
    return {
        "size": size,
        "unsharp_mp_s": mp / t_usm,
        "unsharp_pillow_mp_s": mp / t_usm_pil,
        "msaa_mp_s": mp / t_aa,
        "msaa_pillow_mp_s": mp / t_aa_pil,
    }


_MEMORY_CHILD = r"""
import json, resource, torch
from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.pipeline import upscale_bchw_tensor

def high_water() -> int:
    # VmHWM belongs to this process image; ru_maxrss survives exec and would report the parent's peak
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

torch.manual_seed(0)
model = TinyESPCN(TinyESPCNConfig(scale=4)).eval().to(memory_format=torch.channels_last)
img = torch.randint(0, 256, (1, 3, 2048, 2048), dtype=torch.uint8)
base = high_water()
out = upscale_bchw_tensor(img, [model])
print(json.dumps({"out_bytes": out.numel() * out.element_size(), "peak_rss": high_water(), "rss_before": base,
                  "shape": list(out.shape)}))
"""


def bench_memory() -> dict:
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    data = json.loads(res.stdout.strip().splitlines()[-1])
    data["seconds"] = time.perf_counter() - t0
    data["peak_minus_output_mb"] = (data["peak_rss"] - data["out_bytes"]) / 2**20
    return data


def run_bench(size: int = 512, scales: list[int] | None = None, device: str = "auto", memory_test: bool = True) -> dict:
    dev = pick_device(device)
    mm = matmul_gflops(dev)
    print(f"device {dev}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"in-run float32 matmul 2048^3: {mm:.1f} GFLOP/s")
    rows = [bench_scale(s, size, dev, mm) for s in scales or [2, 3, 4]]
    print(
        f"\n{'scale':>5} {'model ms/MP':>12} {'Pillow ms/MP':>13} {'model/Pillow':>13} {'GFLOP/s':>8} "
        f"{'conv eff.':>9} {'OpenCV ESPCN ms/MP':>19}  weights"
    )
    for r in rows:
        cv = f"{r['ms_per_out_mp_opencv_espcn']:.1f}" if "ms_per_out_mp_opencv_espcn" in r else "n/a"
        print(
            f"{'x' + str(r['scale']):>5} {r['ms_per_out_mp_model']:>12.1f} {r['ms_per_out_mp_pillow_bicubic']:>13.2f} "
            f"{r['model_over_pillow']:>12.0f}x {r['gflops']:>8.1f} {r['conv_efficiency']:>9.2f} {cv:>19}  {r['weights']}"
        )
    for r in rows:
        if "half_dtype" in r:
            print(
                f"{'x' + str(r['scale']):>5} --half ({r['half_dtype']}): {r['half_gflops']:.1f} GFLOP/s = "
                f"{r['half_over_fp32_matmul']:.2f}× the fp32 matmul, output vs fp32: max {r['half_max_diff_levels']:.0f} "
                f"levels, PSNR {r['half_psnr_vs_fp32']:.1f} dB"
            )
    tiling = bench_tiling(scales or [2, 3, 4], dev)
    print(f"\ntiling, {tiling[0]['lr_size']}² LR, default tile ({tile_text(DEFAULT_TILE)}):")
    for r in tiling:
        dev_text = ""
        if "statistics_max_levels" in r:
            levels = r["statistics_max_levels"]
            dev_text = "; sampled statistics vs exact two-pass on Set14 HR: " + (
                "n/a (no Set14)" if levels is None else f"max {levels:.2f} levels"
            )
        print(
            f"{'x' + str(r['scale']):>5} tile {r['tile']}: tiled ÷ untiled {r['tiled_over_untiled']:.2f}{dev_text}"
            f"  {r['weights']}"
        )
    f = bench_filters()
    print(
        f"\nfilters on {f['size']}² RGB: unsharp {f['unsharp_mp_s']:.1f} MP/s vs Pillow {f['unsharp_pillow_mp_s']:.1f} "
        f"(ratio {f['unsharp_mp_s'] / f['unsharp_pillow_mp_s']:.2f}); MSAA {f['msaa_mp_s']:.2f} MP/s vs Pillow "
        f"{f['msaa_pillow_mp_s']:.2f} (ratio {f['msaa_mp_s'] / f['msaa_pillow_mp_s']:.2f})"
    )
    result = {"matmul_gflops": mm, "scales": rows, "tiling": tiling, "filters": f}
    if memory_test:
        m = bench_memory()
        print(
            f"\nmemory: 2048² → {m['shape'][-1]}² x4 uint8: peak RSS {m['peak_rss'] / 2**20:.0f} MB, output "
            f"{m['out_bytes'] / 2**20:.0f} MB, peak − output {m['peak_minus_output_mb']:.0f} MB "
            f"(budget 512 MB), RSS before the upscale {m['rss_before'] / 2**20:.0f} MB, {m['seconds']:.0f} s"
        )
        result["memory"] = m
    return result
