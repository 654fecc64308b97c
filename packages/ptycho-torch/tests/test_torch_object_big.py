"""``object_big`` at gridsize 1 (specs/cli.md §4.3): with one pattern per group the group canvas holds one patch
at offset 0, so merging it (True) and zero-padding it (False) give the same canvas and the same re-extracted patch.
The command lines' rule ``object_big = gridsize > 1`` (``ptycho_bridge.flag_configs.object_big_rule``) therefore
changes no prediction at gridsize 1; these tests measure it: the numpy reference physics, the torch forward model
(its shortcut and its canvas path) and the whole PyTorch model, initialised alike, predict the same diffraction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.physics import diffraction as reference
from ptycho.physics.probe import default_probe
from ptycho_torch.forward_model import ForwardModel
from ptycho_torch.lightning_module import PtychoPINN_Lightning

N = 64


def _patches(batch: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.uniform(0.5, 1.0, (batch, N, N, 1)) * np.exp(1j * rng.uniform(-1, 1, (batch, N, N, 1))))


@pytest.mark.parametrize("M", [None, 80, 96])
def test_numpy_and_torch_forward_models_agree_for_both_settings(M):
    """Predicted amplitudes of object_big True and False are equal (to the last bit in float64) in the numpy
    reference and in ``ForwardModel``, also on a fixed canvas larger than N (the merge path), and the two
    implementations agree with each other."""
    obj, probe, rel = _patches(), default_probe(N).astype(np.complex128), np.zeros((3, 1, 2, 1))
    ref = {big: reference.forward_model(obj, probe, rel, 10.0, object_big=big, M=M) for big in (True, False)}
    np.testing.assert_array_equal(ref[True], ref[False])
    for big in (True, False):
        fm = ForwardModel(N, 1, torch.from_numpy(probe), 10.0, object_big=big, M=M)
        trimmed, amp = fm(torch.from_numpy(obj), torch.zeros(3, 1, 2, 1, dtype=torch.float64))
        np.testing.assert_allclose(amp.numpy(), ref[False], rtol=1e-12, atol=1e-12 * float(np.abs(ref[False]).max()))
        np.testing.assert_array_equal(trimmed.numpy(), obj[..., 0])


@pytest.mark.parametrize("input_projections", [0, 2])
def test_the_whole_pytorch_model_predicts_the_same_diffraction(input_projections):
    """PtychoPINN_Lightning at gridsize 1 built with object_big True and False from the same seed: the same
    weights (the generator emits one channel either way) and the same predicted amplitudes, bit for bit."""
    out = {}
    for big in (True, False):
        mc = ModelConfig(N=N, gridsize=1, n_filters_scale=1, object_big=big, input_projections=input_projections)
        torch.manual_seed(3)
        module = PtychoPINN_Lightning(mc, TrainingConfig(model=mc, nphotons=1e6), default_probe(N), None).eval()
        x = torch.rand(2, N, N, 1, generator=torch.Generator().manual_seed(5)) * module.intensity_scale
        with torch.no_grad():
            out[big] = (module.state_dict(), module(x, torch.zeros(2, 1, 2, 1)))
    (weights_t, pred_t), (weights_f, pred_f) = out[True], out[False]
    assert weights_t.keys() == weights_f.keys()
    for key in weights_t:
        torch.testing.assert_close(weights_t[key], weights_f[key], rtol=0, atol=0)
    for key in ("pred_amplitude", "object", "patches"):
        torch.testing.assert_close(pred_t[key], pred_f[key], rtol=0, atol=0)
    assert float(pred_t["pred_amplitude"].abs().max()) > 0
