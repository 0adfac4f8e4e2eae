"""Thin adapters: cli (command line), napari (widgets), comfy (ComfyUI nodes)."""
