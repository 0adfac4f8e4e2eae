"""How far ComfyUI's core "Upscale Image (using Model)" tiling moves a bundled file's output from the exact one.

    PYTHONPATH=/path/to/ComfyUI:. /path/to/comfy/python scripts/comfy_core_tiling_error.py [NAME ...]

Runs ComfyUI's own `comfy.utils.tiled_scale` (512-px tiles, overlap 32, as ImageUpscaleWithModel does at
0.3.64) and this package's exact engine (whole image, fp32) on two pictures: the astronaut at 600×520 and a
1200×520 one whose left half is flat (so one tile's statistics differ from the image's). Prints, per file,
the 8-bit difference: the largest, the share of values that differ and the PSNR of the tiled result against
the exact one. Files that need whole-image statistics are the ones the pack refuses to the core loader.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from PIL import Image

DEFAULT = ("general-x2", "seed-x2", "portrait-x2")


def pictures() -> dict[str, np.ndarray]:
    img = np.asarray(Image.open("tinyespcn_nodes/data/astronaut.png").convert("RGB").resize((600, 520)))
    return {"astronaut 600x520": img, "flat|busy 1200x520": np.concatenate([np.full_like(img, 20), img], axis=1)}


def core_tiled(model: torch.nn.Module, img: np.ndarray, scale: int) -> np.ndarray:
    import comfy.utils

    x = torch.from_numpy(img).float().div(255).movedim(-1, 0)[None]
    with torch.no_grad():
        y = comfy.utils.tiled_scale(x, lambda a: model(a).clamp(0, 1), 512, 512, 32, upscale_amount=scale)
    return (y[0].movedim(0, -1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def main(names: list[str]) -> None:
    sys.argv = sys.argv[:1]  # ComfyUI parses the command line when its modules load
    from tinyespcn_nodes.core.tiling import needs_statistics
    from tinyespcn_nodes.core.weights import load_model
    from tinyespcn_nodes.engine.job import prepare
    from tinyespcn_nodes.engine.options import UpscaleOptions

    print("| file | whole-image statistics | picture | max diff | values differing | PSNR tiled vs exact |")
    print("|---|---|---|---|---|---|")
    for name in names:
        path = f"weights/{name}.safetensors"
        model, info = load_model(path)
        job = prepare(UpscaleOptions(weights=path, scale=info.scale, tile=0, device="cpu", precision="fp32"))
        for label, img in pictures().items():
            d = np.abs(core_tiled(model.eval(), img, info.scale).astype(int) - job.run_array(img).astype(int))
            psnr = 10 * np.log10(255**2 / max((d.astype(float) ** 2).mean(), 1e-12))
            print(f"| {name} | {needs_statistics(model)} | {label} | {d.max()} | {100 * (d > 0).mean():.2f}% | "
                  f"{psnr:.1f} dB |")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:] or list(DEFAULT))
