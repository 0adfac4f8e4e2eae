"""Sample data: NASA's astronaut portrait (public domain) and its MATLAB-bicubic x2 reduction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PORTRAIT = Path(__file__).resolve().parents[2] / "data" / "astronaut.png"


def portrait() -> list[tuple]:
    return [(np.array(Image.open(PORTRAIT).convert("RGB")), {"name": "astronaut", "rgb": True}, "image")]


def portrait_lowres() -> list[tuple]:
    import torch

    from ...core.resize import matlab_imresize

    hr = torch.from_numpy(np.array(Image.open(PORTRAIT).convert("RGB"))).permute(2, 0, 1).double() / 255
    lr = (matlab_imresize(hr, scale=0.5).clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return [
        (lr, {"name": "astronaut (x2 low-res)", "rgb": True, "scale": (2.0, 2.0), "translate": (0.5, 0.5)}, "image")
    ]
