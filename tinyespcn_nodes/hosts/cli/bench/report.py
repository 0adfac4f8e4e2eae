"""`python -m tinyespcn_nodes bench`: every section measured in one run, printed, and (with `out`) written.

The rows come from `rows` (in this process), `startup` and the child modules `memory_child`, `big_child`
and `opencv_child` (each a fresh `python -m` process, so its memory and start-up are its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ....core.defaults import DEFAULT_TILE, tile_text
from ....core.files import write_text_atomic
from ....engine.models import DEFAULT_PRECISION, pick_device
from ..allocator import is_tuned
from . import rows as r
from .startup import startup_rows


@dataclass(frozen=True)
class BenchPlan:
    """What one bench run measures: the user-path photo's size, the scales, the device, which sections run,
    and the sizes of the smaller sections (tests shrink them)."""

    width: int = 1920
    height: int = 1080
    scales: tuple[int, ...] = (2, 3, 4)
    device: str = "auto"
    memory_test: bool = True
    folder_test: bool = True
    big_test: bool = True
    onnx_test: bool = True
    startup_test: bool = True
    tiling_size: int = 768
    filter_size: int = 1024
    statistics_images: int | None = None
    startup_side: int = 256
    startup_repeat: int = 3


class _Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def run_bench(plan: BenchPlan | None = None, out: str | Path | None = None) -> dict:
    """Measure everything in one run, print it, and (with `out`) write the printed text there too."""
    plan = plan or BenchPlan()
    rep = _Report()
    say = rep.say
    dev = pick_device(plan.device)
    info = r.machine()
    mm = r.matmul_gflops(dev)
    say(f"machine: {info['cpu']}; flags {' '.join(info['flags']) or '-'}; {info['logical_cores']} logical cores, "
        f"{info['torch_threads']} torch threads; torch {info['torch']}; device {dev}"
        + (f" ({info['cuda']})" if info["cuda"] else ""))  # fmt: skip
    malloc = (
        "freed tensor blocks kept in the heap, as the CLI runs" if is_tuned() else "libc default (not run as the CLI)"
    )
    say(f"in-run float32 matmul 2048^3: {mm:.1f} GFLOP/s; malloc: {malloc}")
    img = r._test_image((plan.width, plan.height))
    result = {"machine": info, "matmul_gflops": mm}
    _user_path(say, result, img, plan, mm)
    if plan.startup_test:
        _startup(say, result, plan)
    if plan.folder_test:
        _folder(say, result)
    _tiling(say, result, plan, dev)
    f = r.bench_filters(plan.filter_size)
    say(f"\nfilters on {f['size']}² RGB: unsharp {f['unsharp_mp_s']:.1f} MP/s vs Pillow {f['unsharp_pillow_mp_s']:.1f} "
        f"(ratio {f['unsharp_mp_s'] / f['unsharp_pillow_mp_s']:.2f}); MSAA {f['msaa_mp_s']:.2f} MP/s vs Pillow "
        f"{f['msaa_pillow_mp_s']:.2f} (ratio {f['msaa_mp_s'] / f['msaa_pillow_mp_s']:.2f})")  # fmt: skip
    result["filters"] = f
    if plan.memory_test:
        m = r.bench_memory()
        say(f"\nmemory: 2048² → {m['shape'][-1]}² x4 uint8 (seed config): peak RSS {m['peak_rss'] / 2**20:.0f} MB, "
            f"output {m['out_bytes'] / 2**20:.0f} MB, peak − output {m['peak_minus_output_mb']:.0f} MB (budget 512 MB), "
            f"RSS before the upscale {m['rss_before'] / 2**20:.0f} MB, {m['seconds']:.0f} s")  # fmt: skip
        result["memory"] = m
    if plan.big_test:
        _big(say, result)
    if out is not None:
        write_text_atomic(out, "\n".join(rep.lines) + "\n")
    return result


def _user_path(say, result: dict, img, plan: BenchPlan, mm: float) -> None:
    scales, device = list(plan.scales), plan.device
    rows = r.user_path_rows(img, scales, device, mm)
    peers = r.peer_rows(img, scales)
    say(f"\nuser path: one {plan.width}x{plan.height} RGB photo through upscale_array as the CLI runs it "
        f"(tile {tile_text(DEFAULT_TILE)}, precision {DEFAULT_PRECISION}); ms per output MP")  # fmt: skip
    say(f"{'model':<14} {'MACs/px':>8} {'dtype':>8} {'tile':>5} {'ms/MP':>8} {'+filters':>9} {'GFLOP/s':>8} "
        f"{'÷matmul':>8} {'vs seed':>8} {'vs CV ESPCN':>11}")  # fmt: skip
    for row in rows:
        seed = next((q for q in rows if q["scale"] == row["scale"] and q["seed"]), None)
        cv = peers[row["scale"]].get("opencv_espcn")
        cv = cv if isinstance(cv, float) else None
        say(f"{row['weights']:<14} {row['macs_per_lr_px']:>8,} {row['dtype']:>8} {row['tile']:>5} "
            f"{row['ms_per_out_mp']:>8.1f} {row.get('ms_per_out_mp_with_filters', float('nan')):>9.1f} "
            f"{row['gflops']:>8.1f} {row['gflops_over_fp32_matmul']:>8.2f} "
            f"{(seed['ms_per_out_mp'] / row['ms_per_out_mp']) if seed else float('nan'):>7.2f}x "
            f"{(cv / row['ms_per_out_mp']) if cv else float('nan'):>10.2f}x")  # fmt: skip
    for scale, peer in peers.items():
        say(f"x{scale} peers, same image: " + ", ".join(r._peer_text(k, v) for k, v in peer.items()))
    result.update(user_path=rows, peers=peers)
    eff = r.fp32_efficiency_row(img, mm, device)
    if eff is not None:
        say(f"fp32 conv efficiency, {eff['weights']} through the same path with --precision fp32 (tile "
            f"{eff['tile']}): {eff['gflops']:.1f} GFLOP/s ÷ matmul = {eff['ratio']:.2f}")  # fmt: skip
    result["fp32_efficiency"] = eff
    result["profile"] = [p for p in (r.op_profile(f"{t}-x2", device) for t in r.TIERS) if p is not None]
    for p in result["profile"]:
        shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in p.items() if k not in ("weights", "side"))
        say(f"time per op kind, {p['weights']} one {p['side']}² tile ({DEFAULT_PRECISION}): {shares}")
    ort = r.onnx_rows(img, [f"{t}-x2" for t in ("fast", "general", "seed")]) if plan.onnx_test else []
    for o in ort:
        say(f"onnxruntime {o['weights']}: {o['onnxruntime_ms_per_out_mp']:.1f} ms/MP vs torch fp32 untiled "
            f"{o['torch_fp32_ms_per_out_mp']:.1f} ms/MP")  # fmt: skip
    result["onnx"] = ort


def _startup(say, result: dict, plan: BenchPlan) -> None:
    side = plan.startup_side
    s = startup_rows(r._test_image(side), r.SHARED_PB, repeat=plan.startup_repeat)
    cv = s["opencv_espcn_s"]
    cv_text = f"{cv:.2f} s (CPU {s['opencv_espcn_cpu_s']:.2f} s)" if isinstance(cv, float) else f"not run ({cv})"
    say(f"\nstart-up: whole process, a fresh python each time, best of {s['repeat']} (wall; CPU = user + system, "
        f"which waiting on a busy machine does not inflate): `upscale` of a {s['side']} PNG x{s['scale']} (the "
        f"CLI's defaults, PNG in and out) {s['upscale_s']:.2f} s (CPU {s['upscale_cpu_s']:.2f} s); OpenCV ESPCN "
        f"x{s['scale']}, same file, its own process (cv2 read, upsample, write) {cv_text}; `--help` "
        f"{s['help_s']:.2f} s (CPU {s['help_cpu_s']:.2f} s), `models` {s['models_s']:.2f} s (CPU "
        f"{s['models_cpu_s']:.2f} s); neither of these two imports torch")  # fmt: skip
    result["startup"] = s


def _folder(say, result: dict) -> None:
    f = r.folder_row()
    if f is not None:
        say(f"\nfolder: {f['images']} mixed JPEG/PNG photos, {f['megapixels_in']:.0f} MP in, {f['weights']} x2 "
            f"through the CLI's batch path: {f['images_per_s']:.2f} images/s ({f['seconds']:.0f} s); decoding "
            f"{100 * f['decode_share']:.0f} %, encoding {100 * f['encode_share']:.0f} % of the wall time, "
            "both overlapped with the model")  # fmt: skip
    result["folder"] = f


def _tiling(say, result: dict, plan: BenchPlan, dev) -> None:
    tiling = r.bench_tiling(list(plan.scales), dev, plan.tiling_size, plan.statistics_images)
    say(f"\ntiling, {tiling[0]['lr_size']}² LR, default tile ({tile_text(DEFAULT_TILE)}), fp32:")
    for t in tiling:
        extra = ""
        if "statistics_max_levels" in t:
            levels = t["statistics_max_levels"]
            extra = "; exact (code cache); the sampled pass used above the cache budget vs exact on Set14 HR: " + (
                "n/a (no Set14)" if levels is None else f"max {levels:.2f} levels"
            )
        say(f"{t['weights']:<14} tile {t['tile']}: tiled ÷ untiled {t['tiled_over_untiled']:.2f}{extra}")
    result["tiling"] = tiling


def _big(say, result: dict) -> None:
    say("\nbig images: a TIFF through `upscale IN.tif -o OUT.tif` (the CLI's defaults: auto tile and precision; "
        "outputs above 64 MB stream in row bands, TIFF in and out); peak RSS of the whole process, output not "
        "held in memory; probes = three 40² LR crops run untiled with their context vs the file")  # fmt: skip
    result["big"] = []
    for name, side in r.BIG_IMAGES:
        b = r.bench_big_image(name, side)
        result["big"].append(b)
        out_mp = b["out_side"] ** 2 / 1e6
        say(f"{name} {side}² → {b['out_side']}²: {b['seconds']:.1f} s ({1000 * b['seconds'] / out_mp:.0f} ms/MP, "
            f"read + write included), {'in bands' if b['banded'] else 'in memory'}; peak RSS "
            f"{b['peak_rss'] / 2**20:.0f} MB (after imports and model load {b['rss_before'] / 2**20:.0f} MB; "
            f"input {b['in_bytes'] / 2**20:.0f} MB, output {b['out_bytes'] / 2**20:.0f} MB; budget 512 MB); "
            f"file complete {b['complete']}, probes max {b['probe_max_levels']} levels")  # fmt: skip
