"""Dim 16-bit data through the default path: Y-PSNR of the gray Set5 butterfly x2 against its ground truth.

    python scripts/intensity_check.py [--weights general-x2]

The LR (MATLAB bicubic of the HR) is stored as uint8 over the full range and as uint16 spanning 0-65535,
100-3000 and 100-600, then upscaled with `--intensity range` (the dtype's range, the old behaviour) and
`auto` (percentile window); bicubic of the same LR for reference. Border 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout, not an installed copy

import numpy as np
import torch
from PIL import Image

from tinyespcn_nodes.core.metrics import psnr
from tinyespcn_nodes.core.resize import matlab_imresize
from tinyespcn_nodes.core.shared import shared_path
from tinyespcn_nodes.engine.job import upscale_array


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="general-x2")
    args = p.parse_args(argv)
    hr = np.array(Image.open(shared_path("data", "benchmarks", "Set5", "HR", "butterfly.png")).convert("L"))
    hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2].astype(np.float64) / 255
    lr = matlab_imresize(torch.from_numpy(hr)[None, None], scale=0.5)[0, 0].numpy()

    def score(unit: np.ndarray) -> float:
        t = torch.from_numpy(np.clip(unit, 0, 1))[None, None].float()
        return psnr(t, torch.from_numpy(hr)[None, None].float(), border=2)

    full = upscale_array(np.round(lr * 255).clip(0, 255).astype(np.uint8), 2, args.weights)
    print(f"{args.weights}, gray butterfly x2, Y-PSNR dB; uint8 full range: {score(full / 255):.2f}")
    for lo, hi in ((0, 65535), (100, 3000), (100, 600)):
        data = np.round(lo + lr * (hi - lo)).astype(np.uint16)
        row = []
        for mode in ("range", "auto"):
            out = upscale_array(data, 2, args.weights, intensity=mode).astype(np.float64)
            row.append(f"{mode} {score((out - lo) / (hi - lo)):.2f}")
        bicubic = matlab_imresize(torch.from_numpy((data - lo) / (hi - lo))[None, None], scale=2)[0, 0].numpy()
        row.append(f"bicubic {score(bicubic):.2f}")
        print(f"  uint16 {lo}-{hi}: " + ", ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
