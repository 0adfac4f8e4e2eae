"""Bench child: peak RSS of a 2048² → 8192² x4 uint8 upscale (seed config) in a fresh process.

Run by `bench` as `python -m tinyespcn_nodes.hosts.cli.bench.memory_child`; prints one JSON line.
"""

from __future__ import annotations

import json

import torch

from ....core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from ....engine.job import upscale_bchw_tensor
from .rss import high_water


def measure(side: int = 2048, scale: int = 4) -> dict:
    torch.manual_seed(0)
    model = TinyESPCN(TinyESPCNConfig(scale=scale)).eval().to(memory_format=torch.channels_last)
    img = torch.randint(0, 256, (1, 3, side, side), dtype=torch.uint8)
    base = high_water()
    out = upscale_bchw_tensor(img, [model])
    return {"out_bytes": out.numel() * out.element_size(), "peak_rss": high_water(), "rss_before": base,
            "shape": list(out.shape)}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(measure()))
