"""Make ComfyUI's core "Load Upscale Model" accept our files: one spandrel architecture per registered spec.

A spandrel state dict carries no metadata, so each spec recovers its config from tensor shapes
(`config_from_state`); specs that cannot (the scale of SRCNN is not in its tensors) are not registered.
Architectures that need whole-image statistics are marked `tiling=DISCOURAGED`: spandrel's tiling
would change their output.
"""

from __future__ import annotations


def register() -> bool:
    """Register once; returns False when spandrel is not installed."""
    try:
        from spandrel import MAIN_REGISTRY, Architecture, ArchSupport, ImageModelDescriptor, ModelTiling
    except ImportError:
        return False

    from ...core.arch import SPECS, ArchSpec

    def make(spec: ArchSpec):
        class Arch(Architecture):
            def __init__(self) -> None:
                super().__init__(id=spec.id, detect=spec.detect)

            def load(self, state_dict):
                config = spec.config_from_state(state_dict)
                model = spec.build(config)
                model.load_state_dict(state_dict)
                tiling = ModelTiling.DISCOURAGED if spec.global_stats else ModelTiling.SUPPORTED
                return ImageModelDescriptor(
                    model, state_dict, architecture=self, purpose="SR", tags=[], tiling=tiling,
                    supports_half=spec.supports_half, supports_bfloat16=spec.supports_bfloat16,
                    scale=config.scale, input_channels=3, output_channels=3,
                )  # fmt: skip

        return Arch()

    for spec in SPECS:
        if spec.config_from_state is not None and not spec.baseline:
            MAIN_REGISTRY.add(ArchSupport.from_architecture(make(spec)), ignore_duplicates=True)
    return True
