"""Files and stores: image files, TIFF rows, zarr jobs, ONNX export. No host framework."""
