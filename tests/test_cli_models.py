"""Choosing a model from the command line, the help it prints, and the format its outputs keep."""

import argparse

import numpy as np
import pytest
from conftest import REPO
from PIL import Image, JpegImagePlugin

from tinyespcn_nodes.core.arch import macs_per_lr_pixel
from tinyespcn_nodes.core.catalog import baselines, bundled
from tinyespcn_nodes.core.model_table import model_rows, render_markdown
from tinyespcn_nodes.core.weights import load_model
from tinyespcn_nodes.hosts.cli.main import build_parser, main
from tinyespcn_nodes.hosts.cli.readme_block import read_block


def _photo(path, size=(11, 9), seed=0, **save):
    arr = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(path, **save)
    return path


def test_no_subcommand_prints_the_help_not_the_demo(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m tinyespcn_nodes") and "models" in out and "upscale" in out
    assert not (tmp_path / "tinyespcn_out").exists()


def test_every_option_of_every_subcommand_says_its_default():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    for name, p in sub.choices.items():
        for action in p._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            if not action.help or "default" not in action.help.lower():
                missing.append(f"{name} {action.option_strings[-1]}")
        assert all(a.help for a in p._actions if not a.option_strings), name  # positionals are explained too
    assert not missing, missing


def test_models_prints_one_row_per_file_with_counted_macs_and_stored_quality(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    files = {**bundled(), **baselines()}
    assert "pyramid-x8" in files and len(out) == 2 + len(files)
    for name, path in files.items():
        (row,) = [line for line in out if line.split()[0] == name]
        model, info = load_model(path)
        assert f"{macs_per_lr_pixel(model):,}" in row
        set5 = info.metrics[f"Set5_x{info.scale}_psnr_y"]
        assert f"Set5 x{info.scale} {set5:.2f} dB" in row
    assert "faces" in next(line for line in out if line.startswith("portrait-x2"))


def test_readme_table_is_what_models_prints():
    assert read_block(REPO / "README.md", "models") == render_markdown(model_rows())


def _run(tmp_path, capsys, *argv):
    code = main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--precision", "fp32", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_weights_alone_set_the_scale_and_the_success_line_names_the_model(tmp_path, capsys):
    _photo(tmp_path / "a.png")
    code, out, _ = _run(tmp_path, capsys, "--weights", "fast-x4")
    assert code == 0 and "fast-x4" in out
    assert Image.open(tmp_path / "out" / "a_x4_fast-x4.png").size == (44, 36)


def test_a_scale_the_weights_do_not_serve_is_one_line_naming_both(tmp_path, capsys):
    _photo(tmp_path / "a.png")
    code, _, err = _run(tmp_path, capsys, "--weights", "fast-x4", "--scale", "2")
    assert code == 2 and err.count("\n") == 1 and "--scale 2" in err and "fast-x4" in err and "x4" in err
    assert not (tmp_path / "out").exists()


def test_two_models_at_one_scale_never_share_an_output_name(tmp_path, capsys):
    _photo(tmp_path / "a.png")
    assert _run(tmp_path, capsys, "--weights", "fast-x2")[0] == 0
    assert _run(tmp_path, capsys, "--scale", "2")[0] == 0  # the default, general-x2
    code, out, _ = _run(tmp_path, capsys, "--weights", "portrait-x2")
    assert code == 0 and "portrait-x2" in out
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["a_x2.png", "a_x2_fast-x2.png", "a_x2_portrait-x2.png"]


def test_renamed_portrait_names_load_the_new_files_and_retired_ones_say_why(tmp_path, capsys):
    from tinyespcn_nodes.core.catalog import resolve_weights

    assert resolve_weights("balanced-portrait-x2") == resolve_weights("portrait-x2")
    assert resolve_weights("balanced-portrait", 4) == resolve_weights("portrait-x4")
    _photo(tmp_path / "a.png")
    code, _, err = _run(tmp_path, capsys, "--weights", "seed-portrait-x2")
    assert code == 2 and err.count("\n") == 1 and "retired" in err and "portrait-x2" in err


def test_the_pyramid_baseline_runs_by_name_at_each_scale_it_serves(tmp_path, capsys):
    _photo(tmp_path / "a.png", size=(8, 6))
    code, out, _ = _run(tmp_path, capsys, "--weights", "pyramid-x8", "--scale", "2")
    assert code == 0 and "pyramid-x8" in out
    assert Image.open(tmp_path / "out" / "a_x2_pyramid-x8.png").size == (16, 12)


def _quantization(quality: int) -> dict:
    probe = Image.new("RGB", (16, 16))
    from io import BytesIO

    buf = BytesIO()
    probe.save(buf, "JPEG", quality=quality)
    return Image.open(buf).quantization


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_outputs_keep_the_input_format(tmp_path, weights_file, suffix):
    src = _photo(tmp_path / f"a{suffix}")
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights_file)]) == 0
    (out,) = (tmp_path / "out").iterdir()
    assert out.name == f"a_x2_tiny-x2{suffix}"
    with Image.open(out) as im:
        assert im.format == Image.open(src).format and im.size == (22, 18)
        if suffix == ".jpg":
            assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
            assert im.quantization == _quantization(95)


def test_format_and_quality_options(tmp_path, weights_file, capsys):
    src = _photo(tmp_path / "a.jpg")
    base = ["upscale", str(src), "--weights", str(weights_file)]
    assert main([*base, "-o", str(tmp_path / "png"), "--format", "png"]) == 0
    assert Image.open(tmp_path / "png" / "a_x2_tiny-x2.png").format == "PNG"
    assert main([*base, "-o", str(tmp_path / "q"), "--quality", "70"]) == 0
    assert Image.open(tmp_path / "q" / "a_x2_tiny-x2.jpg").quantization == _quantization(70)
    capsys.readouterr()
    assert main([*base, "-o", str(tmp_path / "x.png"), "--format", "jpeg"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--format jpeg" in err and "x.png" in err


def test_alpha_cannot_go_to_jpeg_and_says_so(tmp_path, weights_file, capsys):
    rgba = (np.random.default_rng(0).random((9, 11, 4)) * 255).astype(np.uint8)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    argv = ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--weights", str(weights_file)]
    assert main([*argv, "--format", "jpeg"]) == 1
    assert "JPEG cannot store the alpha channel" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def _imports_torch(*args: str) -> bool:
    """Whether `python -m tinyespcn_nodes ARGS` imports torch, read from the process's own -X importtime list."""
    import re
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "tinyespcn_nodes", *args],
                         capture_output=True, text=True, cwd=REPO)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "import time:" in res.stderr and res.stdout
    return re.search(r"\|\s*torch\s*$", res.stderr, re.M) is not None


@pytest.mark.parametrize("args", [("--help",), ("models",), ("models", "--markdown")])
def test_help_and_models_answer_without_importing_torch(args):
    assert not _imports_torch(*args)
    assert _imports_torch("info")  # the check sees torch when a command does import it


def test_the_cost_table_holds_every_shipped_file_as_counted_now():
    from tinyespcn_nodes.core.header import header_digest
    from tinyespcn_nodes.core.model_table import cost_table, count_costs

    table = cost_table()
    for name, path in {**bundled(), **baselines()}.items():
        entry = table.get(header_digest(path))
        hint = "run: python -m tinyespcn_nodes models --update-costs"
        assert entry is not None, f"{name} is not in the cost table; {hint}"
        scales, macs, _ = count_costs(path)
        assert (tuple(entry["scales"]), tuple(entry["macs"])) == (scales, macs), f"{name} stale; {hint}"


def test_a_file_outside_the_cost_table_is_counted(tmp_path, monkeypatch):
    from tinyespcn_nodes.core import model_table

    model_table._measured.cache_clear()
    from_table = render_markdown(model_rows())
    monkeypatch.setattr(model_table, "COSTS_FILE", tmp_path / "none.json")
    model_table._measured.cache_clear()
    try:
        assert render_markdown(model_rows()) == from_table
    finally:
        model_table._measured.cache_clear()
