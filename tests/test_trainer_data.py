"""Dataset layouts the trainer reads: LSDIR folders, official HR/X<s> pairs, parquet shards, CelebA trees."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.config import TrainConfig
from trainer.loop import load_training_pool
from trainer.patches import make_lr
from trainer.sources import celeba_refs, lsdir_refs, split_holdout


def _image(seed: int, h: int = 40, w: int = 48) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_parquet_shard_rows_decode_to_the_stored_images(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    images = [_image(i) for i in range(5)]
    blobs = []
    for img in images:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        blobs.append({"bytes": buf.getvalue(), "path": None})
    table = pa.table({"path": [f"{i:07d}.png" for i in range(5)], "image": blobs, "w": [48] * 5, "h": [40] * 5})
    (tmp_path / "data").mkdir()
    pq.write_table(table, tmp_path / "data" / "train-00000-of-00001.parquet", row_group_size=2)  # 3 row groups
    pq.write_table(table.slice(0, 1), tmp_path / "data" / "validation-00000-of-00001.parquet")
    refs = lsdir_refs(tmp_path, scale=2, split="train")
    assert [r.row for r in refs] == [0, 1, 2, 3, 4]
    for ref, img in zip(refs, images):
        assert np.array_equal(np.array(Image.open(io.BytesIO(ref.read_bytes()))), np.array(img))
    assert len(lsdir_refs(tmp_path, scale=2, split="validation")) == 1
    cfg = TrainConfig(data=[str(tmp_path)], dataset="lsdir", patch=8, workers=1)
    pool, _ = load_training_pool(cfg)
    assert len(pool.hr) == 5 and not pool.skipped


def test_official_hr_x_pairs_use_the_shipped_lr(tmp_path):
    for i in range(3):
        hr = _image(i, 40, 48)
        (tmp_path / "HR" / "0001000").mkdir(parents=True, exist_ok=True)
        (tmp_path / "X2" / "0001000").mkdir(parents=True, exist_ok=True)
        hr.save(tmp_path / "HR" / "0001000" / f"{i:07d}.png")
        # a deliberately different LR (flipped) proves the file is read instead of regenerated
        lr = hr.resize((24, 20), Image.BICUBIC).transpose(Image.FLIP_LEFT_RIGHT)
        lr.save(tmp_path / "X2" / "0001000" / f"{i:07d}x2.png")
    refs = lsdir_refs(tmp_path, scale=2)
    assert len(refs) == 3 and all(r.lr_path and r.lr_path.endswith("x2.png") for r in refs)
    pool, _ = load_training_pool(TrainConfig(data=[str(tmp_path)], dataset="lsdir", patch=8, workers=1))
    for hr, lr in zip(pool.hr, pool.lr):
        assert not torch.equal(lr, make_lr(hr, 2))  # the shipped LR, not a regenerated one
    assert lsdir_refs(tmp_path, scale=3)[0].lr_path is None  # no X3 folder: LR made on the fly


def test_celeba_partition_split_and_seeded_subset(tmp_path):
    images = tmp_path / "CelebA" / "img_align_celeba"
    images.mkdir(parents=True)
    lines = []
    for i in range(1, 31):
        name = f"{i:06d}.jpg"
        _image(i, 218, 178).save(images / name, quality=90)
        lines.append(f"{name} {0 if i <= 20 else (1 if i <= 25 else 2)}")
    (tmp_path / "CelebA" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    train = celeba_refs(tmp_path / "CelebA", "train", subset=None)
    val = celeba_refs(tmp_path / "CelebA", "val", subset=None)
    test = celeba_refs(tmp_path / "CelebA", "test", subset=None)
    assert (len(train), len(val), len(test)) == (20, 5, 5)
    names = lambda refs: {r.path.rsplit("/", 1)[1] for r in refs}  # noqa: E731
    assert not names(train) & names(val) and not names(val) & names(test)
    a, b = (
        celeba_refs(tmp_path / "CelebA", "train", subset=8, seed=3),
        celeba_refs(tmp_path / "CelebA", "train", subset=8, seed=3),
    )
    assert names(a) == names(b) and len(a) == 8
    assert names(a) != {f"{i:06d}.jpg" for i in range(1, 9)}  # a random subset, not the first files
    cfg = TrainConfig(data=[str(tmp_path / "CelebA")], dataset="celeba", subset=8, face_size=64, patch=8, workers=1)
    pool, held = load_training_pool(cfg)
    assert len(pool.hr) == 8 and pool.hr[0].shape == (3, 64, 64) and held == []


def test_face_folder_holdout_is_seeded_and_disjoint(tmp_path):
    for i in range(12):
        _image(i, 80, 64).save(tmp_path / f"{i}.jpg")
    refs = celeba_refs(tmp_path, subset=None)
    train, held = split_holdout(refs, 4, seed=0)
    assert len(train) == 8 and len(held) == 4 and not {r.path for r in train} & {r.path for r in held}
    assert [r.path for r in split_holdout(refs, 4, seed=0)[1]] == [r.path for r in held]
    with pytest.raises(ValueError, match="cannot hold out"):
        split_holdout(refs, 12)


def _smooth(seed: int, side: int = 64) -> Image.Image:
    """A smooth colour image (random noise would make JPEG and colour changes trivially visible)."""
    y, x = np.mgrid[0:side, 0:side] / side
    rgb = np.stack([0.5 + 0.4 * np.sin(6 * x + seed), 0.4 + 0.3 * y, 0.3 + 0.2 * np.cos(5 * y * x)], axis=-1)
    return Image.fromarray(np.round(rgb * 255).astype(np.uint8))


def test_jpeg_and_colour_copies_are_extra_seeded_and_leave_the_original(tmp_path):
    from trainer.patches import CopyAugment, build_pool

    for i in range(2):
        _smooth(i).save(tmp_path / f"{i}.png")
    refs = lsdir_refs(tmp_path, scale=2)
    plain = build_pool(refs, 2, 8, workers=1, rescales=[0.5])
    copies = CopyAugment(jpeg=[60], colour=0.3, seed=0)
    aug = build_pool(refs, 2, 8, workers=1, rescales=[0.5], copies=copies)
    again = build_pool(refs, 2, 8, workers=1, rescales=[0.5], copies=copies)
    assert len(plain.hr) == 4 and len(aug.hr) == 8  # each image × (1, 0.5) × (as is, JPEG 60)
    assert all(torch.equal(a, b) for a, b in zip(aug.hr, again.hr))  # the same pool on every build
    original, jpeg, small, small_jpeg = aug.hr[:4]  # image 0: (1, as is), (1, JPEG), (0.5, as is), (0.5, JPEG)
    assert torch.equal(original, plain.hr[0]) and torch.equal(aug.hr[4], plain.hr[2])  # originals untouched
    for hr, lr in zip(aug.hr, aug.lr):
        assert torch.equal(lr, make_lr(hr, 2))  # the LR is made from the changed HR: a consistent pair
    assert small.shape[1:] == plain.hr[1].shape[1:] and not torch.equal(small, plain.hr[1])  # recoloured
    assert 0 < (jpeg.float() - original.float()).abs().mean() < 30  # JPEG'd and recoloured, still the image
    assert copies.colour_params(1) != copies.colour_params(2)  # drawn per copy


@pytest.mark.parametrize(
    "values, message",
    [({"hr_jpeg": [0]}, "hr_jpeg qualities must be integers 1-100"), ({"hr_colour": 0.9}, "hr_colour must be within"),
     ({"hr_colour": 0.2}, "give rescales or hr_jpeg too")],
)  # fmt: skip
def test_copy_augment_options_are_checked(values, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig().updated(values)
