"""A uint16 zarr stack through `upscale IN.zarr -o OUT.zarr`: one process vs a 2-worker LocalCluster.

    python scripts/zarr_bench.py [--planes 64] [--size 1024] [--weights fast-x2] [--memory-limit 1GB]

Prints wall time, output MP/s, peak RSS per worker (bounded by the chunk size, not the array), and checks
that both outputs are identical at every chunk. Needs the dask extra (dask, distributed, zarr).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM; ru_maxrss can carry a parent's peak across fork/exec)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_stack(path: Path, planes: int, size: int, chunk: int):
    import zarr

    z = zarr.create_array(str(path), shape=(planes, size, size), chunks=(1, chunk, chunk), dtype="uint16")
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    rng = np.random.default_rng(0)
    for i in range(planes):  # dim fluorescence-like structures on an offset, plus shot noise
        blobs = 400 * np.sin(yy / (9 + i % 5)) ** 2 * np.cos(xx / (13 + i % 7)) ** 2
        z[i] = (120 + blobs + rng.normal(0, 12, blobs.shape)).clip(0, 65535).astype(np.uint16)
    return z


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--planes", type=int, default=64)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--weights", default="fast-x2")
    ap.add_argument("--memory-limit", default="1GB", help="per worker")
    args = ap.parse_args()

    import distributed
    import torch
    import zarr

    from tinyespcn_nodes.engine.options import UpscaleOptions
    from tinyespcn_nodes.io.zarr_job import upscale_zarr

    options = UpscaleOptions(args.weights, 2)
    out_bytes = args.planes * (2 * args.size) ** 2 * 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_stack(tmp / "in.zarr", args.planes, args.size, args.chunk)
        print(f"input {args.planes} x {args.size}² uint16 ({args.planes * args.size**2 * 2 / 2**20:.0f} MiB), chunks "
              f"1 x {args.chunk}², x2 with {args.weights}; output {out_bytes / 2**20:.0f} MiB; torch {torch.__version__}")  # fmt: skip
        mp_out = args.planes * (2 * args.size) ** 2 / 1e6

        torch.set_num_threads(2)
        t0 = time.perf_counter()
        one = upscale_zarr(tmp / "in.zarr", tmp / "one.zarr", options, scheduler="sync", progress=False)
        single = time.perf_counter() - t0
        print(f"one process (sync scheduler, 2 torch threads): {single:.1f} s, {mp_out / single:.2f} output MP/s, "
              f"{one.chunks} chunks, peak RSS {_peak_rss_mb():.0f} MB")  # fmt: skip

        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      memory_limit=args.memory_limit, host="127.0.0.1",
                                      dashboard_address=None) as cluster:  # fmt: skip
            with distributed.Client(cluster) as client:
                client.run(torch.set_num_threads, 1)
                t0 = time.perf_counter()
                upscale_zarr(tmp / "in.zarr", tmp / "two.zarr", options,
                             scheduler=cluster.scheduler_address, progress=False)  # fmt: skip
                wall = time.perf_counter() - t0
                peaks = client.run(_peak_rss_mb)
        per_worker = ", ".join(f"{v:.0f}" for v in peaks.values())
        print(f"LocalCluster 2 workers x 1 thread, memory_limit {args.memory_limit}: {wall:.1f} s, "
              f"{mp_out / wall:.2f} output MP/s ({single / wall:.2f}x one process); peak RSS per worker "
              f"{per_worker} MB (output {out_bytes / 2**20:.0f} MiB)")  # fmt: skip
        chunk_s = wall * 2 / one.chunks
        print(f"per chunk: {chunk_s:.2f} worker-seconds; N machines x W cores ≈ N·W / {chunk_s:.2f} chunks/s "
              f"while the store keeps up (chunks are independent)")  # fmt: skip
        a, b = zarr.open_array(str(tmp / "one.zarr")), zarr.open_array(str(tmp / "two.zarr"))
        same = all(np.array_equal(a[i], b[i]) for i in range(args.planes))
        print(f"outputs identical at every chunk: {same}")
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
