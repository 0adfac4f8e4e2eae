"""`upscale` on video files: streamed, every frame and timestamp kept, streams copied, clear errors."""

import sys

import numpy as np
import pytest
from conftest import interrupt_on_call

pytest.importorskip("av")

from video_clips import make_clip, probe  # noqa: E402

from tinyespcn_nodes.hosts.cli.main import main  # noqa: E402
from tinyespcn_nodes.io.video import upscale_video  # noqa: E402
from tinyespcn_nodes.io.video_codec import VideoOptions  # noqa: E402


def run(*args) -> int:
    return main(["upscale", *map(str, args)])


def test_vfr_mkv_keeps_every_timestamp_audio_and_subtitles(tmp_path, weights_file):
    src = make_clip(tmp_path / "v.mkv", frames=6, steps_ms=[150, 50], audio=True, subtitle="subrip")
    out = tmp_path / "out.mkv"
    assert run(src, "-o", out, "--weights", weights_file) == 0
    a, b = probe(src), probe(out)
    assert b["times"] == a["times"] == [0.0, 0.15, 0.2, 0.35, 0.4, 0.55]
    assert b["size"] == (64, 48) and b["pix_fmt"] == "yuv420p" and b["codec"] == "h264"
    assert b["streams"] == a["streams"] == [("audio", "aac"), ("subtitle", "srt")]
    assert list(b["packets"].values()) == list(a["packets"].values())  # copied packet for packet


def test_rotation_frame_count_and_folder_of_videos(tmp_path, weights_file):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_clip(folder / "r.mp4", frames=7, rotation=90, audio=True)
    make_clip(folder / "old.avi", frames=3, codec="mpeg4")
    assert run(folder, "-o", tmp_path / "out", "--weights", weights_file) == 0
    r = probe(tmp_path / "out" / "r_x2_tiny-x2.mp4")
    assert r["rotation"] == 90 and len(r["times"]) == 7 and r["streams"] == [("audio", "aac")]
    old = probe(tmp_path / "out" / "old_x2_tiny-x2.mkv")  # AVI is read, not written; mpeg4 → H.264
    assert old["codec"] == "h264" and len(old["times"]) == 3 and old["size"] == (64, 48)


def test_frames_match_the_image_path(tmp_path, weights_file):
    """The video path is the image path: ffv1 (lossless) in and out, frame 0 equals upscaling its pixels."""
    from tinyespcn_nodes.engine.job import load_models, upscale_array

    src = make_clip(tmp_path / "l.mkv", frames=2, codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "l2.mkv"
    assert run(src, "-o", out, "--weights", weights_file) == 0
    b = probe(out)
    assert b["codec"] == "ffv1" and b["pix_fmt"] == "yuv444p"
    expected = upscale_array(probe(src)["first"], models=load_models(str(weights_file), 2, "cpu"), intensity=None)
    assert np.abs(b["first"].astype(int) - expected).max() <= 2  # the RGB→YUV→RGB round trip only


def test_ten_bit_stays_ten_bit_and_codec_options(tmp_path, weights_file):
    src = make_clip(tmp_path / "d.mp4", frames=3, pix_fmt="yuv420p10le")
    assert run(src, "-o", tmp_path / "d2.mp4", "--weights", weights_file) == 0
    assert probe(tmp_path / "d2.mp4")["pix_fmt"] == "yuv420p10le"
    out = tmp_path / "h.mkv"
    assert (
        run(src, "-o", out, "--weights", weights_file, "--codec", "libx265", "--crf", "30", "--pix-fmt", "yuv444p") == 0
    )
    h = probe(out)
    assert h["codec"] == "hevc" and h["pix_fmt"] == "yuv444p"
    webm = make_clip(tmp_path / "w.webm", frames=2, codec="libvpx-vp9", audio=True)
    assert run(webm, "-o", tmp_path / "w2.webm", "--weights", weights_file) == 0
    assert probe(tmp_path / "w2.webm")["codec"] == "vp9"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--pix-fmt", "rgb24"], "--pix-fmt rgb24: libx264 takes"),
        (["--codec", "nosuchcodec"], "--codec nosuchcodec: this FFmpeg build has no such encoder"),
        (["--codec", "ffv1", "--crf", "10"], "--crf applies to"),
        (["--factor", "1.5"], "the output would be 45x33; yuv420p needs even sides"),
    ],
)
def test_bad_options_give_one_line_errors(tmp_path, weights_file, capsys, extra, message):
    src = make_clip(tmp_path / "o.mkv", frames=2, size=(30, 22), codec="libx264")
    target = tmp_path / "o2.mkv"
    assert run(src, "-o", target, "--weights", weights_file, *extra) in (1, 2)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["o.mkv", "tiny-x2.safetensors"]


def test_interlaced_and_non_video_inputs_are_refused_clearly(tmp_path, weights_file, capsys):
    inter = make_clip(tmp_path / "i.mkv", frames=2, options={"flags": "+ilme+ildct", "x264-params": "interlaced=1"})
    assert run(inter, "-o", tmp_path / "i2.mkv", "--weights", weights_file) == 1
    assert "is interlaced; deinterlace it first" in capsys.readouterr().err
    fake = tmp_path / "f.mp4"
    fake.write_bytes(b"not a video at all")
    assert run(fake, "-o", tmp_path / "f2.mp4", "--weights", weights_file) == 1
    assert "f.mp4: cannot open as a video" in capsys.readouterr().err
    assert not (tmp_path / "i2.mkv").exists() and not (tmp_path / "f2.mp4").exists()


def test_interrupt_leaves_no_file_and_overwrite_rules(tmp_path, weights_file, monkeypatch, capsys):
    import tinyespcn_nodes.engine.job as pipeline

    src = make_clip(tmp_path / "c.mp4", frames=6)
    target = tmp_path / "c2.mp4"
    monkeypatch.setattr(pipeline, "upscale_array", interrupt_on_call(pipeline.upscale_array, 2))
    assert run(src, "-o", target, "--weights", weights_file, "--batch", "2") == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "tiny-x2.safetensors"]  # no temp file either
    monkeypatch.undo()
    target.write_bytes(b"keep me")
    assert run(src, "-o", target, "--weights", weights_file) == 0  # skipped (exists), as for images
    assert "exists (pass --overwrite to replace it)" in capsys.readouterr().err and target.read_bytes() == b"keep me"
    assert run(src, "-o", target, "--weights", weights_file, "--overwrite") == 0
    assert len(probe(target)["times"]) == 6


def test_frames_stream_with_a_bounded_queue(tmp_path):
    """A 40-frame clip never has more than the queue + a batch decoded ahead of the model."""
    src = make_clip(tmp_path / "long.mkv", frames=40, size=(16, 16))
    res = upscale_video(
        src, tmp_path / "long2.mkv", lambda b: b.repeat(2, 1).repeat(2, 2), VideoOptions(batch=2, queue=3)
    )
    assert res.frames == 40 and res.max_ahead <= 3 + 2 + 1


def test_missing_extra_names_it(tmp_path, weights_file, monkeypatch, capsys):
    src = make_clip(tmp_path / "m.mp4", frames=2)
    monkeypatch.setitem(sys.modules, "av", None)
    assert run(src, "-o", tmp_path / "m2.mp4", "--weights", weights_file) == 2
    assert "pip install 'tinyespcn-nodes[video]'" in capsys.readouterr().err
