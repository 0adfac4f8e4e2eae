"""Thin adapters: ComfyUI nodes and installer, spandrel registration, napari widgets."""
