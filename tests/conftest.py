import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig
from tinyespcn_nodes.core.shared import shared_root
from tinyespcn_nodes.core.weights import save_weights

REPO = Path(__file__).resolve().parent.parent
SHARED = shared_root()


def interrupt_on_call(real, n: int):
    """`real`, wrapped to raise KeyboardInterrupt (a Ctrl-C) on its n-th call."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return wrapper


REQUIRE_SHARED = "TINYESPCN_REQUIRE_SHARED"  # CI sets it: a missing ../shared fails instead of skipping
SHARED_SKIP = "../shared not found"


def shared_path(rel: str) -> Path:
    p = SHARED / rel
    if not p.exists():
        why = f"{SHARED_SKIP}: {p} does not exist"
        if os.environ.get(REQUIRE_SHARED):
            pytest.fail(f"{why} ({REQUIRE_SHARED} is set)")
        pytest.skip(why)
    return p


REQUIRE_BIOIMAGEIO = "TINYESPCN_REQUIRE_BIOIMAGEIO"  # CI sets it: scripts/test.sh installs the bioimageio extra


def require_bioimageio(module: str = "bioimageio.core"):
    """Import `module` of the bioimageio extra, or skip; fail instead when TINYESPCN_REQUIRE_BIOIMAGEIO is set."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        why = f"the bioimageio extra is not installed ({module}: {exc})"
        if os.environ.get(REQUIRE_BIOIMAGEIO):
            pytest.fail(f"{why} ({REQUIRE_BIOIMAGEIO} is set)")
        pytest.skip(why)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Skips grouped by cause, so tests that could not run for want of ../shared (or an optional extra) are
    counted in one line each instead of passing unnoticed."""
    causes: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        cause = SHARED_SKIP if SHARED_SKIP in reason else reason
        causes[cause] = causes.get(cause, 0) + 1
    if not causes:
        return
    terminalreporter.section("why tests were skipped")
    for cause, n in sorted(causes.items(), key=lambda kv: -kv[1]):
        if cause == SHARED_SKIP:
            cause = (
                f"{SHARED_SKIP} at {SHARED}: the benchmark, training-data and peer-weight tests did not run "
                f"(put shared/ beside the checkout or set TINYESPCN_SHARED; {REQUIRE_SHARED}=1 makes this fail)"
            )
        terminalreporter.write_line(f"{n:4d} skipped: {cause}")


@pytest.fixture
def small_model() -> TinyESPCN:
    torch.manual_seed(0)
    return TinyESPCN(TinyESPCNConfig(scale=2, channels=16, blocks=3)).eval()


@pytest.fixture
def weights_file(tmp_path) -> Path:
    torch.manual_seed(1)
    model = TinyESPCN(TinyESPCNConfig(scale=2, channels=16, blocks=3))
    return save_weights(tmp_path / "tiny-x2.safetensors", model, training={"note": "test"})


@pytest.fixture
def portrait_u8() -> np.ndarray:
    from PIL import Image

    return np.array(Image.open(REPO / "tinyespcn_nodes" / "data" / "astronaut.png").convert("RGB"))


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "LSDIR" / "0001000"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        yy, xx = np.mgrid[0:64, 0:72]
        img = np.stack([np.sin(xx / (3 + i)) * 0.5 + 0.5, np.cos(yy / 4) * 0.5 + 0.5, rng.random((64, 72))], -1)
        Image.fromarray((img * 255).astype(np.uint8)).save(root / f"{i:07d}.png")
    (root / "0000009.png").write_bytes(b"not a png")  # corrupt: skipped and reported
    return tmp_path / "LSDIR"


@pytest.fixture
def spandrel(monkeypatch):
    """spandrel with our architectures registered (its core-loader path); its two torchvision imports, used by
    other architectures only, are stubbed when torchvision is absent (no usable CPU wheel)."""
    pytest.importorskip("einops")
    try:
        import torchvision  # noqa: F401
    except ImportError:  # spandrel imports two torchvision functions at import time, used by other archs only
        tv = types.ModuleType("torchvision")
        tv.transforms = types.ModuleType("torchvision.transforms")
        fn = types.ModuleType("torchvision.transforms.functional")
        fn.InterpolationMode, fn.rotate, fn.normalize = object, None, None
        tv.transforms.functional = fn
        for name, mod in {
            "torchvision": tv,
            "torchvision.transforms": tv.transforms,
            "torchvision.transforms.functional": fn,
        }.items():
            monkeypatch.setitem(sys.modules, name, mod)
    module = pytest.importorskip("spandrel")
    from tinyespcn_nodes.hosts.comfy.spandrel_arch import register

    assert register()
    return module
