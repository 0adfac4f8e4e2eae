"""Bench child: OpenCV dnn_superres as a whole process, for the start-up row: read a PNG, load the `.pb`
model, upsample, write. Imports OpenCV and nothing of torch (this package's `__init__` is light).

Run by `bench` as `python -m tinyespcn_nodes.hosts.cli.bench.opencv_child SRC DST MODEL.pb ALGO SCALE`;
prints one JSON line: {"ok": true} or {"skipped": why}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ....io.opencv_peer import load_opencv_superres


def upscale(src: str, dst: str, pb: str, algo: str, scale: int) -> dict:
    sr, reason = load_opencv_superres(Path(pb), algo, scale)
    if sr is None:
        return {"skipped": reason}
    import cv2

    if not cv2.imwrite(dst, sr.upsample(cv2.imread(src, cv2.IMREAD_COLOR))):
        return {"skipped": f"OpenCV could not write {dst}"}
    return {"ok": True}


if __name__ == "__main__":
    print(json.dumps(upscale(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))))
