"""Chunked upscaling of dask arrays: every chunk with its context band, seams exact, dtype kept.

Chunks are grown by the model's context (plus the post-filter margin) with `dask.array.overlap.overlap`
(no padding at the array's own edges, so borders behave as in memory), upscaled by the one pipeline and
trimmed back, giving output chunks = input chunks × scale. One intensity window is computed for the whole
array first (a dask-friendly sample), so every chunk maps values the same way. Models are loaded once per
worker process (the core's model cache), never per chunk.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.intensity import Window, choose_window


def _spatial_axes(ndim: int, rgb: bool) -> tuple[int, int]:
    return (ndim - 3, ndim - 2) if rgb else (ndim - 2, ndim - 1)


def _fit_chunks(chunks: tuple[int, ...], depth: int) -> tuple[int, ...]:
    """Chunks of at least `depth` (when the axis allows): a short last chunk joins its neighbour, tiny ones grow."""
    if min(chunks) >= depth or len(chunks) == 1:
        return chunks
    size, total = max(chunks[0], depth), sum(chunks)
    out = [size] * (total // size)
    rest = total - sum(out)
    if rest and out and rest < depth:
        out[-1] += rest
    elif rest:
        out.append(rest)
    return tuple(out) or (total,)


def upscale_dask(
    array,
    scale: int = 2,
    weights: str | None = None,
    *,
    rgb: bool | None = None,
    device: str = "auto",
    precision: str = "auto",
    intensity: str | Window = "auto",
    post=None,
    tile: int = -1,
):
    """dask array (Y, X), (Y, X, C) or with leading stack axes → lazily upscaled dask array of the same dtype."""
    import dask.array as da
    from dask.array.overlap import overlap

    from .job import chain_context, load_models

    if rgb is None:
        rgb = array.ndim >= 3 and array.shape[-1] in (3, 4)
    ya, xa = _spatial_axes(array.ndim, rgb)
    if min(ya, xa) < 0:
        raise ValueError(f"need at least 2 spatial axes, got shape {array.shape}")
    if rgb and array.chunks[-1] != (array.shape[-1],):
        array = array.rechunk({array.ndim - 1: -1})  # a pixel's channels stay together
    models = load_models(weights, scale, device, precision)  # validates here, on the client
    total = math.prod(m.scale for m in models)
    depth_px = chain_context(models, post)
    window = intensity if isinstance(intensity, Window) else choose_window(array, intensity, rgb=rgb)
    fitted = {ax: _fit_chunks(array.chunks[ax], depth_px) for ax in (ya, xa)}
    if any(fitted[ax] != array.chunks[ax] for ax in fitted):
        array = array.rechunk(fitted)  # overlap needs every chunk at least as deep as the context band
    depth = {ax: (depth_px if ax in (ya, xa) else 0) for ax in range(array.ndim)}
    grown = overlap(array, depth=depth, boundary="none")
    nblocks = array.numblocks
    out_chunks = tuple(
        tuple(c * total for c in chunks) if ax in (ya, xa) else chunks for ax, chunks in enumerate(array.chunks)
    )

    def run(block: np.ndarray, block_info=None) -> np.ndarray:
        from .job import upscale_array

        where = block_info[0]["chunk-location"]
        nets = load_models(weights, scale, device, precision)  # cached per process
        planes = block.reshape(-1, *block.shape[ya:]) if ya > 0 else block[None]
        outs = [
            upscale_array(np.ascontiguousarray(p), models=nets, intensity=window, post=post, tile=tile) for p in planes
        ]
        up = np.stack(outs).reshape(*block.shape[:ya], *outs[0].shape)
        index = [slice(None)] * up.ndim
        for ax in (ya, xa):
            lo = depth_px * total if where[ax] > 0 else 0
            hi = depth_px * total if where[ax] < nblocks[ax] - 1 else 0
            index[ax] = slice(lo, up.shape[ax] - hi)
        return up[tuple(index)]

    return da.map_blocks(
        run, grown, chunks=out_chunks, dtype=array.dtype, meta=np.empty((0,) * array.ndim, array.dtype)
    )
