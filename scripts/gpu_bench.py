"""The user path on a CUDA GPU: frames/s at 720p and 4K output per bundled tier and precision.

    python scripts/gpu_bench.py [--seconds 3] [--out docs/gpu_bench.txt]

Prepared for a lent GPU machine (one run fits its 15-minute budget: ~2 min for all rows); it times
`upscale_bchw_tensor` exactly as the hosts call it (default tile, uint8 frames already on the device,
output on the device), synchronising before every clock read, and prints the device and torch version.
Exits with status 2 and a message when no CUDA device is present.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FRAMES = {"720p": (1280, 720), "4K": (3840, 2160)}
TIERS = ("fast", "balanced", "general")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="timed seconds per row (after a warm-up)")
    ap.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--out", default=None, help="also write the printed rows here")
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device here; this script is for a GPU machine", file=sys.stderr)
        return 2
    from tinyespcn_nodes.engine.job import load_models, upscale_bchw_tensor

    lines = [f"device {torch.cuda.get_device_name()}; torch {torch.__version__}; default tile; uint8 frames on the GPU"]
    print(lines[0], flush=True)
    for scale in args.scales:
        for tier in TIERS:
            for precision in ("fp16", "bf16", "fp32"):
                models = load_models(f"{tier}-x{scale}", scale, "cuda", precision)
                for label, (w, h) in FRAMES.items():
                    lr = torch.randint(0, 256, (1, 3, h // scale, w // scale), dtype=torch.uint8, device="cuda")
                    upscale_bchw_tensor(lr, models)  # warm-up: kernels, allocator, tile choice
                    torch.cuda.synchronize()
                    n, t0 = 0, time.perf_counter()
                    while time.perf_counter() - t0 < args.seconds:
                        upscale_bchw_tensor(lr, models)
                        torch.cuda.synchronize()
                        n += 1
                    fps = n / (time.perf_counter() - t0)
                    line = f"{tier}-x{scale} {precision:>4} {label:>4} output: {fps:7.1f} frames/s"
                    print(line, flush=True)
                    lines.append(line)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
