"""Fine-tune on a synthetic fluorescence stack, score held-out planes degraded the same way.

    python scripts/microscopy_finetune.py [--steps 600] [--start balanced-x2]

The stack (filaments and puncta, dim 16-bit, 12 planes of 192x192) is generated, so nothing downloads;
planes 0-8 train, 9-11 are held out. Every held-out plane is degraded by the microscopy preset with a fixed
seed and upscaled x2 by bicubic, the photo model and the fine-tuned model; Y-PSNR against the clean
plane (with the same background), border 2. The printed table is the figure the README/closing notes quote.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout, not an installed copy


def synthetic_stack(planes: int = 12, size: int = 192, seed: int = 0) -> np.ndarray:
    """Filaments (smoothed random walks) and puncta, slowly changing over Z, as uint16 in 100-1100."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    walks = []
    for _ in range(14):
        pts = np.cumsum(rng.normal(0, 3, (400, 2)), axis=0) + rng.uniform(0, size, 2)
        walks.append(pts % size)
    puncta = rng.uniform(0, size, (60, 2))
    stack = []
    for z in range(planes):
        img = np.zeros((size, size), np.float32)
        for pts in walks:
            drift = 0.8 * z
            for y, x in pts[::2]:
                y, x = (y + drift) % size, (x + 0.5 * drift) % size
                img += np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 2.2)
        for y, x in puncta:
            img += 2.5 * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (4 + z % 3))
        stack.append(img)
    stack = np.stack(stack)
    stack = stack / np.percentile(stack, 99.9)
    return (100 + 1000 * np.clip(stack, 0, 1.2)).astype(np.uint16)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--start", default="balanced-x2", help="bundled weights (or a file) to start from")
    args = p.parse_args(argv)

    import tifffile

    from tinyespcn_nodes.core.catalog import resolve_weights
    from tinyespcn_nodes.core.intensity import choose_window, to_model
    from tinyespcn_nodes.core.metrics import psnr
    from tinyespcn_nodes.core.resize import matlab_imresize
    from tinyespcn_nodes.engine.job import load_models, upscale_array
    from trainer.cli import main as trainer_main
    from trainer.degradations import Microscopy

    stack = synthetic_stack()
    train, held = stack[:9], stack[9:]
    window = choose_window(stack)
    with tempfile.TemporaryDirectory() as tmp:
        tif = Path(tmp) / "train.tif"
        tifffile.imwrite(tif, train)
        run = Path(tmp) / "run"
        code = trainer_main([
            "finetune", "--init", str(resolve_weights(args.start)), "--data", str(tif), "--dataset", "folder",
            "--subset", "0", "--face-size", "0", "--scale", "2", "--degradation", "microscopy",
            "--steps", str(args.steps), "--patch", "32", "--batch", "8", "--warmup", "50", "--val-sets",
            "--ckpt-every", str(args.steps), "--log-every", str(max(1, args.steps // 4)), "--run-dir", str(run),
            "--workers", "1",
        ])  # fmt: skip
        if code:
            return code
        tuned = load_models(str(run / "final.safetensors"), 2, "cpu", "fp32")
        photo = load_models(args.start, 2, "cpu", "fp32")
        deg = Microscopy()
        scores = {"bicubic": [], f"photo model ({args.start})": [], "fine-tuned": []}
        for i, plane in enumerate(held):
            hr = torch.from_numpy(np.clip(to_model(plane, window), 0, 1))[None, None].double().expand(1, 3, -1, -1)
            lr, target = deg(hr, 2, torch.Generator().manual_seed(100 + i))
            lr_np = lr[0].permute(1, 2, 0).float().numpy()
            outs = {
                "bicubic": matlab_imresize(lr.float(), scale=2)[0].permute(1, 2, 0).numpy(),
                f"photo model ({args.start})": upscale_array(lr_np, models=photo, intensity=None),
                "fine-tuned": upscale_array(lr_np, models=tuned, intensity=None),
            }
            ref = target.float().clamp(0, 1)
            for name, out in outs.items():
                t = torch.from_numpy(np.clip(out, 0, 1)).permute(2, 0, 1)[None].float()
                scores[name].append(psnr(t, ref, border=2))
    print(f"\nheld-out planes 9-11, microscopy degradation (fixed seeds), x2 Y-PSNR dB, {args.steps} fine-tune steps:")
    for name, values in scores.items():
        print(f"  {name:<30} {np.mean(values):6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
