"""Between the core and the hosts: `prepare(UpscaleOptions) -> UpscaleJob` resolves a run once (model chain,
tile per model, context, precision, device, statistics mode); `Progress` counts it. Imports stay lazy, so
`python -m tinyespcn_nodes --help` does not load torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.progress import Progress, UpscaleCancelled
    from .job import UpscaleJob, prepare
    from .options import UpscaleOptions

__all__ = ["Progress", "UpscaleCancelled", "UpscaleJob", "UpscaleOptions", "prepare"]
_WHERE = {"Progress": "..core.progress", "UpscaleCancelled": "..core.progress", "UpscaleJob": ".job",
          "prepare": ".job", "UpscaleOptions": ".options"}  # fmt: skip


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_WHERE[name], __name__), name)
