"""The text parts of a bioimage.io package: README (usage, validation, training data and licences), citations
and the licence id, all from the weights file's own metadata and the model card's data-licence table."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..core.intensity import PERCENTILES
from ..core.weights import WeightsInfo

SEED_REPOS = {
    "TinyESPCN-SR (seed 000)": "https://github.com/RishiSaawarn/TinyESPCN-SR",
    "TinyESPCN-Enhanced (seed 001)": "https://github.com/Xblade9669/TinyESPCN",
    "Image_Super_Resolution_SoC (seed 002)": "https://github.com/megamind1729/Image_Super_Resolution_SoC",
    "image-super-resolution-SRCNN (seed 003)": "https://github.com/HagaYev/image-super-resolution-SRCNN",
    "image_super_resolution (seed 004)": "https://github.com/GianpieroTulipani/image_super_resolution",
}
PAPERS = {
    "Shi et al. 2016, Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel "
    "Convolutional Neural Network (ESPCN), CVPR": "10.1109/CVPR.2016.207",
    "Zhang et al. 2021, Edge-oriented Convolution Block for Real-time Super Resolution on Mobile Devices "
    "(ECBSR), ACM MM": "10.1145/3474085.3475291",
}
TEST_IMAGE_SOURCE = (
    "scikit-image `data.cell()` (CC0): a quantitative-phase image of a cell, Müller et al. 2018, Optics "
    "Express 26(8) 10729, doi:10.1364/OE.26.010729"
)


def citations(info: WeightsInfo) -> list:
    from bioimageio.spec.model.v0_5 import CiteEntry, Doi, HttpUrl

    papers = [
        CiteEntry(text=t, doi=Doi(d)) for t, d in PAPERS.items() if "ECBSR" not in t or "Rep" in info.architecture
    ]
    return papers + [CiteEntry(text=t, url=HttpUrl(u)) for t, u in SEED_REPOS.items()]


def _training_text(info: WeightsInfo) -> str:
    t = info.training
    parts = [t.get("command", ""), json.dumps(t.get("data", "")), json.dumps(t.get("config", {}).get("data", ""))]
    parts += [s.get("command", "") for s in t.get("earlier_stages") or []]
    return " ".join(parts).lower().replace("-", "")


def data_licences(info: WeightsInfo) -> list[tuple[str, str]]:
    """(data, licence) rows of the model card's table whose data this file (or its earlier stages) trained on."""
    from ..core.data_licences import DATA_LICENCES

    text = _training_text(info)
    rows = []
    for line in DATA_LICENCES.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 3 or cells[1].startswith("evaluation"):
            continue
        keys = [re.sub(r"\s*\(.*", "", k).split("/")[-1].lower().replace("-", "") for k in cells[0].split(", ")]
        if any(k and k in text for k in keys):
            rows.append((cells[0], cells[2]))
    return rows


def licence_id(info: WeightsInfo) -> str:
    """CC-BY-NC-4.0 when any training data is non-commercial only, else the project's MIT."""
    return "CC-BY-NC-4.0" if any("non-commercial" in lic for _, lic in data_licences(info)) else "MIT"


def documentation(info: WeightsInfo, path: Path, title: str, radius: int) -> str:
    s = info.scale
    lo, hi = PERCENTILES
    rows = data_licences(info)
    table = "\n".join(f"| {d} | {lic} |" for d, lic in rows) or "| (none of the model card's datasets) | — |"
    data = info.training.get("data") or info.training.get("config", {}).get("data") or []
    commands = [info.training.get("command")] + [st.get("command") for st in info.training.get("earlier_stages") or []]
    commands = [c for c in commands if c]
    return f"""# {title}

A {info.architecture} super-resolution network from [tinyespcn-nodes](https://pypi.org/project/tinyespcn-nodes/),
exported from `{path.name}` by `python -m tinyespcn_nodes export-bioimageio`. It upscales one gray 2D plane
x{s} in y and x. The network itself is an RGB model: the package feeds the plane as R, G and B and returns the
mean of the three output channels, as tinyespcn-nodes does for gray images in napari and on the command line.

- **Input** `raw`: axes batch, channel (1), y, x; any dtype and intensity range.
- **Pre-processing**: `scale_range` with the {lo} / {hi} % percentiles over y and x (the CSBDeep convention,
  tinyespcn-nodes' `--intensity percentile`): the window maps to [0, 1], values outside it are kept.
- **Output** `upscaled`: axes batch, channel (1), y, x with y and x {s} times the input's (axis scale 1/{s}).
- **Output intensities**: in the input's percentile window, 0 = the input's {lo} % percentile and 1 = its
  {hi} % percentile (values beyond are kept). To return to the input's units multiply by (p{hi} − p{lo}) and
  add p{lo}. The package has no inverse step: the spec's data-dependent one (`scale_mean_variance` against the
  input) fails in bioimageio.core 0.11, which computes every statistic, the output's too, before prediction.
- **Halo**: {radius * s} output pixels ({radius} input pixels, the receptive radius): crop it from each tile.
- **Weights**: TorchScript (traced from the folded, inference form) and ONNX (opset 18), checked against each
  other and against PyTorch at export.

## How to use it

- **deepImageJ** (Fiji): *Plugins › deepImageJ › deepImageJ Install Model*, choose *From ZIP file* and this
  package; then open a 2D gray image and run the model from *deepImageJ Run* (TorchScript engine).
- **napari**: install the `napari-bioimageio` plugin (or run it in Python with `bioimageio.core`:
  `bioimageio.core.predict(model="this.zip", inputs=image[None, None])`). With tinyespcn-nodes itself, the
  *TinyESPCN upscale* widget runs the original `.safetensors` file directly.
- **ilastik, QuPath, careamics**: load the zip wherever they accept bioimage.io models (TorchScript or ONNX).
- **Check it**: `bioimageio test this.zip`.

## Validation

`bioimageio test` runs the test input (a {TEST_IMAGE_SOURCE}) through the package and compares the result
with the stored test output. The network was trained on photographs ({", ".join(map(str, data)) or "see below"})
downscaled with a bicubic kernel, not on microscopy: before quantitative use, check it on your own data by
downscaling a high-resolution acquisition by {s}, upscaling it with this model and comparing (PSNR/SSIM) with
the original and with a bicubic upscale. The network's own benchmark (Set5/Set14/BSD100 Y-PSNR) is in the
tinyespcn-nodes model card. Recorded metrics of this file: `{json.dumps(info.metrics)}`.

## Limitations

Trained on natural photographs: fine structure in micrographs may be sharpened in a photographic way
(edges, textures) and noise may be enhanced. Do not use the output for intensity measurements without checking.

## Training data and licences

| Data | Licence (as stated by the source) |
|---|---|
{table}

The package's licence field follows the most restrictive row (non-commercial data gives CC-BY-NC-4.0).
Training command(s), as recorded in the weights file:

```
{chr(10).join(commands) or "not recorded"}
```

## Citations

- ESPCN: Shi et al., CVPR 2016, doi:10.1109/CVPR.2016.207
{chr(10).join(f"- {k}: {u}" for k, u in SEED_REPOS.items())}
"""
