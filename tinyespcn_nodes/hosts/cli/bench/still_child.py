"""Bench child: one still through the CLI (fast-x2, its own defaults) in a fresh process, and its peak RSS.

Run by `bench --video` as `python -m tinyespcn_nodes.hosts.cli.bench.still_child SRC DST`; prints one JSON line.
"""

from __future__ import annotations

import json
import sys

from ..main import main
from .rss import high_water


def measure(src: str, dst: str) -> dict:
    code = main(["upscale", src, "-o", dst, "--weights", "fast-x2"])  # the CLI's own defaults
    return {"code": code, "peak_rss": high_water()}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
