"""zarr / OME-Zarr in and out on dask schedulers: exact, resumable chunk by chunk, and surviving a dead worker."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

from tinyespcn_nodes.core.intensity import choose_window  # noqa: E402
from tinyespcn_nodes.engine.job import UpscaleOptions, upscale_array  # noqa: E402
from tinyespcn_nodes.hosts.cli.main import main  # noqa: E402
from tinyespcn_nodes.io import zarr_job  # noqa: E402

WEIGHTS = "fast-x2"


def _stack(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:70, 0:58]
    base = 300 + 150 * np.sin(yy / 5.0) * np.cos(xx / 7.0)
    return np.stack([base + rng.normal(0, 20, base.shape) for _ in range(3)]).clip(0, 65535).astype(np.uint16)


def _reference(planes: np.ndarray) -> np.ndarray:
    window = choose_window(da.from_array(planes), "auto", rgb=False)  # the job's one window for the whole array
    return np.stack([upscale_array(p, weights=WEIGHTS, scale=2, intensity=window, precision="fp32") for p in planes])


def _plain(path: Path, data: np.ndarray) -> Path:
    z = zarr.create_array(str(path), shape=data.shape, chunks=(1, 32, 24), dtype=data.dtype)
    z[:] = data
    return path


def _ome(path: Path, data: np.ndarray) -> Path:
    group = zarr.open_group(str(path), mode="w")
    group.create_array("0", shape=data.shape, chunks=(1, 32, 24), dtype=data.dtype)[:] = data
    half = data[:, ::2, ::2]
    group.create_array("1", shape=half.shape, chunks=(1, 32, 24), dtype=data.dtype)[:] = half
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]  # fmt: skip
    datasets = [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.2, 0.2]},
                                                    {"type": "translation", "translation": [0.0, 5.0, 7.0]}]},
        {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.4, 0.4]}]},
    ]  # fmt: skip
    group.attrs["multiscales"] = [{"version": "0.4", "name": "cells", "axes": axes, "datasets": datasets}]
    return path


def test_ome_zarr_level_upscaled_exactly_with_pixel_sizes_and_centres(tmp_path):
    data = _stack()
    src = _ome(tmp_path / "in.zarr", data)
    report = zarr_job.upscale_zarr(
        src, tmp_path / "out.zarr", UpscaleOptions(WEIGHTS, 2, precision="fp32"), progress=False
    )
    assert (report.chunks, report.written, report.skipped) == (12, 12, 0)  # short last chunks join a neighbour
    group = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    out = group["0"][:]
    assert out.dtype == np.uint16 and out.shape == (3, 140, 116)
    np.testing.assert_array_equal(out, _reference(data))  # chunk seams exact
    ms = group.attrs["multiscales"][0]
    assert ms["axes"][1]["unit"] == "micrometer"
    scale, trans = (t for t in ms["datasets"][0]["coordinateTransformations"])
    assert scale["scale"] == [1.0, 0.1, 0.1]
    assert trans["translation"] == pytest.approx([0.0, 5.0 - 0.05, 7.0 - 0.05])  # new pixel centres
    assert group.attrs["tinyespcn_job"]["complete"] and not (tmp_path / "out.zarr.progress").exists()

    level1 = zarr_job.upscale_zarr(
        src, tmp_path / "l1.zarr", UpscaleOptions(WEIGHTS, 2, precision="fp32"), level=1, progress=False
    )
    assert zarr.open_group(str(level1.output), mode="r")["0"].shape == (3, 70, 58)
    with pytest.raises(zarr_job.ZarrJobError, match="--level 5 does not exist"):
        zarr_job.upscale_zarr(src, tmp_path / "l5.zarr", UpscaleOptions(WEIGHTS, 2), level=5, progress=False)


def test_an_interrupted_job_resumes_and_rewrites_a_half_written_chunk(tmp_path, monkeypatch):
    data = _stack(1)
    src, dst = _plain(tmp_path / "in.zarr", data), tmp_path / "out.zarr"
    real, calls = zarr_job.write_chunk, []

    def dies_after_four(block, array_path, region, marker):
        calls.append(region)
        if len(calls) == 5:  # the fifth chunk: half written, then the process "dies" before its marker
            out = zarr.open_array(array_path, mode="r+")
            out[tuple(slice(a, (a + b) // 2) for a, b in region)] = 7
            raise KeyboardInterrupt
        return real(block, array_path, region, marker)

    monkeypatch.setattr(zarr_job, "write_chunk", dies_after_four)
    with pytest.raises(KeyboardInterrupt):
        zarr_job.upscale_zarr(src, dst, UpscaleOptions(WEIGHTS, 2, precision="fp32"), scheduler="sync", progress=False)
    assert len(list((tmp_path / "out.zarr.progress").iterdir())) == 4
    monkeypatch.setattr(zarr_job, "write_chunk", real)
    with pytest.raises(zarr_job.ZarrJobError, match="holds another job's result; pass --overwrite"):
        zarr_job.upscale_zarr(src, dst, UpscaleOptions(WEIGHTS, 2, precision="bf16"), scheduler="sync", progress=False)
    report = zarr_job.upscale_zarr(
        src, dst, UpscaleOptions(WEIGHTS, 2, precision="fp32"), scheduler="sync", progress=False
    )
    assert (report.written, report.skipped) == (report.chunks - 4, 4)
    np.testing.assert_array_equal(zarr.open_array(str(dst))[:], _reference(data))
    again = zarr_job.upscale_zarr(src, dst, UpscaleOptions(WEIGHTS, 2, precision="fp32"), progress=False)
    assert (again.written, again.skipped) == (0, report.chunks)


def test_cli_routes_zarr_and_reports_bad_input_cleanly(tmp_path, capsys):
    src = _plain(tmp_path / "in.zarr", _stack(2))
    out = tmp_path / "out.zarr"
    assert main(["upscale", str(src), "-o", str(out), "--weights", WEIGHTS, "--precision", "fp32"]) == 0
    assert "already done" in capsys.readouterr().out
    assert zarr.open_array(str(out)).shape == (3, 140, 116)
    assert main(["upscale", str(src), "-o", str(src)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert main(["upscale", str(src)]) == 2
    assert "upscale IN.zarr -o OUT.zarr" in capsys.readouterr().err
    group = zarr.open_group(str(tmp_path / "bare.zarr"), mode="w")
    group.create_array("a", shape=(4, 4), dtype="u1")
    assert main(["upscale", str(tmp_path / "bare.zarr"), "-o", str(tmp_path / "o2.zarr")]) == 2
    assert "without OME-Zarr multiscales metadata" in capsys.readouterr().err
    assert main(["upscale", str(src), "-o", str(tmp_path / "o3.zarr"), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "no dask scheduler answers there" in capsys.readouterr().err


def test_local_cluster_survives_a_killed_worker_with_a_memory_limit(tmp_path):
    distributed = pytest.importorskip("distributed")
    from distributed.diagnostics.plugin import WorkerPlugin

    class KillOnce(WorkerPlugin):
        """The first worker to start writing a chunk dies on the spot (os._exit), once per run."""

        name = "kill-once"

        def __init__(self, flag: str) -> None:
            self.flag = flag

        def transition(self, key, start, finish, **kwargs) -> None:
            if finish == "executing" and "write_chunk" in str(key) and not os.path.exists(self.flag):
                Path(self.flag).write_text(str(os.getpid()))
                os._exit(1)

    data = _stack(3)
    src = _plain(tmp_path / "in.zarr", data)
    flag = tmp_path / "killed"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GB",
                                  host="127.0.0.1", dashboard_address=None) as cluster:  # fmt: skip
        with distributed.Client(cluster) as client:
            client.register_plugin(KillOnce(str(flag)))
            report = zarr_job.upscale_zarr(src, tmp_path / "out.zarr", UpscaleOptions(WEIGHTS, 2, precision="fp32"),
                                           scheduler=cluster.scheduler_address, progress=False)  # fmt: skip
    assert flag.exists()  # a worker really died mid-job
    assert report.written == report.chunks
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "out.zarr"))[:], _reference(data))


def test_a_folder_on_a_local_cluster_writes_every_good_file_and_reports_the_bad_one(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(4)
    for name in ("a.png", "b.jpg"):
        Image.fromarray((rng.random((30, 41, 3)) * 255).astype(np.uint8)).save(folder / name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    args = ["upscale", str(folder), "--weights", WEIGHTS, "--precision", "fp32"]
    assert main([*args, "-o", str(tmp_path / "local")]) == 1  # the in-process path, for reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:  # fmt: skip
        capsys.readouterr()
        assert main([*args, "-o", str(tmp_path / "remote"), "--scheduler", cluster.scheduler_address]) == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "1 of 3 file(s) failed" in err
    for name in ("a_x2_fast-x2.png", "b_x2_fast-x2.jpg"):  # a non-default model is named; a JPEG stays a JPEG
        local = np.asarray(Image.open(tmp_path / "local" / name))
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "remote" / name)), local)
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == ["a_x2_fast-x2.png", "b_x2_fast-x2.jpg"]
