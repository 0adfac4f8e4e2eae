"""Make ComfyUI's core "Load Upscale Model" accept TinyESPCN files by registering a spandrel architecture."""

from __future__ import annotations


def register() -> bool:
    """Register once; returns False when spandrel is not installed."""
    try:
        from spandrel import MAIN_REGISTRY, Architecture, ArchSupport, ImageModelDescriptor
    except ImportError:
        return False

    from ..core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig

    def detect(state_dict) -> bool:
        return "feat_in.weight" in state_dict and "to_sub.weight" in state_dict

    class TinyESPCNArch(Architecture[TinyESPCN]):
        def __init__(self) -> None:
            super().__init__(id="TinyESPCN", detect=detect)

        def load(self, state_dict):
            blocks = len({k.split(".")[1] for k in state_dict if k.startswith("trunk.")})
            channels, _, head, _ = state_dict["feat_in.weight"].shape
            scale = int(round((state_dict["to_sub.weight"].shape[0] // 3) ** 0.5))
            cfg = TinyESPCNConfig(
                scale=scale,
                channels=channels,
                blocks=blocks,
                head_kernel=head,
                attention="attn.fc_down.weight" in state_dict,
            )
            model = TinyESPCN(cfg)  # tensors carry no `residual` flag: files from this path use the plain trunk
            model.load_state_dict(state_dict)
            return ImageModelDescriptor(
                model,
                state_dict,
                architecture=self,
                purpose="SR",
                tags=[],
                supports_half=True,
                supports_bfloat16=True,
                scale=scale,
                input_channels=3,
                output_channels=3,
            )

    MAIN_REGISTRY.add(ArchSupport.from_architecture(TinyESPCNArch()), ignore_duplicates=True)
    return True
