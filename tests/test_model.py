import re

import pytest
import torch

from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig, count_parameters, macs_per_lr_pixel


def conv_macs_by_hooks(model: TinyESPCN, h: int = 8, w: int = 8) -> float:
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total += out.numel() * mod.in_channels * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    model(torch.rand(1, 3, h, w))
    for hd in handles:
        hd.remove()
    return total / (h * w)


@pytest.mark.parametrize("scale,params", [(2, 386_188), (3, 394_843), (4, 406_960)])
def test_faithful_parameter_counts_match_the_audit(scale, params):
    assert count_parameters(TinyESPCN(TinyESPCNConfig(scale=scale))) == params


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_mac_formula_matches_hooked_forward(scale):
    cfg = TinyESPCNConfig(scale=scale)
    counted = conv_macs_by_hooks(TinyESPCN(cfg))
    assert counted + cfg.channels == macs_per_lr_pixel(cfg)


def test_tensor_names_avoid_spandrel_detection_keys():
    names = TinyESPCN(TinyESPCNConfig()).state_dict().keys()
    for pattern in (r"^body\.\d", r"^model\.\d", r"^conv_1\.", r"^module\.", r"^conv_first\."):
        assert not any(re.match(pattern, n) for n in names), pattern


def test_residual_option_changes_output_not_parameters():
    torch.manual_seed(0)
    plain = TinyESPCN(TinyESPCNConfig(blocks=3, channels=8))
    res = TinyESPCN(TinyESPCNConfig(blocks=3, channels=8, residual=True))
    res.load_state_dict(plain.state_dict())
    x = torch.rand(1, 3, 12, 12)
    assert count_parameters(plain) == count_parameters(res)
    assert not torch.allclose(plain(x), res(x))


def test_config_json_round_trip_and_validation():
    cfg = TinyESPCNConfig(scale=3, channels=32, residual=True)
    assert TinyESPCNConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="scale"):
        TinyESPCNConfig(scale=5)
    with pytest.raises(ValueError, match="unknown"):
        TinyESPCNConfig.from_json('{"scale": 2, "bogus": 1}')


def test_untrained_model_starts_near_bicubic():
    """The global bicubic skip means output = torch bicubic + learned detail."""
    model = TinyESPCN(TinyESPCNConfig(blocks=2, channels=8))
    torch.nn.init.zeros_(model.to_sub.weight)
    torch.nn.init.zeros_(model.to_sub.bias)
    x = torch.rand(1, 3, 10, 10)
    ref = torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
    assert torch.allclose(model(x), ref, atol=1e-6)
