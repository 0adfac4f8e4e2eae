"""`python -m tinyespcn_nodes export-onnx WEIGHTS OUT.onnx`: the deployed (folded) model, dynamic H and W.

The ONNX graph is the same function as the torch model on any LR size; when onnxruntime is installed the
export is checked against torch on an odd-sized input before the file is put in place.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
import warnings
from pathlib import Path

import torch

from ..core.arch import deployed
from ..core.catalog import resolve_weights
from ..core.files import atomic_path
from ..core.weights import load_model

OPSET = 18
CHECK_SHAPE = (1, 3, 37, 53)


class MissingExtraError(ImportError):
    def __init__(self, what: str, extra: str):
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'tinyespcn-nodes[{extra}]'")


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"ONNX export (missing {', '.join(missing)})", "onnx")


def export_onnx(weights: str | Path, out: str | Path, scale: int | None = None) -> dict:
    """Write `out`; return {"path", "scale", "max_abs_diff" (None without onnxruntime)}."""
    _require("onnx", "onnxscript")
    model, info = load_model(resolve_weights(weights, scale), scale)
    model = deployed(model).float().eval()
    example = torch.rand(1, 3, 64, 48)
    h, w = torch.export.Dim("height", min=1), torch.export.Dim("width", min=1)
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)  # "torchvision is not installed" notes: our models use no torchvision op
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.export's own deprecations, not actionable here
        program = torch.onnx.export(
            model,
            (example,),
            input_names=["lr"],
            output_names=["hr"],
            dynamic_shapes=({2: h, 3: w},),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            artifacts_dir=scratch,
            verbose=False,
        )
    registry_log.setLevel(level)
    with atomic_path(out) as tmp:
        program.save(str(tmp), external_data=False)
        diff = check_onnx(tmp, model)
    return {"path": Path(out), "scale": info.scale, "max_abs_diff": diff}


def check_onnx(path: str | Path, model: torch.nn.Module) -> float | None:
    """Max |onnxruntime − torch| on a random odd-sized input, or None when onnxruntime is absent."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(CHECK_SHAPE, generator=torch.Generator().manual_seed(0))
    got = torch.from_numpy(session.run(None, {"lr": x.numpy()})[0])
    with torch.inference_mode():
        ref = model(x)
    if got.shape != ref.shape:
        raise ValueError(f"{path}: ONNX output shape {tuple(got.shape)} differs from torch's {tuple(ref.shape)}")
    diff = (got - ref).abs().max().item()
    if diff > 1e-4:
        raise ValueError(f"{path}: ONNX output differs from torch by {diff:.2e} (limit 1e-4); not written")
    return diff
