#!/usr/bin/env bash
# Set up (CPU torch first, so no CUDA wheels are pulled) and run lint + the whole test suite, in the active
# Python environment (`.ci/run` makes a brand-new venv for it on every run).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q torch==2.13.0
python -m pip install -q ".[napari,test,io16,onnx,dask,video,bioimageio]" "PySide6>=6.5" einops
# spandrel declares torchvision, which has no usable CPU wheel beside torch 2.13: install it last, without its
# dependencies (einops, its one import we reach, is above), so no resolver run ever sees the missing torchvision
python -m pip install -q --no-deps spandrel
python -m pip check | grep -v "spandrel .* requires torchvision" || true
ruff check .
ruff format --check .
python -m pytest -q -ra
