"""Issue 33, trainer: absurd options refused up front, a diverged run stops without saving NaN weights, a
checkpoint with flipped bytes is refused by name (the previous good one kept)."""

import pytest
import torch
from test_trainer_cli import _args

from trainer.checkpoint import previous_path
from trainer.cli import main


def _fails_cleanly(argv, capsys, *expected):
    """rc 2 and a last line `error: ...` naming every expected text (progress lines may come before it)."""
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and last.startswith("error: "), err
    for text in expected:
        assert text in last, err
    return last


@pytest.mark.parametrize("option,value", [("--lr", "1e38"), ("--lr", "nan"), ("--lr", "-1"), ("--ema", "1.5")])
def test_absurd_float_options_are_refused_before_training(image_folder, tmp_path, capsys, option, value):
    _fails_cleanly(_args(image_folder, tmp_path / "r", option, value), capsys, option.lstrip("-"), "must be a number")
    assert not (tmp_path / "r" / "last.pt").exists()


def test_non_finite_loss_stops_the_run_and_never_saves_nan_weights(image_folder, tmp_path, capsys, monkeypatch):
    from trainer.loop import Trainer

    run = tmp_path / "r"
    assert main(_args(image_folder, run)) == 0
    good = (run / "last.pt").read_bytes()
    real = Trainer.train_step

    def diverging(self, lr, hr):
        loss = real(self, lr, hr)
        with torch.no_grad():
            next(self.model.parameters()).fill_(float("nan"))
        return loss * float("nan")

    monkeypatch.setattr(Trainer, "train_step", diverging)
    err = _fails_cleanly(_args(image_folder, run, "--steps", "8"), capsys, "diverged", "--lr", "nothing non-finite")
    assert "step 6" in err
    assert (run / "last.pt").read_bytes() == good  # the last good state
    state = torch.load(run / "last.pt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_a_checkpoint_with_flipped_bytes_is_refused_and_the_previous_kept(image_folder, tmp_path, capsys):
    run = tmp_path / "r"
    assert main(_args(image_folder, run)) == 0
    last = run / "last.pt"
    assert previous_path(last).exists()  # the checkpoint before the last one, kept as the fallback
    data = bytearray(last.read_bytes())
    state = torch.load(last, weights_only=True)
    weight = next(v for k, v in state["model"].items() if v.numel() >= 16)
    needle = bytes(weight.untyped_storage())[:64]
    at = bytes(data).index(needle)  # flip 64 bytes inside the weights: the file still loads
    data[at : at + 64] = bytes(b ^ 0xFF for b in data[at : at + 64])
    last.write_bytes(bytes(data))
    torch.load(last, weights_only=True)
    _fails_cleanly(_args(image_folder, run, "--steps", "6"), capsys, "last.pt: checksum mismatch", "last.prev.pt")
    _fails_cleanly(["export", str(run), "--out", str(tmp_path / "x.safetensors")], capsys, "checksum mismatch")
    assert not (tmp_path / "x.safetensors").exists()
