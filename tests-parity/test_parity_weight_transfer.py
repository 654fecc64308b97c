"""weight_transfer (the parity suite's helper): names, layouts and strictness of the TF <-> Torch weight transfer
(specs/parity.md §2). Numerical model parity: the other tests of this folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import weight_transfer as weights


def test_module_imports_no_framework():
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import weight_transfer; "
            "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


@pytest.mark.parametrize("path, layer", [
    ("encoder.blocks.0.conv1", "encoder_blocks_0_conv1"),
    ("decoder_amp.blocks.1.conv2", "decoder_amp_blocks_1_conv2"),
    ("decoder_phase.head", "decoder_phase_head"),
    ("decoder_amp.border.out", "decoder_amp_border_out"),
    ("decoder_phase.upsample.conv1", "decoder_phase_upsample_conv1"),
])
def test_names_both_ways(path, layer):
    assert weights.keras_layer_name(path) == layer
    assert weights.torch_module_path(layer) == path


def test_unknown_layer_name_is_an_error():
    with pytest.raises(ValueError, match=r"torch_module_path: expected a Keras layer name starting with .*found 'conv2d_3'"):
        weights.torch_module_path("conv2d_3")


def _torch_model(gridsize=1, **kw):
    torch = pytest.importorskip("torch")
    from ptycho_torch.network import PtychoNet

    torch.manual_seed(0)
    return PtychoNet(N=64, gridsize=gridsize, n_filters_scale=1, **kw)


def test_torch_state_round_trip_and_strictness():
    a, b = _torch_model(), _torch_model()
    for p in b.parameters():
        p.data.zero_()
    state = weights.torch_state_to_numpy(a)
    keys = weights.load_state_into_torch(b, state)
    assert keys and all(np.array_equal(state[k], b.state_dict()[k].numpy()) for k in keys)
    missing = dict(state)
    missing.pop("decoder_amp.head.bias")
    with pytest.raises(ValueError, match=r"load_state_into_torch: state: missing key 'decoder_amp.head.bias'"):
        weights.load_state_into_torch(b, missing)
    extra = dict(state, **{"decoder_amp.extra.weight": np.zeros((1, 1, 3, 3), np.float32)})
    with pytest.raises(ValueError, match=r"key 'decoder_amp.extra.weight' is not a parameter"):
        weights.load_state_into_torch(b, extra)
    with pytest.raises(ValueError, match=r"encoder.blocks.0.conv1.weight: expected shape \(32, 4, 3, 3\), found \(32, 1, 3, 3\)"):
        weights.load_state_into_torch(_torch_model(gridsize=2), state)


def test_keras_layout_and_physics():
    """Kernel (kh, kw, in, out) -> (out, in, kh, kw); probe [re, im] -> complex; log_scale scalar; and back."""
    pytest.importorskip("tensorflow")
    from ptycho import physics
    from ptycho.config.config import ModelConfig
    from ptycho_tf import network

    probe = physics.normalize_probe(physics.default_probe(64), 4.0) * np.exp(0.3j)
    models = network.build_models(ModelConfig(N=64, gridsize=1, n_filters_scale=1), probe=probe,
                                  intensity_scale=7.0, seed=3)
    state = weights.keras_to_torch_state(models.autoencoder)
    layer = models.autoencoder.get_layer("decoder_phase_blocks_1_conv2")
    k = layer.kernel.numpy()
    w = state["decoder_phase.blocks.1.conv2.weight"]
    assert w.shape == (k.shape[3], k.shape[2], 3, 3)
    assert w[5, 2, 0, 1] == k[0, 1, 2, 5] and w[0, 7, 2, 2] == k[2, 2, 7, 0]
    np.testing.assert_allclose(state[weights.PROBE_KEY], probe.astype(np.complex64), rtol=1e-6, atol=1e-7)
    assert state[weights.LOG_SCALE_KEY].shape == () and np.isclose(np.exp(state[weights.LOG_SCALE_KEY]), 7.0)
    assert set(state) - {weights.PROBE_KEY, weights.LOG_SCALE_KEY} == set(
        weights.torch_state_to_numpy(_torch_model()))

    other = network.build_models(ModelConfig(N=64, gridsize=1, n_filters_scale=1), probe=probe * 2,
                                 intensity_scale=3.0, seed=4)
    weights.load_state_into_keras(other.autoencoder, state)
    back = weights.keras_to_torch_state(other.autoencoder)
    assert all(np.array_equal(back[key], state[key]) for key in state)
    bad = dict(state, **{"encoder.blocks.0.conv1.weight": np.zeros((32, 2, 3, 3), np.float32)})
    with pytest.raises(ValueError, match=r"encoder.blocks.0.conv1.weight: expected shape \(3, 3, 1, 32\) \(Keras layout\)"):
        weights.load_state_into_keras(other.autoencoder, bad)
