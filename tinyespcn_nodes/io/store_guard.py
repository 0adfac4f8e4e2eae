"""Which existing folder an `--overwrite` may replace: only a store this program wrote, never anything else.

A zarr output is a folder; replacing it deletes the folder. So `--overwrite` is honoured only for a zarr
store whose attributes carry our job marker and which holds nothing but zarr entries, and never for the
current folder, a parent of it, the input, or a parent of the input.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

# what a zarr v2/v3 store (array or group of arrays) holds at its top level: metadata and chunk keys
_ZARR_ENTRY = re.compile(r"^(zarr\.json|\.zarray|\.zattrs|\.zgroup|\.zmetadata|c|\d+(?:[./]\d+)*)$")


def replace_refusal(dst: Path, src: str | os.PathLike | None, job_key: str) -> str | None:
    """None when `dst` may be replaced by `--overwrite`; else why not (for a one-line message)."""
    target = dst.resolve()
    protected = [(Path.cwd().resolve(), "the current folder")]
    if src is not None:
        protected.append((Path(src).resolve(), "the input"))
    for folder, what in protected:
        if target == folder or target in folder.parents:
            return f"is {what} or a folder above it"
    if not target.is_dir():
        return None if not target.exists() else "is a file, not a zarr store"
    if not _has_marker(target, job_key):
        return "is not a store this program wrote (no job marker)"
    foreign = sorted(e.name for e in os.scandir(target) if not _ZARR_ENTRY.match(e.name))
    if foreign:
        return f"holds other files too ({', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''})"
    return None


def _has_marker(store: Path, job_key: str) -> bool:
    for meta, key in ((store / "zarr.json", "attributes"), (store / ".zattrs", None)):
        try:
            data = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        attrs = data.get(key, {}) if key else data
        if isinstance(attrs, dict) and isinstance(attrs.get(job_key), dict):
            return True
    return False
