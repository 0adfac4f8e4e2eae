"""VGG16/19 and AlexNet feature stacks in plain torch, loading torchvision-format `features.N.*` tensors.

No torchvision needed: the layer layouts below are torchvision's, so its state dicts load by index.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

_VGG_CFG = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_features(arch: str = "vgg16", last_index: int | None = None) -> nn.Sequential:
    """torchvision `vgg*.features` layer list, truncated after `last_index` (inclusive)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for v in _VGG_CFG[arch]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.ReLU(inplace=False)]
            in_ch = v
    if last_index is not None:
        layers = layers[: last_index + 1]
    return nn.Sequential(*layers)


def alexnet_features() -> nn.Sequential:
    """torchvision `alexnet().features` (conv at 0, 3, 6, 8, 10)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
    )  # fmt: skip


def load_features(net: nn.Sequential, path: str | Path) -> nn.Sequential:
    """Load `features.N.weight/bias` for the layers `net` has; extra (deeper) tensors in the file are ignored."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"feature weights not found: {path}")
    raw = load_file(str(path))
    state = {k.removeprefix("features."): v for k, v in raw.items()}
    wanted = net.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise ValueError(f"{path}: missing tensors {missing[:4]} for this feature stack")
    for k, v in wanted.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ValueError(
                f"{path}: tensor features.{k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}"
            )
    net.load_state_dict({k: state[k].float() for k in wanted})
    return net.eval().requires_grad_(False)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std
