"""OpenCV dnn_superres (ESPCN/FSRCNN `.pb` files) as a benchmark peer: loaded, or the reason it cannot be."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_opencv_superres(pb: Path, algo: str, scale: int) -> tuple[Any | None, str]:
    """(a ready `DnnSuperResImpl`, "") or (None, why not): opencv-contrib missing, no file, or an OpenCV that
    cannot read the TensorFlow graph (OpenCV 5's importer rejects these `.pb` files)."""
    try:
        import cv2

        sr = cv2.dnn_superres.DnnSuperResImpl_create()
    except (ImportError, AttributeError):
        return None, "opencv-contrib not installed (the `io16` extra)"
    if not pb.is_file():
        return None, f"{pb.name} not found"
    try:
        sr.readModel(str(pb))
        sr.setModel(algo, scale)
    except cv2.error as e:
        first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        return None, f"OpenCV {cv2.__version__} cannot load {pb.name}: {first}"
    return sr, ""
