"""`python -m trainer` under bad input: one message with the fix, exit 2, nothing half-done; honest resumes."""

import csv

import pytest

from trainer.cli import build_parser, main
from trainer.config import CHOICES, TrainConfig


def _args(folder, run, *extra):
    return [
        "pretrain", "--data", str(folder), "--dataset", "folder", "--channels", "8", "--blocks", "1",
        "--patch", "12", "--batch", "2", "--steps", "4", "--warmup", "1", "--ckpt-every", "2", "--log-every", "2",
        "--val-sets", "--threads", "1", "--workers", "1", "--run-dir", str(run), *extra,
    ]  # fmt: skip


def _fails_cleanly(argv, capsys, *expected):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and err.count("\n") == 1, err
    for text in expected:
        assert text in err, err
    return err


def test_missing_and_empty_datasets(tmp_path, capsys):
    _fails_cleanly(_args(tmp_path / "nowhere", tmp_path / "r"), capsys, "nowhere", "does not exist")
    (tmp_path / "empty").mkdir()
    _fails_cleanly(_args(tmp_path / "empty", tmp_path / "r"), capsys, "dataset is empty")


def test_resume_with_other_settings_is_refused_and_names_them(image_folder, tmp_path, capsys):
    run = tmp_path / "r"
    assert main(_args(image_folder, run)) == 0
    before = (run / "last.pt").read_bytes()
    err = _fails_cleanly(_args(image_folder, run, "--scale", "3", "--lr", "0.01"), capsys, "--no-resume")
    assert "scale: 2 → 3" in err and "lr: " in err
    assert (run / "last.pt").read_bytes() == before
    # options that do not change what was trained may change: more steps, recorded truthfully
    assert main(_args(image_folder, run, "--steps", "6")) == 0
    assert '"steps": 6' in (run / "config.json").read_text()
    assert main(_args(image_folder, run, "--scale", "3", "--no-resume")) == 0


def test_resume_drops_log_rows_past_the_checkpoint(image_folder, tmp_path):
    run = tmp_path / "r"
    assert main(_args(image_folder, run)) == 0
    with open(run / "log.csv", "a", newline="") as f:  # rows a killed run wrote after its last checkpoint
        csv.writer(f).writerow([5, "0.1", "1e-4", "9"])
    assert main(_args(image_folder, run, "--steps", "6")) == 0
    steps = [row[0] for row in csv.reader(open(run / "log.csv"))][1:]
    assert steps == ["2", "4", "6"]


def test_truncated_checkpoint_names_the_fix(image_folder, tmp_path, capsys):
    run = tmp_path / "r"
    assert main(_args(image_folder, run)) == 0
    (run / "last.pt").write_bytes((run / "last.pt").read_bytes()[:500])
    _fails_cleanly(_args(image_folder, run), capsys, "last.pt", "truncated or corrupt", "--no-resume")
    _fails_cleanly(["export", str(run), "--out", str(tmp_path / "x.safetensors")], capsys, "truncated or corrupt")
    assert not (tmp_path / "x.safetensors").exists()


def test_eval_of_a_bad_weights_file(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nope")
    _fails_cleanly(["eval", str(bad), "--sets", "Set5"], capsys, "bad.safetensors")


def test_no_validation_means_no_best_figure(image_folder, tmp_path, capsys):
    run = tmp_path / "r"
    assert main(_args(image_folder, run)) == 0
    assert main(_args(image_folder, run, "--steps", "6")) == 0
    err = capsys.readouterr().err
    assert "resumed" in err and "-inf" not in err


def test_default_run_folder_follows_the_options():
    a, b = TrainConfig(), TrainConfig().updated({"scale": 3})
    assert a.run_path != b.run_path and "runs/default" not in str(a.run_path)
    assert TrainConfig().updated({"steps": 99, "threads": 1}).run_path == a.run_path  # resumable options only
    assert a.run_path.name.startswith("tinyespcn-x2-")


def test_every_option_has_help_with_its_default_and_choices(capsys):
    parser = build_parser()
    for command in ("pretrain", "finetune"):
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for action in parser._subparsers._group_actions[0].choices[command]._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, action.option_strings
        assert "(default: 48)" in text and "{cosine,step,constant}" in text and "{none,bf16,fp16}" in text
    for name in CHOICES:
        with pytest.raises(ValueError, match=f"{name} must be one of"):
            TrainConfig().updated({name: "bogus"}, source="cfg.toml")


def test_finetune_trains_the_init_files_own_architecture(image_folder, tmp_path):
    import torch

    from tinyespcn_nodes.core.arch.rep import RepConfig, TinyESPCNRep
    from tinyespcn_nodes.core.weights import read_weights, save_weights

    torch.manual_seed(0)
    start = save_weights(
        tmp_path / "rep-x2.safetensors", TinyESPCNRep(RepConfig(scale=2, channels=8, blocks=2)).deploy()
    )
    run = tmp_path / "ft"
    argv = [
        "finetune", "--init", str(start), "--data", str(image_folder), "--dataset", "folder", "--subset", "0",
        "--face-size", "0", "--patch", "12", "--batch", "2", "--steps", "2", "--warmup", "1", "--val-sets",
        "--threads", "1", "--workers", "1", "--run-dir", str(run),
    ]  # fmt: skip
    assert main(argv) == 0
    info, _ = read_weights(run / "final.safetensors")
    assert info.spec.name == "rep" and (info.config.channels, info.config.blocks) == (8, 2)


def test_a_named_architecture_still_takes_the_init_files_options(image_folder, tmp_path, capsys):
    import torch

    from tinyespcn_nodes.core.arch.rep import RepConfig, TinyESPCNRep
    from tinyespcn_nodes.core.weights import read_weights, save_weights

    torch.manual_seed(0)
    start = save_weights(
        tmp_path / "rep-x2.safetensors", TinyESPCNRep(RepConfig(scale=2, channels=8, blocks=3)).deploy()
    )
    base = [
        "pretrain", "--arch", "rep", "--init", str(start), "--data", str(image_folder), "--dataset", "folder",
        "--patch", "12", "--batch", "2", "--steps", "1", "--warmup", "1", "--val-sets", "--threads", "1",
        "--workers", "1",
    ]  # fmt: skip
    assert main([*base, "--run-dir", str(tmp_path / "same")]) == 0
    info, _ = read_weights(tmp_path / "same" / "final.safetensors")
    assert (info.config.channels, info.config.blocks) == (8, 3)  # the file's, not rep's defaults (32, 10)
    assert "initialised" in capsys.readouterr().err
    assert main([*base, "--blocks", "4", "--run-dir", str(tmp_path / "deeper")]) == 0  # a given option wins
    info, _ = read_weights(tmp_path / "deeper" / "final.safetensors")
    assert (info.config.channels, info.config.blocks) == (8, 4)
    assert "starting fresh: convs.3, prelus.3" in capsys.readouterr().err


def test_counters_are_checked_and_val_every_zero_means_never(image_folder, tmp_path, capsys):
    for option, value in (("--ckpt-every", "0"), ("--log-every", "-1"), ("--val-every", "-5"), ("--batch", "0")):
        _fails_cleanly(_args(image_folder, tmp_path / "r", option, value), capsys, option[2:].replace("-", "_"), ">=")
    set5 = tmp_path / "val"
    set5.mkdir()
    (set5 / "a.png").write_bytes((image_folder / "0001000" / "0000000.png").read_bytes())
    argv = _args(image_folder, tmp_path / "v", "--val-every", "0")
    argv[argv.index("--val-sets") + 1 : argv.index("--val-sets") + 1] = [str(set5)]
    assert main(argv) == 0  # validation sets given but never run: no modulo-by-zero traceback
    assert "dB" not in capsys.readouterr().err
