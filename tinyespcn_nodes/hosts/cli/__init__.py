"""Command line: upscale, demo, info, speed bench, convert, install-comfyui."""
