"""photo-split: a larger set split with --val-like keeps an earlier split's validation photos out of training."""

import numpy as np
import pytest
from PIL import Image

from trainer.photo_split import split
from trainer.sources import list_images


def _photo(path, seed, size=(120, 100), **save):
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((5, 6, 3)) * 255).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    coarse.resize(size, Image.BICUBIC).save(path, **save)
    return path


def test_val_like_holds_out_the_same_photos_and_their_renamed_twins(tmp_path):
    small, big, out = tmp_path / "small", tmp_path / "big", tmp_path / "out"
    for i in range(6):
        _photo(small / f"p{i}.png", i)
        _photo(big / f"p{i}.png", i)
    for i in range(6, 9):
        _photo(big / f"p{i}.png", i)
    _, small_val, first = split(small, out, 2, 64, seed=1)
    twin_of = Image.open(small / first[0])
    twin_of.save(big / "renamed.jpg", quality=90)  # the same photo under another name, re-encoded
    (big / ".stage").mkdir()
    twin_of.save(big / ".stage" / "0123abcd.png")  # a build's cache: never a photo of the set
    split(big, out, 3, 64, seed=5)  # an earlier random split of the big set leaves links behind
    train, val, held = split(big, out, 0, 64, like=small_val)
    assert held == sorted([*first, "renamed.jpg"])
    trained = sorted(p.name for p in train.iterdir())
    assert trained == sorted(f"p{i}.png" for i in range(9) if f"p{i}.png" not in first)
    for name in first:
        a, b = (np.array(Image.open(d / name)) for d in (small_val, val))
        assert np.array_equal(a, b)  # the same validation crops as the earlier split
    assert sorted(p.name for p in val.iterdir()) == sorted([*first, "renamed.png"])


def test_val_like_names_the_photos_it_did_not_find(tmp_path, capsys):
    like = tmp_path / "like"
    _photo(like / "gone.png", 40, size=(64, 64))
    for i in range(3):
        _photo(tmp_path / "src" / f"p{i}.png", i)
    _, _, held = split(tmp_path / "src", tmp_path / "out", 0, 64, like=like)
    assert held == [] and "gone" in capsys.readouterr().out


def test_cli_refuses_a_missing_val_like_folder(tmp_path):
    from trainer.cli import main

    _photo(tmp_path / "src" / "p0.png", 0)
    with pytest.raises(SystemExit, match="--val-like .*not found"):
        main(["photo-split", str(tmp_path / "src"), "--val-like", str(tmp_path / "nope"), "--out", str(tmp_path)])


def test_list_images_skips_hidden_folders_below_the_root_only(tmp_path):
    root = tmp_path / ".cache" / "set"
    _photo(root / "a.png", 0)
    _photo(root / "sub" / "b.png", 1)
    _photo(root / ".stage" / "c.png", 2)
    assert [p.name for p in list_images(root)] == ["a.png", "b.png"]
