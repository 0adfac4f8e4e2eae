"""ComfyUI IMAGE batches of any length (video frames) through the pipeline a few frames at a time.

The output is allocated once, in ComfyUI's own layout and dtype ([B,H,W,C], its intermediate dtype); each
chunk of frames is converted, upscaled and copied into its slice, so the extra memory is one chunk's, not a
float copy of the whole batch. Cancel is checked between chunks (and between tiles inside the pipeline).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

CHUNK_BYTES = 4 << 20  # float32 output bytes per chunk (at least one frame): the extra memory over the output

RunChunk = Callable[[torch.Tensor], torch.Tensor]  # [b,C,H,W] float on the model's device → [b,C,H',W'] float32


def frames_per_chunk(shape_bhwc: tuple[int, ...], scale: float, budget: int = CHUNK_BYTES) -> int:
    b, h, w, c = shape_bhwc
    per_frame = max(1, round(h * scale) * round(w * scale) * c * 4)
    return max(1, min(b, budget // per_frame))


def run_frames(
    image: torch.Tensor,
    run_chunk: RunChunk,
    *,
    device: torch.device,
    out_device: torch.device,
    out_dtype: torch.dtype,
    scale: float,
    should_stop: Callable[[], bool] | None = None,
    budget: int = CHUNK_BYTES,
) -> torch.Tensor:
    """image [B,H,W,C] → [B,H',W',C] in `out_dtype` on `out_device`; `run_chunk` sees a few frames at a time."""
    if image.dim() != 4 or image.shape[0] == 0:
        raise ValueError(f"image: expected a non-empty [B,H,W,C] batch, got shape {tuple(image.shape)}")
    step = frames_per_chunk(tuple(image.shape), scale, budget)
    out = None
    for i in range(0, image.shape[0], step):
        if should_stop is not None:
            should_stop()
        x = image[i : i + step].movedim(-1, 1).to(device)
        if x.dtype not in (torch.float32, torch.float64):
            x = x.float()
        y = run_chunk(x)
        if out is None:
            b, _, h, w = y.shape
            out = torch.empty((image.shape[0], h, w, y.shape[1]), dtype=out_dtype, device=out_device)
        out[i : i + step].copy_(y.movedim(1, -1))
        del x, y
    return out
