"""`python -m tinyespcn_nodes export-bioimageio WEIGHTS OUT.zip`: a bioimage.io model package (format 0.5).

The package holds the folded model as TorchScript and ONNX, wrapped for one-channel (gray) micrographs the
way our hosts run them (the plane copied to R, G and B, the three outputs averaged). Input axes are
batch/channel/y/x; the output's y/x are `scale` times larger (axis scale 1/scale) with a halo of the
receptive radius (in output pixels). The intensity window is the spec's own `scale_range` step, the
0.1-99.9 % percentiles (our `percentile` window); the output stays in that window's units (no inverse
step: see `_descr`). The test tensors are a CC0 quantitative-phase micrograph of a cell (scikit-image's `cell`) and the output of
bioimage.io's own prediction pipeline on it, so `bioimageio test OUT.zip` checks exactly what a consumer
runs. Needs the `bioimageio` extra (bioimageio.core) and the `onnx` extra for the ONNX weights.
"""

from __future__ import annotations

import importlib.util
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tifffile
import torch
from PIL import Image
from torch import nn

from ..core.arch import deployed
from ..core.catalog import resolve_weights
from ..core.files import atomic_path
from ..core.intensity import PERCENTILES
from ..core.weights import WeightsInfo, load_model
from .bioimageio_docs import citations, documentation, licence_id
from .onnx_export import MissingExtraError, write_onnx

TEST_IMAGE = Path(__file__).resolve().parents[1] / "data" / "cell.png"
MIN_SIDE = 16  # smallest LR tile side a consumer may pick, before the halo
STEP = 8  # tile sides grow in steps of 8 LR pixels
TEST_SIDE = 192  # data/cell.png is 192×192


class GrayModel(nn.Module):
    """The RGB model on a one-channel input: the plane as R, G and B in, the mean of the three out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.expand(-1, 3, -1, -1)).mean(dim=1, keepdim=True)


def _require() -> None:
    missing = [m for m in ("bioimageio.core", "bioimageio.spec") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(f"bioimage.io export (missing {', '.join(missing)})", "bioimageio")
    from importlib.metadata import version

    from packaging.version import Version

    if Version(version("pydantic")) >= Version("2.14") and Version(version("bioimageio.spec")) <= Version("0.5.12"):
        raise MissingExtraError(f"bioimageio.spec {version('bioimageio.spec')} with pydantic {version('pydantic')} "
                                "(it needs pydantic<2.14)", "bioimageio")  # fmt: skip
    if importlib.util.find_spec("onnxscript") is None:
        raise MissingExtraError("bioimage.io export of ONNX weights (missing onnxscript)", "onnx")


def _torchscript(model: nn.Module, path: Path) -> None:
    """Traced TorchScript, checked on a second, odd size against the eager model before it is kept."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape branches: the second size checks them
        traced = torch.jit.trace(model, torch.rand(1, 1, 48, 64), check_trace=False)
        x = torch.rand(1, 1, 37, 29, generator=torch.Generator().manual_seed(0))
        diff = (traced(x) - model(x)).abs().max().item()
    if diff > 1e-4:
        raise ValueError(f"TorchScript trace differs from the model by {diff:.2e} on a 37x29 input; not written")
    traced.save(str(path))


def _test_input() -> np.ndarray:
    """The cell micrograph as a float32 1×1×H×W tensor (raw 8-bit values: the percentile step normalises)."""
    return np.asarray(Image.open(TEST_IMAGE).convert("L"), np.float32)[None, None]


def _cover(lr: np.ndarray, sr: np.ndarray, scale: int, path: Path) -> None:
    """Input (nearest-neighbour enlarged, through its percentile window) beside the output (already in that
    window's units), 2:1."""
    lo, hi = np.percentile(lr, PERCENTILES)
    left = np.kron((lr[0, 0] - lo) / (hi - lo), np.ones((scale, scale), np.float32))
    both = np.concatenate([left, sr[0, 0]], axis=1)
    Image.fromarray((np.clip(both, 0, 1) * 255).round().astype(np.uint8)).save(path)


def _descr(spec, info: WeightsInfo, radius: int, files: dict[str, Path], name: str, test_output: Path):
    """The ModelDescr for these files (`test_output` may be a placeholder until the real one is predicted)."""
    v = spec
    s = info.scale
    inp, out = v.TensorId("raw"), v.TensorId("upscaled")
    least = MIN_SIDE + 2 * radius
    least += (TEST_SIDE - least) % STEP  # the test input's side is one of the sizes min + n·step
    x_in = [
        v.BatchAxis(),
        v.ChannelAxis(channel_names=[v.Identifier("gray")]),
        v.SpaceInputAxis(id=v.AxisId("y"), size=v.ParameterizedSize(min=least, step=STEP)),
        v.SpaceInputAxis(id=v.AxisId("x"), size=v.ParameterizedSize(min=least, step=STEP)),
    ]
    x_out = [v.BatchAxis(), v.ChannelAxis(channel_names=[v.Identifier("gray")])] + [
        v.SpaceOutputAxisWithHalo(
            id=v.AxisId(a), size=v.SizeReference(tensor_id=inp, axis_id=v.AxisId(a)), scale=1 / s, halo=radius * s
        )
        for a in ("y", "x")
    ]
    lo, hi = PERCENTILES
    pre = [
        v.EnsureDtypeDescr(kwargs=v.EnsureDtypeKwargs(dtype="float32")),
        v.ScaleRangeDescr(
            kwargs=v.ScaleRangeKwargs(axes=[v.AxisId("y"), v.AxisId("x")], min_percentile=lo, max_percentile=hi)
        ),
    ]
    # No inverse step: the spec's data-dependent one (scale_mean_variance against the input) fails in
    # bioimageio.core 0.11, which computes every sample statistic, the output's too, before prediction.
    post = [v.EnsureDtypeDescr(kwargs=v.EnsureDtypeKwargs(dtype="float32"))]
    torch_version = v.Version(torch.__version__.split("+")[0])
    return v.ModelDescr(
        name=name,
        description=f"TinyESPCN x{s} super-resolution for gray micrographs ({info.architecture}, "
        f"{info.spec.summary(info.config)[:200]})",
        authors=[v.Author(name="tinyespcn-nodes contributors")],
        cite=citations(info),
        license=licence_id(info),
        documentation=v.FileDescr(source=files["doc"]),
        covers=[v.FileDescr(source=files["cover"])],
        tags=["super-resolution", "upscaling", f"x{s}", "2d", "espcn", "pytorch", "onnx", "microscopy"],
        inputs=[
            v.InputTensorDescr(
                id=inp,
                axes=x_in,
                test_tensor=v.FileDescr(source=files["test_input"]),
                sample_tensor=v.FileDescr(source=files["sample_input"]),
                preprocessing=pre,
                description="one gray plane; any intensity range (percentile-normalised)",
            )
        ],  # fmt: skip
        outputs=[
            v.OutputTensorDescr(
                id=out,
                axes=x_out,
                test_tensor=v.FileDescr(source=test_output),
                postprocessing=post,
                sample_tensor=v.FileDescr(source=files["sample_output"]),
                description=f"the plane upscaled x{s}, in the input's window: 0 = its {lo} %, 1 = its {hi} % percentile",
            )
        ],  # fmt: skip
        weights=v.WeightsDescr(
            torchscript=v.TorchscriptWeightsDescr(source=files["torchscript"], pytorch_version=torch_version),
            onnx=v.OnnxWeightsDescr(source=files["onnx"], opset_version=18, parent="torchscript"),
        ),
        config=v.Config(
            bioimageio=v.BioimageioConfig(), **{"tinyespcn": {"config": json.loads(info.config.to_json())}}
        ),
        version=v.Version("0.1.0"),
    )


def export_bioimageio(weights: str | Path, out: str | Path, scale: int | None = None, name: str | None = None) -> dict:
    """Write the package `out` (.zip); return {"path", "scale", "halo", "test": the bioimage.io test summary}."""
    _require()
    from bioimageio.core import create_prediction_pipeline, test_model
    from bioimageio.core.digest_spec import get_test_input_sample
    from bioimageio.spec import save_bioimageio_package
    from bioimageio.spec.model import v0_5

    out = Path(out)
    if out.suffix != ".zip":
        raise ValueError(f"{out}: a bioimage.io package is a .zip file")
    path = resolve_weights(weights, scale)
    model, info = load_model(path, scale)
    if len(info.scales) > 1:
        model = model.at_scale(info.scale)
    gray = GrayModel(deployed(model).float().eval()).eval()
    radius = int(model.receptive_radius)
    title = name or f"TinyESPCN {path.stem} x{info.scale}"
    with tempfile.TemporaryDirectory(prefix="tinyespcn-bioimageio-") as scratch:
        d = Path(scratch)
        files = {k: d / f for k, f in (("torchscript", "weights_torchscript.pt"), ("onnx", "weights.onnx"),
                                        ("test_input", "test_input.npy"), ("cover", "cover.png"),
                                        ("doc", "README.md"), ("sample_input", "sample_input.tif"),
                                        ("sample_output", "sample_output.tif"))}  # fmt: skip
        _torchscript(gray, files["torchscript"])
        write_onnx(gray, files["onnx"], channels=1)
        lr = _test_input()
        np.save(files["test_input"], lr)
        tifffile.imwrite(files["sample_input"], lr[0, 0])
        tifffile.imwrite(files["sample_output"], np.kron(lr[0, 0], np.ones((info.scale, info.scale), np.float32)))
        placeholder = d / "test_output.npy"
        np.save(placeholder, np.kron(lr, np.ones((1, 1, info.scale, info.scale), np.float32)))  # replaced below
        files["doc"].write_text(documentation(info, path, title, radius))
        Image.new("L", (2, 1)).save(files["cover"])
        draft = _descr(v0_5, info, radius, files, title, placeholder)
        with create_prediction_pipeline(draft, weight_format="torchscript", devices=["cpu"]) as pipeline:
            # as `bioimageio test` runs it: the whole test input, no halo padding or cropping
            sample = pipeline.predict_sample_without_blocking(
                get_test_input_sample(draft), skip_input_padding=True, skip_output_cropping=True
            )
        sr = np.asarray(sample.members[v0_5.TensorId("upscaled")].data, np.float32)
        np.save(placeholder, sr)
        tifffile.imwrite(files["sample_output"], sr[0, 0])
        _cover(lr, sr, info.scale, files["cover"])
        descr = _descr(v0_5, info, radius, files, title, placeholder)
        summary = test_model(descr)
        if summary.status != "passed":
            raise ValueError(f"{out}: bioimage.io test failed, package not written:\n{summary.format()}")
        with atomic_path(out) as tmp:  # a hidden `.NAME.zip.XXXX.tmp.zip` beside `out` until it is complete
            save_bioimageio_package(descr, output_path=tmp)
    return {"path": out, "scale": info.scale, "halo": radius * info.scale, "test": summary.status}
