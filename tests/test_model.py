import re

import pytest
import torch

from tinyespcn_nodes.core.arch import count_parameters, macs_per_lr_pixel
from tinyespcn_nodes.core.arch.tinyespcn import TinyESPCN, TinyESPCNConfig, _config_from_state


@pytest.mark.parametrize("scale,params", [(2, 386_188), (3, 394_843), (4, 406_960)])
def test_faithful_parameter_counts_match_the_audit(scale, params):
    assert count_parameters(TinyESPCN(TinyESPCNConfig(scale=scale))) == params


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_hooked_mac_count_matches_the_closed_form(scale):
    c, k, blocks = 64, 7, 10
    convs = k * k * 3 * c + blocks * 9 * c * c + 9 * c * 3 * scale * scale
    hidden = c // 16
    gate = 2 * c * hidden / (24 * 24)  # the SE gate's two linear layers run once per image (24² input)
    assert macs_per_lr_pixel(TinyESPCN(TinyESPCNConfig(scale=scale)), size=24) == round(convs + gate)


def test_tensor_names_avoid_spandrel_detection_keys():
    names = TinyESPCN(TinyESPCNConfig()).state_dict().keys()
    for pattern in (r"^body\.\d", r"^model\.\d", r"^conv_1\.", r"^module\.", r"^conv_first\."):
        assert not any(re.match(pattern, n) for n in names), pattern


def test_residual_option_changes_output_not_parameters():
    torch.manual_seed(0)
    plain = TinyESPCN(TinyESPCNConfig(blocks=3, channels=8))
    res = TinyESPCN(TinyESPCNConfig(blocks=3, channels=8, residual=True))
    res.load_state_dict({**plain.state_dict(), "residual_trunk": torch.ones(1)})
    x = torch.rand(1, 3, 12, 12)
    assert count_parameters(plain) == count_parameters(res)
    assert _config_from_state(res.state_dict()).residual and not _config_from_state(plain.state_dict()).residual
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
