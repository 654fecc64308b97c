"""PINN generator and supervised baseline (specs/network.md §1-§5).

Parameter totals are pinned to the original TensorFlow model's (facts §2.3), the weight names and shapes
to the table in specs/network.md §4 (the TensorFlow backend mirrors them), plus head geometry and init.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from ptycho_torch.network import PtychoNet, count_parameters

SPEC = Path(__file__).resolve().parents[3] / "specs" / "network.md"


@pytest.mark.parametrize(
    ("N", "gs", "total"),
    [(64, 2, 2_340_208), (64, 1, 2_331_772), (128, 1, 4_661_212), (128, 2, 4_667_056), (256, 1, 12_912_268)],
)
def test_parameter_totals_match_original(N, gs, total):
    """specs/network.md §5: same totals as the original Keras model (nfs=2)."""
    assert count_parameters(PtychoNet(N, gs, 2)) == total


def _conv(cin, cout):
    return 9 * cin * cout + cout


def test_baseline_parameter_total_closed_form():
    """specs/network.md §3: encoder 32,64,128 x nfs from 1 channel; two decoders 128,64,32 x nfs + 1-ch head."""
    nfs = 2
    enc = [1, 64, 128, 256]
    total = sum(_conv(a, b) + _conv(b, b) for a, b in zip(enc[:-1], enc[1:], strict=False))
    dec = [256, 256, 128, 64]
    one = sum(_conv(a, b) + _conv(b, b) for a, b in zip(dec[:-1], dec[1:], strict=False)) + _conv(64, 1)
    assert count_parameters(PtychoNet(64, 1, nfs, model_type="supervised")) == total + 2 * one


def test_weight_table_in_spec_matches_model():
    """Every row `name | torch shape | keras shape` of specs/network.md §4 is the model's (N64 nfs2 gs2)."""
    rows = re.findall(r"^\| `([\w.]+)` \| \(([\d, ]+)\) \| \(([\d, ]+)\) \|", SPEC.read_text(), re.M)
    params = dict(PtychoNet(64, 2, 2).named_parameters())
    assert len(rows) == len(params) == 44
    for name, tshape, kshape in rows:
        shape = tuple(int(v) for v in tshape.split(","))
        assert tuple(params[name].shape) == shape, name
        perm = params[name].permute(2, 3, 1, 0) if params[name].dim() == 4 else params[name]
        assert tuple(perm.shape) == tuple(int(v) for v in kshape.split(",")), name


def test_names_and_branches():
    names = {n for n, _ in PtychoNet(64, 1, 1).named_parameters()}
    for branch in ("decoder_amp", "decoder_phase"):
        assert {f"{branch}.head.weight", f"{branch}.border.conv1.weight", f"{branch}.border.out.bias",
                f"{branch}.blocks.1.conv2.weight"} <= names
    assert "encoder.blocks.2.conv2.weight" in names and "encoder.blocks.3.conv1.weight" not in names
    flat = {n for n, _ in PtychoNet(64, 1, 1, probe_big=True, pad_object=False).named_parameters()}
    assert "decoder_amp.upsample.conv1.weight" in flat and not any(".border." in n for n in flat)


@pytest.mark.parametrize("act", ["sigmoid", "swish", "softplus", "relu"])
def test_heads_geometry_and_ranges(act):
    """pad_object + no probe_big: content only in the central N/2 square; phase = pi*tanh."""
    torch.manual_seed(0)
    net = PtychoNet(64, 2, 1, amp_activation=act, probe_big=False)
    with torch.no_grad():
        amp, phase = net(torch.rand(2, 64, 64, 4))
    assert amp.shape == phase.shape == (2, 64, 64, 4)
    inner = torch.zeros(64, 64, dtype=torch.bool)
    inner[16:48, 16:48] = True
    assert float(amp[:, ~inner].abs().max()) == 0.0 and float(phase[:, ~inner].abs().max()) == 0.0
    assert float(phase.abs().max()) < math.pi
    if act == "sigmoid":
        assert 0.0 < float(amp[:, inner].min()) and float(amp.max()) < 1.0
    if act in ("softplus", "relu", "sigmoid"):
        assert float(amp.min()) >= 0.0


def test_probe_big_border_and_object_big_false():
    torch.manual_seed(0)
    net = PtychoNet(64, 2, 1, object_big=False)
    with torch.no_grad():
        amp, phase = net(torch.rand(2, 64, 64, 4))
    assert amp.shape == (2, 64, 64, 1)
    border = torch.ones(64, 64, dtype=torch.bool)
    border[16:48, 16:48] = False
    assert float(phase[:, border].abs().max()) > 0.0  # the SiLU border branch fills the periphery


def test_keras_like_init():
    net = PtychoNet(64, 1, 1)
    for name, p in net.named_parameters():
        if name.endswith("bias"):
            assert float(p.abs().max()) == 0.0, name
        else:
            out_c, in_c, kh, kw = p.shape
            limit = math.sqrt(6.0 / (kh * kw * (in_c + out_c)))
            assert float(p.abs().max()) <= limit and float(p.abs().max()) > 0.8 * limit, name


def test_supervised_baseline_processes_channels_independently():
    torch.manual_seed(0)
    net = PtychoNet(64, 2, 1, model_type="supervised")
    x = torch.rand(2, 64, 64, 4)
    amp, phase = net(x)
    amp1, _ = net(x[..., 2:3].contiguous())
    assert amp.shape == (2, 64, 64, 4)
    assert torch.allclose(amp[..., 2], amp1[..., 0], atol=1e-6)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="ModelConfig.N: expected one of"):
        PtychoNet(96, 1, 1)
    with pytest.raises(ValueError, match="amp_activation"):
        PtychoNet(64, 1, 1, amp_activation="tanh")
    with pytest.raises(ValueError, match="model_type"):
        PtychoNet(64, 1, 1, model_type="gan")
