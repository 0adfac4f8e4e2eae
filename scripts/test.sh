#!/usr/bin/env bash
# Set up (CPU torch first, so no CUDA wheels are pulled) and run lint + the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q torch==2.13.0
python -m pip install -q ".[napari,test,io16,onnx,dask]" "PySide6>=6.5"
python -m pip install -q --no-deps spandrel && python -m pip install -q einops  # spandrel without torchvision
ruff check .
ruff format --check .
python -m pytest -q -ra
