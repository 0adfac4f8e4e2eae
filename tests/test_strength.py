"""Restoration strength: 0 is the clean partner, 1 the photo file, the output moves monotonically between."""

import numpy as np
import pytest
import torch
from PIL import Image

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.catalog import PARTNERS
from tinyespcn_nodes.core.weights import load_model, save_weights


@pytest.fixture
def photo_pair(tmp_path, monkeypatch):
    """A weights folder holding `general-x2` and a `photo-x2` of the same architecture (other weights)."""
    folder = tmp_path / "weights"
    folder.mkdir()
    torch.manual_seed(3)
    clean = save_weights(folder / "general-x2.safetensors", TinyESPCN(TinyESPCNConfig(scale=2, channels=8, blocks=2)))
    torch.manual_seed(4)
    photo = save_weights(folder / "photo-x2.safetensors", TinyESPCN(TinyESPCNConfig(scale=2, channels=8, blocks=2)))
    monkeypatch.setenv("TINYESPCN_WEIGHTS_DIR", str(folder))
    return clean, photo


def _run(model, x):
    with torch.inference_mode():
        return model(x)


def test_zero_is_the_clean_model_one_the_photo_model_and_between_is_monotonic(photo_pair):
    from tinyespcn_nodes.core.strength import load_with_strength

    clean_path, photo_path = photo_pair
    x = torch.rand(1, 3, 20, 24)
    clean, photo = _run(load_model(clean_path)[0], x), _run(load_model(photo_path)[0], x)
    outs = [_run(load_with_strength(photo_path, s)[0], x) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert torch.equal(outs[0], clean) and torch.equal(outs[-1], photo)
    to_clean = [float((o - clean).abs().mean()) for o in outs]
    to_photo = [float((o - photo).abs().mean()) for o in outs]
    assert to_clean == sorted(to_clean) and to_photo == sorted(to_photo, reverse=True)
    assert len(set(to_clean)) == len(to_clean)


def test_the_blend_is_linear_in_the_weights(photo_pair):
    from tinyespcn_nodes.core.strength import load_with_strength

    clean_path, photo_path = photo_pair
    a = load_model(clean_path)[0].state_dict()
    b = load_model(photo_path)[0].state_dict()
    mid = load_with_strength(photo_path, 0.3)[0].state_dict()
    for k in a:
        assert torch.allclose(mid[k], 0.7 * a[k] + 0.3 * b[k], atol=1e-6)


def test_bad_strengths_and_files_without_a_partner_are_refused(photo_pair):
    from tinyespcn_nodes.core.strength import load_with_strength
    from tinyespcn_nodes.core.weights import WeightsError

    clean_path, photo_path = photo_pair
    with pytest.raises(ValueError, match="strength must be within 0-1"):
        load_with_strength(photo_path, 1.5)
    with pytest.raises(WeightsError, match="clean partner"):
        load_with_strength(clean_path, 0.5)
    assert load_with_strength(clean_path, 1.0)[1].scale == 2  # strength 1 is any file as it is


def test_the_model_cache_keeps_strengths_apart(photo_pair):
    from tinyespcn_nodes.engine.job import load_models

    x = torch.rand(1, 3, 16, 16)
    half = _run(load_models("photo-x2", 2, "cpu", "fp32", 0.5)[0], x)
    full = _run(load_models("photo-x2", 2, "cpu", "fp32", 1.0)[0], x)
    assert not torch.equal(half, full)


def test_cli_strength_option(photo_pair, tmp_path, capsys):
    from tinyespcn_nodes.hosts.cli.main import main

    src = tmp_path / "in.png"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(src)
    outs = {}
    for s in ("0", "1"):
        out = tmp_path / f"out{s}.png"
        assert main(["upscale", str(src), "-o", str(out), "--weights", "photo-x2", "--strength", s]) == 0
        outs[s] = np.array(Image.open(out))
    clean = tmp_path / "clean.png"
    assert main(["upscale", str(src), "-o", str(clean), "--weights", "general-x2"]) == 0
    assert np.array_equal(outs["0"], np.array(Image.open(clean))) and not np.array_equal(outs["0"], outs["1"])
    with pytest.raises(SystemExit):
        main(["upscale", str(src), "--strength", "2"])
    assert "--strength" in capsys.readouterr().err
    assert main(["upscale", str(src), "-o", str(tmp_path / "x.png"), "--weights", "general-x2", "--strength", ".5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "clean partner" in err[0]


def test_comfy_loader_takes_a_strength(photo_pair, monkeypatch):
    __import__("fake_comfy_api").install(monkeypatch)  # ComfyUI's comfy_api, faked (tests/fake_comfy_api.py)
    from tinyespcn_nodes.hosts.comfy.nodes import TinyESPCNModelLoader

    optional = TinyESPCNModelLoader.INPUT_TYPES()["optional"]["strength"]
    assert optional[0] == "FLOAT" and optional[1]["min"] == 0.0 and optional[1]["max"] == 1.0
    monkeypatch.setattr(
        "tinyespcn_nodes.hosts.comfy.nodes._resolve_choice", lambda name: photo_pair[name == "photo-x2"]
    )
    handle = TinyESPCNModelLoader.execute("photo-x2", "cpu", "fp32", 0.4)[0]
    assert handle.strength == 0.4
    with pytest.raises(ValueError, match="photo and portrait models"):
        TinyESPCNModelLoader.execute("general-x2", "cpu", "fp32", 0.4)


def test_photo_table_is_generated_into_the_card_and_readme_blocks(photo_pair, tmp_path):
    from trainer.photo_bench import BEGIN, END, photo_table, put_block

    val = tmp_path / "val"
    val.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(val / f"p{i}.png")
    table = photo_table(val, None, torch.device("cpu"), None, log=lambda *a: None)
    assert "| photo-x2 @ 0 (= general-x2) |" in table and "| photo-x2 @ 0.5 |" in table
    assert "heavy JPEG" in table and "| bicubic |" in table
    card, readme = tmp_path / "card.md", tmp_path / "README.md"
    card.write_text("# card\n")
    readme.write_text(f"intro\n{BEGIN}\nold\n{END}\nrest\n")
    put_block(card, table, heading="## Real photos")
    put_block(readme, table)
    put_block(card, table, heading="## Real photos")  # a second run replaces, never appends twice
    assert card.read_text().count(BEGIN) == 1 and "## Real photos" in card.read_text()
    assert "old" not in readme.read_text() and readme.read_text().endswith("rest\n")
    with pytest.raises(ValueError, match="photo-bench"):
        put_block(_plain(tmp_path), table)


def _plain(tmp_path):
    path = tmp_path / "plain.md"
    path.write_text("no markers\n")
    return path


def test_jpeg_and_webp_inputs_default_to_the_photo_model(photo_pair, tmp_path, capsys):
    from tinyespcn_nodes.core.strength import default_for_files
    from tinyespcn_nodes.hosts.cli.main import main

    jpgs = [tmp_path / "a.jpg", tmp_path / "b.WEBP"]
    assert default_for_files(None, jpgs, 2) == "photo-x2"
    assert default_for_files("general", jpgs, 2) == "general"  # an explicit choice is kept
    assert default_for_files(None, [*jpgs, tmp_path / "c.png"], 2) is None
    assert default_for_files(None, jpgs, 3) is None  # no photo-x3
    src = tmp_path / "in.jpg"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(src, quality=40)
    assert main(["upscale", str(src), "-o", str(tmp_path / "o.png")]) == 0
    assert "using photo-x2" in capsys.readouterr().err
    assert main(["upscale", str(src), "-o", str(tmp_path / "p.png"), "--weights", "photo-x2"]) == 0
    assert np.array_equal(np.array(Image.open(tmp_path / "o.png")), np.array(Image.open(tmp_path / "p.png")))


@pytest.mark.parametrize("name", sorted(PARTNERS))
def test_every_bundled_strength_file_mixes_with_its_clean_partner(name):
    """photo-x2/x4, photo-fast-x2 and portrait-x2/x4 are shipped; at strength 0 each is exactly its clean partner
    (general-x2 / balanced-x4 / fast-x2), and the napari and ComfyUI strength controls are offered for its family."""
    from tinyespcn_nodes.core.catalog import STRENGTH_FAMILIES, resolve_weights
    from tinyespcn_nodes.core.strength import load_with_strength

    file, clean = resolve_weights(name), resolve_weights(PARTNERS[name])
    x = torch.rand(1, 3, 12, 14)
    assert torch.equal(_run(load_with_strength(file, 0.0)[0], x), _run(load_model(clean)[0], x))
    assert torch.equal(_run(load_with_strength(file, 1.0)[0], x), _run(load_model(file)[0], x))
    assert name.rpartition("-x")[0] in STRENGTH_FAMILIES
