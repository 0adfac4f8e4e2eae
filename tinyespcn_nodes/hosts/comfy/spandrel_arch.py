"""Make ComfyUI's core "Load Upscale Model" accept our files: one spandrel architecture per registered spec.

A spandrel state dict carries no metadata, so each spec recovers its config from tensor shapes
(`config_from_state`); specs that cannot (the scale of SRCNN is not in its tensors) are not registered.
Files whose model needs whole-image statistics (TinyESPCN's squeeze-and-excitation gate: seed, general-x3/x4,
portrait) are refused at load with WHOLE_IMAGE: ComfyUI 0.3.64's "Upscale Image (using Model)" runs every model
in 512-px tiles (it reads no `tiling` flag), so each tile would average only itself and the output would change.
"""

from __future__ import annotations

WHOLE_IMAGE = (
    "this TinyESPCN file needs whole-image statistics (its squeeze-and-excitation gate averages the whole "
    "picture), and the core 'Upscale Image (using Model)' runs models in 512-px tiles, which would change its "
    "output: load it with 'Load TinyESPCN Model' and upscale with 'Upscale Image (TinyESPCN)' (exact, any size)"
)


def register() -> bool:
    """Register once; returns False when spandrel is not installed."""
    try:
        from spandrel import MAIN_REGISTRY, Architecture, ArchSupport, ImageModelDescriptor, ModelTiling
    except ImportError:
        return False

    from ...core.arch import SPECS, ArchSpec
    from ...core.tiling import needs_statistics

    def make(spec: ArchSpec):
        class Arch(Architecture):
            def __init__(self) -> None:
                super().__init__(id=spec.id, detect=spec.detect)

            def load(self, state_dict):
                config = spec.config_from_state(state_dict)
                model = spec.build(config)
                model.load_state_dict(state_dict)
                if needs_statistics(model):
                    raise ValueError(WHOLE_IMAGE)
                return ImageModelDescriptor(
                    model, state_dict, architecture=self, purpose="SR", tags=[], tiling=ModelTiling.SUPPORTED,
                    supports_half=spec.supports_half, supports_bfloat16=spec.supports_bfloat16,
                    scale=config.scale, input_channels=3, output_channels=3,
                )  # fmt: skip

        return Arch()

    for spec in SPECS:
        if spec.config_from_state is not None and not spec.baseline:
            MAIN_REGISTRY.add(ArchSupport.from_architecture(make(spec)), ignore_duplicates=True)
    return True
