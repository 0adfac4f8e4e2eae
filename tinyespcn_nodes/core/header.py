"""A safetensors file's header read without torch: its metadata, and a digest that names its content's form.

The header is the JSON that precedes the tensor bytes: tensor names, dtypes, shapes and offsets, plus the
`__metadata__` strings. Reading it costs one small read, so commands that only describe files (`models`,
`--help`) answer without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os

MAX_HEADER_BYTES = 100_000_000


def _header_bytes(path: str | os.PathLike) -> bytes | None:
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 2 <= n <= MAX_HEADER_BYTES:
                return None
            raw = f.read(n)
    except OSError:
        return None
    return raw if len(raw) == n else None


def peek_metadata(path: str | os.PathLike) -> dict[str, str] | None:
    """The safetensors header's metadata without reading any tensor, or None if the file is not safetensors."""
    raw = _header_bytes(path)
    try:
        header = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if header is None:
        return None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def header_digest(path: str | os.PathLike) -> str | None:
    """sha256 of the header (every tensor's name, dtype and shape, and the metadata): equal digests mean the
    same network, config and scales, so the same MAC counts. None when the file has no readable header."""
    raw = _header_bytes(path)
    return hashlib.sha256(raw).hexdigest() if raw is not None else None
