"""Defaults shared by the core and the hosts, importable without torch (the napari menu must open fast)."""

# LR pixels per tile side. 256 keeps a 2048² → 8192² x4 upscale within 512 MB above its output on CPU
# (measured by `bench`; 384 needs ~100 MB more); GPU hosts may pass larger tiles.
DEFAULT_TILE = 256
