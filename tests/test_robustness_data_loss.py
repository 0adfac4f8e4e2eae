"""Issue 33, data loss: no output is replaced without --overwrite (not even by a race), temp files of a
killed run are never read as inputs and are cleaned, reruns skip finished files, inputs are never modified.
Multi-frame files: test_robustness_multiframe.py; a real kill -9: test_robustness_kill.py."""

import hashlib
import os
import threading

import numpy as np
import pytest
from PIL import Image

from tinyespcn_nodes.core.files import atomic_path, clean_stale_temps, is_temp_name
from tinyespcn_nodes.hosts.cli.main import main
from tinyespcn_nodes.io.imagefiles import write_image


def _photo(path, seed=0, size=(11, 9)):
    arr = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def _up(*args, weights):
    return main(["upscale", *map(str, args), "--weights", str(weights)])


def test_no_clobber_is_atomic_a_file_made_after_the_check_is_kept(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(FileExistsError, match="out.png"):
        with atomic_path(target, overwrite=False) as tmp:
            tmp.write_bytes(b"ours")
            target.write_bytes(b"someone else's")  # appears between the plan's check and the publish
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # our temp file is gone too


def test_concurrent_writers_of_one_name_one_wins_the_other_is_refused(tmp_path):
    target, results = tmp_path / "same.png", []
    barrier = threading.Barrier(2)

    def writer(seed):
        arr = np.full((4, 4, 3), seed, np.uint8)
        barrier.wait()
        try:
            write_image(target, arr, overwrite=False)
            results.append(seed)
        except FileExistsError:
            results.append(None)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (10, 200)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and np.asarray(Image.open(target))[0, 0, 0] == winners[0]


def test_cli_race_output_appearing_during_the_batch_is_skipped_not_replaced(
    tmp_path, weights_file, monkeypatch, capsys
):
    import tinyespcn_nodes.hosts.cli.batch as batch

    _photo(tmp_path / "a.png")
    out = tmp_path / "out"
    real = batch.write_image

    def racing(target, *a, **k):
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(b"theirs")  # another run finished this name a moment ago
        return real(target, *a, **k)

    monkeypatch.setattr(batch, "write_image", racing)
    assert _up(tmp_path / "a.png", "-o", out, weights=weights_file) == 0
    assert (out / "a_x2_tiny-x2.png").read_bytes() == b"theirs"
    assert "skipped" in capsys.readouterr().err


def test_rerun_of_a_finished_folder_skips_done_files_rc0(tmp_path, weights_file, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(3):
        _photo(src / f"{i}.png", i)
    assert _up(src, "-o", out, weights=weights_file) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert _up(src, "-o", out, weights=weights_file) == 0
    err = capsys.readouterr().err
    assert "0 of 3 file(s) written, 3 skipped (exists)" in err and "failed" not in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_leftover_temp_file_of_a_killed_run_is_not_an_input_and_is_cleaned(tmp_path, weights_file, capsys):
    pics = tmp_path / "pics"
    pics.mkdir()
    _photo(pics / "a.png")
    dead = ".a_x2.png.999999-abc123.tmp.png"  # what kill -9 during the write leaves (pid 999999 is gone)
    old_style = ".b_x2.png.k2j3h4.tmp.png"  # versions before the pid was in the name
    (pics / dead).write_bytes(b"\x89PNG half")
    (pics / old_style).write_bytes(b"\x89PNG half")
    os.utime(pics / old_style, (1, 1))
    assert is_temp_name(dead) and is_temp_name(old_style) and not is_temp_name("a.png")
    assert _up(pics, "-o", pics, weights=weights_file) == 0
    assert sorted(p.name for p in pics.iterdir()) == ["a.png", "a_x2_tiny-x2.png"]
    assert "removed" in capsys.readouterr().err


def test_a_live_runs_temp_file_is_left_alone(tmp_path):
    live = tmp_path / f".x.png.{os.getpid()}-abc.tmp.png"
    live.write_bytes(b"in progress")
    assert clean_stale_temps(tmp_path) == [] and live.exists()


def test_interrupted_write_leaves_no_temp_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "big.tif") as tmp:
            tmp.write_bytes(b"x" * 1000)
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_inputs_are_never_modified(tmp_path, weights_file):
    """Regression: a run (with --overwrite, into the input folder) leaves every input byte-identical."""
    pics = tmp_path / "pics"
    pics.mkdir()
    for i in range(3):
        _photo(pics / f"{i}.png", i)
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in pics.iterdir()}
    assert _up(pics, "-o", pics, "--overwrite", weights=weights_file) == 0
    assert {n: hashlib.sha256((pics / n).read_bytes()).hexdigest() for n in digest} == digest
