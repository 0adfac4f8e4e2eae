"""TinyESPCN-Rep: a plain conv stack trained as edge-oriented multi-branch blocks that fold into one 3x3 each.

Training form (ECBSR-style, one `RepConv3x3` per layer): 3x3 + (1x1 → 3x3, `expand`x wide) + 1x1 → fixed
Sobel-x / Sobel-y / Laplacian with learned per-channel scales + identity. Every branch is linear, so
`fold()` sums them into ONE 3x3 conv exactly (the 1x1 convs run on zero padding, so their bias is what
the folded conv sees at the border too). Every `attn_every` layers a parameter-free attention closes a
residual group. Tail: 3x3 → 3·s² → PixelShuffle, plus the LR input repeated s² times (nearest skip, free).
Everything is tile-local.

Two activation sets: `act="prelu", gate="sigmoid"` (per-channel PReLU; SPAN's gate, the features gate
themselves with a sigmoid: (y + group input) · σ(y)), and `act="leaky", gate="hardswish"`, whose every op
oneDNN runs inside the conv on CPU: one learned slope per layer (a leaky ReLU), and the group's last conv
gates itself with a hard sigmoid (hardswish: y · relu6(y + 3)/6) before the group input is added. With
`gate="sum"` the self-gate moves to the group's FIRST conv and the last conv just adds the group input
(EDSR's block with a hardswish inside): oneDNN then runs the residual add inside the conv as well (its sum
post-op), so no layer costs more than its conv.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .ops import conv_add_, conv_hardswish, conv_leaky, pixel_shuffle_skip
from .spec import ArchConfig, ArchSpec

_SOBEL_X = [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
_SOBEL_Y = [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]
_LAPLACIAN = [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]


ACTS = ("prelu", "leaky")
GATES = ("sigmoid", "hardswish", "sum")


@dataclass(frozen=True)
class RepConfig(ArchConfig):
    """`deployed` files hold folded plain convs; the trainer builds the branched form."""

    scale: int = 2
    channels: int = 32
    blocks: int = 10  # 3x3 layers between head and tail
    expand: int = 2  # width multiplier of the 1x1 → 3x3 branch (0 = branch off)
    edge: bool = True  # Sobel/Laplacian branches
    attn_every: int = 2  # parameter-free attention + residual every N layers (0 = off)
    act: str = "prelu"  # prelu (one slope per channel) or leaky (one learned slope per layer: fusable)
    # sigmoid ((y + g)·σ(y), SPAN), hardswish (hardswish(y) + g: fusable) or sum (the group opens with a
    # hardswish self-gate, closes with y + g: both fused)
    gate: str = "sigmoid"
    deployed: bool = False

    def validate(self) -> None:
        super().validate()
        if self.channels < 1 or self.blocks < 0 or self.expand < 0 or self.attn_every < 0:
            raise ValueError(f"channels >= 1, blocks/expand/attn_every >= 0 required, got {self}")
        if self.act not in ACTS:
            raise ValueError(f"act must be one of {', '.join(ACTS)}, got {self.act!r}")
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {', '.join(GATES)}, got {self.gate!r}")
        if self.gate == "sum" and (self.attn_every < 2 or self.blocks < 2):
            raise ValueError(f"gate sum needs attn_every >= 2 and blocks >= 2 (a group needs a gated conv), got {self}")

    def closes_group(self, i: int) -> bool:
        """Whether trunk layer i (0-based) ends a residual group with the attention."""
        return bool(self.attn_every) and ((i + 1) % self.attn_every == 0 or i + 1 == self.blocks)

    def activation(self, i: int) -> str:
        """What follows trunk layer i's conv: "slope" (PReLU/leaky), the group-closing "sigmoid" attention or
        "hardswish" gate, or under gate sum "open" (the hardswish self-gate opening a group) and "add"."""
        if not self.closes_group(i):
            return "open" if self.gate == "sum" and i % self.attn_every == 0 else "slope"
        return "add" if self.gate == "sum" else self.gate


class _EdgeBranch(nn.Module):
    """1x1 (cin → cout) then a fixed depthwise 3x3 mask with a learned per-channel scale and bias."""

    def __init__(self, cin: int, cout: int, mask: list[list[float]]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, padding=1)  # padding here: the border sees the bias, as the fold does
        self.scale = nn.Parameter(torch.randn(cout, 1, 1, 1) * 1e-3)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("mask", torch.tensor(mask).expand(cout, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.conv(x), self.mask * self.scale, self.bias, groups=self.mask.shape[0])

    def kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.mask * self.scale  # [cout,1,3,3]
        weight = k * self.conv.weight  # [cout,cin,1,1] broadcast → [cout,cin,3,3]
        bias = self.bias + k.sum(dim=(1, 2, 3)) * self.conv.bias
        return weight, bias


class RepConv3x3(nn.Module):
    """The training-time block; `fold()` returns the equivalent single nn.Conv2d(cin, cout, 3, padding=1).

    `forward` convolves once with the branches summed in weight space (`kernel()`, differentiable): the same
    function of the same parameters as running every branch (`forward_branches`), at a plain conv's cost.
    """

    def __init__(self, cin: int, cout: int, expand: int = 2, edge: bool = True) -> None:
        super().__init__()
        self.cin, self.cout = cin, cout
        self.conv3 = nn.Conv2d(cin, cout, 3, padding=1)
        self.expand_in = nn.Conv2d(cin, cout * expand, 1, padding=1) if expand else None
        self.expand_out = nn.Conv2d(cout * expand, cout, 3) if expand else None
        self.edges = (
            nn.ModuleList(_EdgeBranch(cin, cout, m) for m in (_SOBEL_X, _SOBEL_Y, _LAPLACIAN)) if edge else None
        )
        self.identity = cin == cout

    def forward_branches(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(x)
        if self.expand_in is not None:
            y = y + self.expand_out(self.expand_in(x))
        if self.edges is not None:
            for branch in self.edges:
                y = y + branch(x)
        return y + x if self.identity else y

    def kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight, bias = self.conv3.weight, self.conv3.bias
        if self.expand_in is not None:
            w1, b1 = self.expand_in.weight[:, :, 0, 0], self.expand_in.bias
            w2, b2 = self.expand_out.weight, self.expand_out.bias
            weight = weight + torch.einsum("omhw,mi->oihw", w2, w1)
            bias = bias + b2 + torch.einsum("omhw,m->o", w2, b1)
        if self.edges is not None:
            for branch in self.edges:
                w, b = branch.kernel()
                weight = weight + w
                bias = bias + b
        if self.identity:
            eye = torch.zeros_like(weight)
            eye[torch.arange(self.cout), torch.arange(self.cout), 1, 1] = 1.0
            weight = weight + eye
        return weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.kernel()
        return F.conv2d(x, weight, bias, padding=1)

    @torch.no_grad()
    def fold(self) -> nn.Conv2d:
        weight, bias = self.kernel()
        conv = nn.Conv2d(self.cin, self.cout, 3, padding=1).to(weight.device, weight.dtype)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        return conv


_LEGACY_NAMES = {
    "head_act.": "prelu_in.",
    "body_act.": "prelus.",
    "head.": "conv_in.",
    "body.": "convs.",
    "tail.": "conv_out.",
}


def _layer(cin: int, cout: int, cfg: RepConfig) -> nn.Module:
    if cfg.deployed:
        return nn.Conv2d(cin, cout, 3, padding=1)
    return RepConv3x3(cin, cout, cfg.expand, cfg.edge)


class TinyESPCNRep(nn.Module):
    """RGB [B,3,h,w] in [0,1] → RGB [B,3,s·h,s·w]; branched for training, plain after `deploy()`."""

    def __init__(self, config: RepConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or RepConfig()
        c, s = cfg.channels, cfg.scale
        slopes = 1 if cfg.act == "leaky" else c
        self.conv_in = _layer(3, c, cfg)
        self.prelu_in = nn.PReLU(slopes)
        self.convs = nn.ModuleList(_layer(c, c, cfg) for _ in range(cfg.blocks))
        # hardswish gates and the closing sum have no parameters: no slopes there
        self.prelus = nn.ModuleList(self._activation(cfg, i, slopes) for i in range(cfg.blocks))
        self.conv_out = _layer(c, 3 * s * s, cfg)
        # stored so that a bare state dict (spandrel, ComfyUI's core loader) rebuilds the same function
        self.register_buffer("attn_every", torch.tensor([float(cfg.attn_every)]))

    @staticmethod
    def _activation(cfg: RepConfig, i: int, slopes: int) -> nn.Module:
        kind = cfg.activation(i)
        if kind == "add":
            return nn.Identity()
        return nn.Hardswish() if kind in ("open", "hardswish") else nn.PReLU(slopes)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def receptive_radius(self) -> int:
        return self.config.blocks + 2

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = lr.to(self.prelu_in.weight.dtype)  # reduced-precision models take fp32 input
        y = conv_leaky(self.conv_in, x, self.prelu_in.weight)
        group_in, cfg = y, self.config
        for i, (conv, act) in enumerate(zip(self.convs, self.prelus)):
            kind = cfg.activation(i)
            if kind == "add":
                y = group_in = conv_add_(conv, y, group_in)  # group_in is given up: the sum may land in it
            elif kind == "open":
                y = conv_hardswish(conv, y)
            elif kind == "hardswish":
                y = group_in = conv_hardswish(conv, y) + group_in
            else:
                y = conv_leaky(conv, y, act.weight)
                if kind == "sigmoid":
                    y = group_in = (y + group_in) * torch.sigmoid(y)  # parameter-free attention (SPAN), residual
        # nearest skip: each LR value added to its s² sub-pixels, kept in the input's precision
        return pixel_shuffle_skip(self.conv_out(y), lr, self.scale)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for old, new in _LEGACY_NAMES.items():  # checkpoints of the first runs used head/body/tail
            for key in [k for k in state_dict if k.startswith(prefix + old)]:
                state_dict[prefix + new + key[len(prefix + old) :]] = state_dict.pop(key)
        state_dict.setdefault(prefix + "attn_every", torch.tensor([float(self.config.attn_every)]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def deploy(self) -> TinyESPCNRep:
        """A new model with every RepConv3x3 folded into one plain conv (same outputs); deployed models return self."""
        if self.config.deployed:
            return self
        cfg = RepConfig(**{**self.config.as_dict(), "deployed": True})
        p = next(self.parameters())
        out = TinyESPCNRep(cfg).to(p.device, p.dtype)
        state = {}
        for name, module in self.named_modules():
            if isinstance(module, RepConv3x3):
                conv = module.fold()
                state[f"{name}.weight"], state[f"{name}.bias"] = conv.weight, conv.bias
        for name, tensor in self.state_dict().items():
            top = name.split(".")[0]
            if top in ("prelu_in", "prelus", "attn_every"):
                state[name] = tensor
        out.load_state_dict(state)
        return out.eval()


def _config_from_state(state: dict[str, torch.Tensor]) -> RepConfig:
    """Deployed files only: shapes give channels, layers and scale."""
    channels = state["conv_in.weight"].shape[0]
    blocks = len({k.split(".")[1] for k in state if k.startswith("convs.")})
    sub = state["conv_out.weight"].shape[0] // 3
    s = round(sub**0.5)
    every = int(state["attn_every"].item()) if "attn_every" in state else RepConfig.attn_every
    act = "leaky" if state["prelu_in.weight"].numel() == 1 else "prelu"
    gate = "sigmoid"
    if every and blocks and f"prelus.{min(every, blocks) - 1}.weight" not in state:
        # the layer that closes a group has no slopes: a hardswish gate, or the sum when the opening one has none
        gate = "sum" if min(every, blocks) > 1 and "prelus.0.weight" not in state else "hardswish"
    return RepConfig(scale=s, channels=channels, blocks=blocks, attn_every=every, act=act, gate=gate, deployed=True)


def _describe(cfg: RepConfig) -> str:
    branches = ["3×3"]
    if cfg.expand:
        branches.append(f"1×1→3×3 (×{cfg.expand})")
    if cfg.edge:
        branches.append("1×1→Sobel-x/Sobel-y/Laplacian")
    branches.append("identity")
    attn = (
        {
            "hardswish": f", hardswish self-gate + residual every {cfg.attn_every} layers",
            "sigmoid": f", parameter-free attention + residual every {cfg.attn_every} layers",
            "sum": f", residual groups of {cfg.attn_every} layers opened by a hardswish self-gate",
        }[cfg.gate]
        if cfg.attn_every
        else ""
    )
    act = "leaky ReLU (one learned slope per layer)" if cfg.act == "leaky" else "PReLU"
    return (
        f"TinyESPCN-Rep: {cfg.blocks + 2} plain 3×3 convs after folding (3→{cfg.channels}, {cfg.blocks} × "
        f"{cfg.channels}→{cfg.channels}, {cfg.channels}→{3 * cfg.scale**2}), {act}{attn}, PixelShuffle ×{cfg.scale}, "
        f"nearest skip; trained as {' + '.join(branches)} branches per conv"
    )


def _fused_blocks(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, RepConv3x3)]


def _training_form(model: nn.Module, state: dict) -> dict:
    """A deployed conv `name.*` → `name.conv3.*` of a RepConv3x3, minus what its other branches add now.

    The model then computes exactly the file's function, with every branch still free to train.
    """
    out = dict(state)
    for name, module in model.named_modules():
        if isinstance(module, RepConv3x3) and f"{name}.weight" in out and f"{name}.bias" in out:
            weight, bias = out.pop(f"{name}.weight"), out.pop(f"{name}.bias")
            with torch.no_grad():
                total_w, total_b = module.kernel()
                others_w, others_b = total_w - module.conv3.weight, total_b - module.conv3.bias
            if weight.shape == others_w.shape:
                out[f"{name}.conv3.weight"] = weight - others_w
                out[f"{name}.conv3.bias"] = bias - others_b
    return out


SPEC = ArchSpec(
    id="TinyESPCN-Rep",
    name="rep",
    config_cls=RepConfig,
    model_cls=TinyESPCNRep,
    description="plain 3x3 stack trained as re-parameterised edge-oriented blocks, PReLU, parameter-free attention, nearest skip",
    detect_keys=("conv_in.weight", "prelu_in.weight", "conv_out.weight"),
    config_from_state=_config_from_state,
    global_stats=False,
    describe=_describe,
    training_form=_training_form,
    fused_blocks=_fused_blocks,
)
