"""Issue 33, multi-frame inputs: every frame of an animated GIF / PNG / WEBP and every page of a multi-page
TIFF is upscaled and written as a file of as many frames (durations and loop kept), each frame exactly what
the same image alone gives; pages are never merged as channels; what cannot hold frames says so."""

import numpy as np
import pytest
import tifffile
from PIL import Image

from tinyespcn_nodes.engine.job import UpscaleJob, UpscaleOptions, load_models
from tinyespcn_nodes.hosts.cli.main import main

COLOURS = [(20, 230, 0), (100, 150, 40), (180, 70, 200)]


def _up(*args, weights):
    return main(["upscale", *map(str, args), "--weights", str(weights)])


def _gif(path, loop=0, durations=(100, 200, 300)):
    imgs = [Image.new("RGB", (8, 6), c) for c in COLOURS]
    extra = {} if loop is None else {"loop": loop}
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=list(durations), **extra)


def _frames(path):
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append((np.array(im.convert("RGB")), im.info.get("duration")))
        return out, im.info.get("loop")


def test_animated_gif_every_frame_upscaled_durations_and_loop_kept(tmp_path, weights_file, capsys):
    _gif(tmp_path / "anim.gif")
    assert _up(tmp_path / "anim.gif", "-o", tmp_path / "out", weights=weights_file) == 0
    assert "3 frames" in capsys.readouterr().out
    frames, loop = _frames(tmp_path / "out" / "anim_x2_tiny-x2.gif")
    assert loop == 0 and [d for _, d in frames] == [100, 200, 300]
    for (arr, _), colour in zip(frames, COLOURS, strict=True):
        assert arr.shape == (12, 16, 3)
        assert np.abs(arr.reshape(-1, 3).mean(0) - colour).max() < 12  # each frame its own, in order


def test_gif_that_plays_once_still_plays_once(tmp_path, weights_file):
    _gif(tmp_path / "once.gif", loop=None)
    assert _up(tmp_path / "once.gif", "-o", tmp_path / "o.gif", weights=weights_file) == 0
    frames, loop = _frames(tmp_path / "o.gif")
    assert len(frames) == 3 and loop is None


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_animated_png_and_webp_keep_every_frame(tmp_path, weights_file, suffix):
    imgs = [Image.new("RGB", (8, 6), c) for c in COLOURS]
    imgs[0].save(tmp_path / f"a{suffix}", save_all=True, append_images=imgs[1:], duration=[100, 200, 300], loop=2)
    assert _up(tmp_path / f"a{suffix}", "-o", tmp_path / f"o{suffix}", weights=weights_file) == 0
    frames, loop = _frames(tmp_path / f"o{suffix}")
    assert len(frames) == 3 and loop == 2 and [d for _, d in frames] == [100, 200, 300]
    assert [f.shape for f, _ in frames] == [(12, 16, 3)] * 3


@pytest.mark.parametrize(
    "shape, dtype, photometric",
    [((3, 9, 11, 3), np.uint8, "rgb"), ((3, 9, 11), np.uint8, "minisblack"), ((5, 9, 11), np.uint16, "minisblack")],
)
def test_multi_page_tiff_every_page_upscaled_never_merged(tmp_path, weights_file, capsys, shape, dtype, photometric):
    rng = np.random.default_rng(0)
    pages = (rng.random(shape) * np.iinfo(dtype).max).astype(dtype)
    tifffile.imwrite(tmp_path / "s.tif", pages, photometric=photometric, metadata=None)
    assert _up(tmp_path / "s.tif", "-o", tmp_path / "out", weights=weights_file) == 0
    assert f"{shape[0]} pages" in capsys.readouterr().out
    with tifffile.TiffFile(tmp_path / "out" / "s_x2_tiny-x2.tif") as tif:
        got = [p.asarray() for p in tif.pages]
    job = UpscaleJob(UpscaleOptions(scale=2), load_models(str(weights_file), 2, "auto", "auto"))
    assert len(got) == shape[0]
    for page, out in zip(pages, got, strict=True):
        assert out.dtype == dtype and out.shape == (18, 22, *page.shape[2:])
        assert np.array_equal(out, job.run_array(page))  # each page exactly as the page alone


def test_frames_cannot_go_into_a_one_image_format_and_the_batch_goes_on(tmp_path, weights_file, capsys):
    src = tmp_path / "in"
    src.mkdir()
    tifffile.imwrite(src / "pages.tif", np.zeros((3, 9, 11, 3), np.uint8), photometric="rgb")
    Image.new("RGB", (8, 6), (1, 2, 3)).save(src / "still.png")
    assert _up(src, "-o", tmp_path / "out", "--format", "jpeg", weights=weights_file) == 1
    err = capsys.readouterr().err
    assert "pages_x2_tiny-x2.jpg: .jpg holds one image, pages.tif has 3 frames" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["still_x2_tiny-x2.jpg"]


def test_max_pixels_counts_every_frame(tmp_path, weights_file, capsys):
    _gif(tmp_path / "anim.gif")  # 8x6 x 3 frames = 144 pixels
    args = [tmp_path / "anim.gif", "-o", tmp_path / "o.gif"]
    assert _up(*args, "--max-pixels", "100", weights=weights_file) == 1
    assert "anim.gif: 8x6 pixels x 3 frames exceeds the limit of 100 pixels" in capsys.readouterr().err
    assert _up(*args, "--max-pixels", "144", weights=weights_file) == 0


def test_transparent_gif_frames_keep_their_transparency(tmp_path, weights_file):
    frames = []
    for i in range(3):
        rgba = np.zeros((6, 8, 4), np.uint8)
        rgba[..., 0], rgba[..., 3], rgba[:, : 3 + i, 3] = 100 * i, 255, 0  # 18, 24, 30 clear pixels
        frames.append(Image.fromarray(rgba))
    frames[0].save(tmp_path / "t.gif", save_all=True, append_images=frames[1:], duration=100, loop=0, disposal=2)
    assert _up(tmp_path / "t.gif", "-o", tmp_path / "o.gif", weights=weights_file) == 0
    with Image.open(tmp_path / "o.gif") as im:
        clear = []
        for i in range(im.n_frames):
            im.seek(i)
            alpha = np.array(im.convert("RGBA"))[..., 3]
            clear.append(int((alpha == 0).sum()))
            assert (alpha[:, 11:] == 255).all()  # the opaque side stays opaque
    # each frame's own clear area, x4 at x2 (less a column at its edge): measured 60, 84, 108
    assert clear[0] < clear[1] < clear[2] and all(abs(c - 4 * n) <= 12 for c, n in zip(clear, (18, 24, 30)))
