"""Defaults shared by the core and the hosts, importable without torch (the napari menu must open fast)."""

# LR pixels per tile side; AUTO_TILE picks, per model, the largest side whose activations fit
# TILE_BUDGET_BYTES (see `tiling.auto_tile`), 0 runs the whole image as one tile.
AUTO_TILE = -1
DEFAULT_TILE = AUTO_TILE
# Calibrated so the seed-config x4 model gets the 256² tile that keeps a 2048² → 8192² upscale within
# 512 MB above its output on CPU (measured by `bench`); leaner models get larger tiles at the same cost.
TILE_BUDGET_BYTES = 192 * 2**20
# Models with a global gate keep their per-pixel code (trunk output + head projection) for the whole image
# when it fits here: one exact pass instead of a sampled statistics pass (768² LR, seed x2, fp32: 179 MB).
CODE_CACHE_BYTES = 256 * 2**20


def tile_text(tile: int) -> str:
    return "auto" if tile < 0 else ("whole image" if tile == 0 else str(tile))


DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# auto is the default: its cost, measured by tests/test_precision.py on Set5 and Set14 for every bundled
# model, is at most 0.02 dB Y-PSNR (bf16 on CPUs with native bf16; fp16 on CUDA, with an fp32 retry of
# any tile that overflows)
DEFAULT_PRECISION = "auto"
