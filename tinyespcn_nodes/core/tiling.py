"""Tiled, exact, bounded-memory inference.

Tiles partition the LR image; each is run with `margin` extra LR pixels of real context on every side
(discarded afterwards). With margin ≥ the model's receptive radius a tile's core is bit-for-bit the
untiled computation up to float reassociation, so no seam exists and no blending weights are needed: the
"overlap" is the context band. The tiler knows only what the architecture declares: its context radius and
whether it needs whole-image statistics (`model.needs_statistics`, TinyESPCN's global attention gate). For
those, an image larger than one tile first gets its statistics from a sparse grid of sampled crops (each
with its exact context band, about a tenth of the work of a full pass; `exact=True` runs the full first
pass instead), and every tile then runs with them.

Output goes straight into a preallocated tensor of the caller's dtype (uint8/uint16/float); the working
set is one tile's activations, independent of the image size. A negative tile (`AUTO_TILE`, the default)
is the largest side whose estimated activations fit `TILE_BUDGET_BYTES` (a quarter of free memory on
CUDA), so a lean model runs bigger tiles with less context overhead. Out-of-memory halves the tile (never any
other exception) down to `min_tile`. `on_tile(done, total)` runs after every tile and `should_stop()`
before each one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from .defaults import CODE_CACHE_BYTES, DEFAULT_TILE, TILE_BUDGET_BYTES
from .pixels import store, to_unit_float
from .progress import Progress, ReportFn, StopFn, UpscaleCancelled
from .resize import TiledResize

ProgressFn = ReportFn
PostFn = Callable[[torch.Tensor], torch.Tensor]
MIN_TILE = 32


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    msg = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg)


_STOP = threading.local()


def _layer_check(module: nn.Module, args) -> None:
    stop = getattr(_STOP, "fn", None)
    if stop is not None and stop():
        raise UpscaleCancelled("upscale cancelled")


@contextmanager
def stop_between_layers(model: nn.Module, should_stop: StopFn | None):
    """Check `should_stop` before every layer, so one big tile (or tile=0) still stops within a layer.

    The hooks are installed once per model and read this thread's stop function, so a model cached and
    shared by several hosts or threads never cancels a run that did not ask for it.
    """
    if should_stop is None:
        yield
        return
    if not getattr(model, "_tinyespcn_stop_hooks", False):
        for m in model.modules():
            if not list(m.children()):
                m.register_forward_pre_hook(_layer_check)
        model._tinyespcn_stop_hooks = True
    previous, _STOP.fn = getattr(_STOP, "fn", None), should_stop
    try:
        yield
    finally:
        _STOP.fn = previous


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int

    def grown(self, margin: int, h: int, w: int) -> Tile:
        """This tile with `margin` pixels of context on every side, clipped to an h×w image."""
        return Tile(
            max(0, self.y0 - margin), min(h, self.y1 + margin), max(0, self.x0 - margin), min(w, self.x1 + margin)
        )

    def within(self, outer: Tile) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of this tile inside `outer` (e.g. its grown version)."""
        return self.y0 - outer.y0, self.y1 - outer.y0, self.x0 - outer.x0, self.x1 - outer.x0


def plan_tiles(h: int, w: int, tile: int) -> list[Tile]:
    """Balanced grid (chaiNNer style): ceil(h/tile) rows of near-equal height, same for columns."""
    if tile <= 0:
        return [Tile(0, h, 0, w)]
    ny, nx = math.ceil(h / tile), math.ceil(w / tile)
    ys = [round(i * h / ny) for i in range(ny + 1)]
    xs = [round(i * w / nx) for i in range(nx + 1)]
    return [Tile(ys[i], ys[i + 1], xs[j], xs[j + 1]) for i in range(ny) for j in range(nx)]


def activation_bytes_per_pixel(model: nn.Module) -> int:
    """Rough peak working set per LR pixel: a few feature maps of the widest conv, a few HR-sized copies."""
    from .arch import spec_of

    widths = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)] or [3]
    item = next(model.parameters()).element_size()
    features = 4 * item * max(widths)
    try:
        if spec_of(model).runs_at_hr:  # SRCNN-style: every feature map is HR-sized
            features *= model.scale**2
    except (ValueError, AttributeError):  # an unregistered module (tests, wrappers): assume LR features
        pass
    return features + 6 * 4 * 3 * model.scale**2  # the HR tile is always float32 before it is stored


def auto_tile(model: nn.Module) -> int:
    """The largest tile side (a multiple of 32, at least 64) whose activations with context fit the budget."""
    budget = TILE_BUDGET_BYTES
    device = next(model.parameters()).device
    if device.type == "cuda":
        budget = max(budget, torch.cuda.mem_get_info(device)[0] // 4)
    side = int(math.sqrt(budget / activation_bytes_per_pixel(model))) - 2 * context_margin(model)
    return max(64, min(4096, side // 32 * 32))


def check_tile(tile: int, model: nn.Module, name: str = "tile") -> None:
    """Hosts' check of a user's tile: auto (< 0), 0 (whole image) or at least 2·radius + 8 (below that most
    of the work is context overlap). The core itself accepts any tile (tests use tiny ones)."""
    least = 2 * model.receptive_radius + 8
    if 0 < tile < least:
        raise ValueError(f"{name} {tile}: below {least} (2 x this model's receptive radius + 8); use auto or 0")


def resolve_tile(tile: int, model: nn.Module) -> int:
    return auto_tile(model) if tile < 0 else tile


def needs_statistics(model: nn.Module | None) -> bool:
    return bool(getattr(model, "needs_statistics", False))


def statistics_crops(h: int, w: int, tile: int, exact: bool) -> list[Tile]:
    """Where the statistics pass looks: every tile (exact), or a g×g grid of crops spread over the image.

    The crops' cores add up to about 1/16 of the image (at least 4 crops of 32² LR px, at most 8×8 crops),
    so the pass costs a small fraction of the image's work, whatever its size.
    """
    if exact:
        return plan_tiles(h, w, tile)
    side = max(32, min(tile, 64))
    g = max(2, min(8, round(math.sqrt(h * w / 16) / side)))
    ch, cw = min(side, max(1, h // g)), min(side, max(1, w // g))
    ys = [min(h - ch, round((i + 0.5) * h / g - ch / 2)) for i in range(g)]
    xs = [min(w - cw, round((j + 0.5) * w / g - cw / 2)) for j in range(g)]
    return [Tile(y, y + ch, x, x + cw) for y in ys for x in xs]


STATISTICS = ("auto", "exact", "sampled")  # how a model with an image statistic gets it (see the module doc)


def statistics_mode(exact: bool | str) -> str:
    """The statistics mode from the old `exact` flag or a mode name."""
    mode = {True: "exact", False: "auto"}.get(exact, exact)
    if mode not in (*STATISTICS, "given"):
        raise ValueError(f"statistics must be one of {', '.join(STATISTICS)}, got {exact!r}")
    return mode


def uses_code_cache(model: nn.Module | None, h: int, w: int, statistics: str = "auto") -> bool:
    """Whether an image larger than one tile runs as encode (whole image, exact statistic) + decode per tile
    (never with `statistics="sampled"`, which always samples crops)."""
    if statistics in ("sampled", "given") or not needs_statistics(model) or not hasattr(model, "encode"):
        return False
    item = next(model.parameters()).element_size()
    return model.code_channels * h * w * item <= CODE_CACHE_BYTES


def tile_count(h: int, w: int, tile: int, model: nn.Module | None = None, exact: bool | str = False) -> int:
    """Progress steps for one image: tiles, plus a statistics pass (cached code or crops) where one is needed.
    `exact`: the statistics mode (`STATISTICS`, "given" when the caller supplies the statistic, or a bool)."""
    if tile < 0 and model is None:
        raise ValueError("an automatic tile size needs the model")
    tile = resolve_tile(tile, model)
    mode = statistics_mode(exact)
    n = len(plan_tiles(h, w, tile))
    if n > 1 and needs_statistics(model) and mode != "given":
        if uses_code_cache(model, h, w, mode):
            return 2 * n
        return n + len(statistics_crops(h, w, tile, mode == "exact"))
    return n


@dataclass(frozen=True)
class TileRun:
    """How each tile of one model's pass is run, besides the model and its tile side."""

    margin: int
    post: PostFn | None = None
    statistics: str = "auto"
    resize: TiledResize | None = None
    clamp: bool = True
    stats: torch.Tensor | None = None
    min_tile: int = MIN_TILE


class _Runner:
    def __init__(self, model: nn.Module, run: TileRun, progress: Progress) -> None:
        p = next(model.parameters())
        self.given_stats = None if run.stats is None else run.stats.to(p.device, p.dtype)
        self.resize, self.clamp, self.post = run.resize, run.clamp, run.post
        self.statistics_mode = run.statistics
        self.exact = run.statistics == "exact"
        self.model, self.device, self.dtype = model, p.device, p.dtype
        self.margin, self.min_tile, self.progress = run.margin, run.min_tile, progress
        self.channels_last = self.device.type == "cpu"

    def _input(
        self, img: torch.Tensor, t: Tile, margin: int | None = None
    ) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        h, w = img.shape[-2:]
        g = t.grown(self.margin if margin is None else margin, h, w)
        x = img[None, :, g.y0 : g.y1, g.x0 : g.x1].to(self.device, non_blocking=True)
        # integer images are converted per tile (a whole-image float copy would be 4x the input); the model
        # casts for its convs
        x = x if x.dtype == torch.float32 else to_unit_float(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, t.within(g)

    def steps(self, h: int, w: int, tile: int) -> int:
        mode = "given" if self.given_stats is not None else self.statistics_mode
        return tile_count(h, w, tile, self.model, mode)

    def for_each_tile(
        self,
        h: int,
        w: int,
        tile: int,
        body: Callable[[Tile], None],
        tiles: list[Tile] | None = None,
        planned: int | None = None,
    ) -> int:
        """Run body over the tile grid (or `tiles`); on OOM split the failed tile in halves and go on.
        `planned`: the tile side the progress plan counted this grid pass with (a smaller one is re-planned)."""
        pending = plan_tiles(h, w, tile) if tiles is None else list(tiles)
        if planned is not None and planned != tile:
            self.progress.replan(len(plan_tiles(h, w, planned)), len(pending))
        while pending:
            t = pending[0]
            self.progress.check()
            try:
                body(t)
            except Exception as exc:
                if not is_oom(exc) or tile // 2 < self.min_tile:
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                tile //= 2
                # re-plan the region not yet done: the failed tile split into smaller ones, then the rest
                sub = [
                    Tile(t.y0 + s.y0, t.y0 + s.y1, t.x0 + s.x0, t.x0 + s.x1)
                    for s in plan_tiles(t.y1 - t.y0, t.x1 - t.x0, tile)
                ]
                self.progress.replan(1, len(sub))
                pending = sub + pending[1:]
                continue
            pending.pop(0)
            self.progress.advance()
        return tile

    @torch.inference_mode()
    def run(self, img: torch.Tensor, out: torch.Tensor, tile: int, planned: int) -> int:
        """One image; `planned`: the tile side its progress steps were counted with (an earlier image's
        out-of-memory split may have left a smaller `tile`). Returns the tile side for the next image."""
        model = self.model
        h, w = img.shape[-2:]
        self.progress.replan(self.steps(h, w, planned), self.steps(h, w, tile))
        stats = self.given_stats if needs_statistics(model) else None
        if stats is None and needs_statistics(model) and len(plan_tiles(h, w, tile)) > 1:
            if uses_code_cache(model, h, w, self.statistics_mode):
                return self.run_cached(img, out, tile)
            stats = self.statistics(h, w, tile, lambda t: self._input(img, t))

        def infer(t: Tile) -> None:
            x, offsets = self._input(img, t)
            y = model(x) if stats is None else model(x, stats=stats)
            if self.overflowed(y):
                twin = fp32_twin(model)
                y = twin(x) if stats is None else twin(x, stats=stats.float())
            self.emit(out, t, y, offsets)

        return self.for_each_tile(h, w, tile, infer)

    def run_cached(self, img: torch.Tensor, out: torch.Tensor, tile: int) -> int:
        """Encode every tile into a whole-image code (its trunk part gives the exact gate statistic), then
        decode tile by tile: one full pass plus a cheap one, instead of a statistics pass plus a full pass."""
        model = self.model
        h, w = img.shape[-2:]
        c = model.statistic_channels
        code = torch.empty((1, model.code_channels, h, w), dtype=self.dtype, device=self.device)
        total = torch.zeros((1, c), dtype=torch.float64, device=self.device)

        def encode(t: Tile) -> None:
            x, (a, b, c0, d) = self._input(img, t)
            core = model.encode(x)[:, :, a:b, c0:d]
            code[:, :, t.y0 : t.y1, t.x0 : t.x1] = core
            total.add_(core[:, :c].sum(dim=(2, 3), dtype=torch.float64))

        start = tile
        tile = self.for_each_tile(h, w, tile, encode)
        stats = (total / (h * w)).to(self.dtype)
        m = max(2, self.margin - model.receptive_radius)  # the decode's own context: 3x3 conv + bicubic, + post

        def decode(t: Tile) -> None:
            x, offsets = self._input(img, t, m)
            y0, x0 = t.y0 - offsets[0], t.x0 - offsets[2]
            y = model.decode(x, code[:, :, y0 : y0 + x.shape[-2], x0 : x0 + x.shape[-1]], stats)
            if self.overflowed(y):
                wide, offsets = self._input(img, t)
                y = fp32_twin(model)(wide, stats=stats.float())
            self.emit(out, t, y, offsets)

        return self.for_each_tile(h, w, tile, decode, planned=start)

    def overflowed(self, y: torch.Tensor) -> bool:
        """A reduced-precision tile to redo in fp32. One fp32 sum instead of isfinite's four passes: it is
        non-finite when any value is (or when the sum itself overflows, which only costs an fp32 redo)."""
        return self.dtype != torch.float32 and not torch.isfinite(y.sum(dtype=torch.float32))

    def emit(self, out: torch.Tensor, t: Tile, y: torch.Tensor, offsets: tuple[int, int, int, int]) -> None:
        """Post filters, then the tile's core (or its resized block) into `out` (a 1-channel `out`: its mean)."""
        s = self.model.scale
        a, b, c, d = offsets
        if self.post is not None:
            y = self.post(y.float().clamp_(0, 1))
        if self.resize is None:
            core = y[0, :, a * s : b * s, c * s : d * s]
            store(out[:, t.y0 * s : t.y1 * s, t.x0 * s : t.x1 * s], self._channels(core, out), self.clamp)
            return
        spans = self.resize.spans(t.y0 * s, t.y1 * s, t.x0 * s, t.x1 * s)
        y = y.float().clamp(0, 1) if self.clamp else y.float()
        block = self.resize.apply(y, ((t.y0 - a) * s, (t.x0 - c) * s), spans)
        store(out[:, spans[0] : spans[1], spans[2] : spans[3]], self._channels(block[0], out), self.clamp)

    def _channels(self, rgb: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The RGB tile itself, or for a gray `out` the mean of its clamped float32 channels (what averaging a
        whole float32 RGB result would give, without that 3-channel full-size buffer)."""
        if out.shape[0] != 1:
            return rgb
        rgb = rgb.clamp(0, 1) if self.clamp else rgb
        return rgb.float().mean(dim=0, keepdim=True)

    def statistics(self, h: int, w: int, tile: int, read: Callable[[Tile], tuple[torch.Tensor, tuple]]) -> torch.Tensor:
        """The whole-image mean [1,C] from the sampled crops (or every tile when exact), fp64-accumulated.
        `read(crop)`: the crop's model input with its context, and the crop's region in it."""
        crops = statistics_crops(h, w, tile, self.exact)
        parts: list[torch.Tensor] = []

        def pool(t: Tile) -> None:
            x, region = read(t)
            parts.append(self.model.statistics(x, region))

        self.for_each_tile(h, w, tile, pool, tiles=crops)
        area = sum((t.y1 - t.y0) * (t.x1 - t.x0) for t in crops)  # an OOM split keeps the same total area
        return (torch.stack(parts).sum(dim=0) / area).to(self.dtype)


@torch.inference_mode()
def sampled_statistics(
    model: nn.Module,
    h: int,
    w: int,
    read_region: Callable[[Tile], torch.Tensor],
    *,
    tile: int = DEFAULT_TILE,
    post_margin: int = 0,
) -> torch.Tensor:
    """The statistic `upscale_tensor` uses for an h×w image above the code-cache budget, with each crop (grown
    by the same context) read by `read_region(grown)` as a [1,3,h',w'] model input: a lazy source (`banded`)."""
    margin = context_margin(model) + math.ceil(post_margin / model.scale)
    progress = Progress()
    tile = resolve_tile(tile, model)
    progress.expect(len(statistics_crops(h, w, tile, False)))
    runner = _Runner(model, TileRun(margin), progress)

    def read(t: Tile) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
        g = t.grown(margin, h, w)
        return read_region(g), t.within(g)

    return runner.statistics(h, w, tile, read)


def attach_fp32_twin(model: nn.Module, twin: nn.Module) -> None:
    """Keep the fp32 original beside a reduced-precision model (not a submodule: out of state_dict/.to())."""
    object.__setattr__(model, "_tinyespcn_fp32", twin)


def fp32_twin(model: nn.Module) -> nn.Module:
    """The fp32 original of a reduced-precision model, for the tiles its own dtype cannot hold (without
    one, a copy cast back to fp32: the same function, with the reduced weights)."""
    twin = getattr(model, "_tinyespcn_fp32", None)
    if twin is None:
        import copy

        twin = copy.deepcopy(model).float()
        attach_fp32_twin(model, twin)
    return twin


def context_margin(model: nn.Module) -> int:
    """LR context each tile carries: the model's receptive radius plus 2 pixels of slack."""
    return model.receptive_radius + 2


@dataclass(frozen=True)
class TileOptions:
    """How `upscale_tensor` runs each tile, besides the model and the tile side.

    `post` (e.g. unsharp → anti-alias) runs on each HR tile before it is stored; `post_margin` is the HR
    context it needs, added to the tile's LR context so the filtered result is also seam-free. `margin`
    below the model's context makes tiles approximate (seams); None uses `context_margin(model)`. `exact`:
    image statistics (models that need them) from a full first pass instead of sampled crops (or a mode of
    `STATISTICS`). `size` (out_h, out_w): Lanczos-resize the model's output to it inside the same tile loop
    (any factor, no full-size intermediate), equal to `pil_resize` of the whole upscaled image. `clamp=False`:
    a float `out` keeps values outside [0,1] (intensity-windowed inputs). `stats`: the image statistic of a
    model that needs one, computed by the caller for a larger image this is a part of (see `banded`); used
    for every tile. `out_dtype`: the new output tensor's dtype when no `out` is given.
    """

    margin: int | None = None
    post: PostFn | None = None
    post_margin: int = 0
    exact: bool | str = False
    size: tuple[int, int] | None = None
    clamp: bool = True
    stats: torch.Tensor | None = None
    min_tile: int = MIN_TILE
    out_dtype: torch.dtype = torch.float32


def upscale_tensor(
    model: nn.Module,
    x: torch.Tensor,
    *,
    tile: int = DEFAULT_TILE,
    out: torch.Tensor | None = None,
    opts: TileOptions | None = None,
    on_tile: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    progress: Progress | None = None,
) -> torch.Tensor:
    """RGB [B,3,H,W] (float in [0,1], or uint8/uint16 converted tile by tile; any device) → [B,3,sH,sW] in `out`
    (or a new tensor of `opts.out_dtype`) on x's device; a 1-channel `out` gets the mean of the RGB result.
    `opts`: margin, post filters, statistics, resize, clamp (`TileOptions`). `progress`: a job's `Progress`
    that already expects this call's steps (counted with this `tile`); without one, `on_tile`/`should_stop`
    are wrapped in a new one here.
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"upscale_tensor needs RGB [B,3,H,W], got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    if h < 1 or w < 1:
        raise ValueError(f"cannot upscale an empty image of size {h}x{w}")
    s = model.scale
    opts = opts or TileOptions()
    out_h, out_w = opts.size or (h * s, w * s)
    resize = TiledResize((h * s, w * s), (out_h, out_w)) if (out_h, out_w) != (h * s, w * s) else None
    if out is None:
        out = torch.empty((b, 3, out_h, out_w), dtype=opts.out_dtype, device=x.device)
    elif out.dim() != 4 or out.shape[1] not in (1, 3) or tuple(out.shape[2:]) != (out_h, out_w) or len(out) != b:
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {(b, 3, out_h, out_w)} (or 1 channel)")
    planned = resolve_tile(tile, model)
    margin = context_margin(model) if opts.margin is None else opts.margin
    margin += math.ceil((opts.post_margin + (resize.margin if resize else 0)) / model.scale)
    mode = "given" if opts.stats is not None else statistics_mode(opts.exact)
    run = TileRun(margin, opts.post, mode if mode != "given" else "auto", resize, opts.clamp, opts.stats, opts.min_tile)
    if progress is None:
        progress = Progress(on_tile, should_stop)
        progress.expect(b * tile_count(h, w, planned, model, mode))
    runner = _Runner(model, run, progress)
    tile = planned
    with stop_between_layers(model, progress.stop):
        for i in range(b):
            tile = runner.run(x[i].detach(), out[i], tile, planned)
    return out
