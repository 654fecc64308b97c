"""Property 3 (network forward with transferred weights, TF vs Torch, <= 1e-5 relative) and the weight
transfer itself (specs/parity.md §2, §3 P3; specs/network.md weight layout).

TensorFlow is live in every test here (marker ``needs_tf``); the golden-vector tests cover the Torch side
on machines without it.
"""

from __future__ import annotations

import math

import numpy as np
import parity_support as ps
import pytest
import torch
import weight_transfer as weights
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.needs_tf


def _pair(mc, seed, direction, device, s):
    probe = ps.default_probe(mc.N)
    tf_models = ps.build_tf(mc, probe, s, seed=seed)
    torch.manual_seed(seed)
    lm = ps.build_torch(mc, probe, s, device=device)
    if direction == "tf->torch":
        keys = weights.tf_to_torch(tf_models.autoencoder, lm)
    else:
        keys = weights.torch_to_tf(lm, tf_models.autoencoder)
    assert weights.LOG_SCALE_KEY in keys and weights.PROBE_KEY in keys
    return tf_models, lm.eval()


@settings(max_examples=ps.examples(10))
@given(mc=ps.model_configs(), seed=st.integers(0, 3), direction=st.sampled_from(["tf->torch", "torch->tf"]),
       batch=st.integers(1, 3))
def test_forward_parity(device, mc, seed, direction, batch):
    """Trimmed object, predicted amplitude and the generator's amplitude/phase agree to 1e-5."""
    x, rel, s = ps.model_inputs(seed, mc.N, mc.gridsize, batch)
    tf_models, lm = _pair(mc, seed, direction, device, s)
    trimmed, pred_amp, pred_int = tf_models.autoencoder([x * s, rel])
    with torch.no_grad():
        out = lm(torch.from_numpy(x * s).to(device), torch.from_numpy(rel).to(device))
    case = f"{ps.describe(mc)} B={batch} {direction}"
    ps.check("P3-network-forward", ps.rel_err(ps.to_numpy(out["pred_amplitude"]), ps.to_numpy(pred_amp)),
             "pred_amplitude " + case, "test_forward_parity")
    ps.check("P3-network-forward", ps.rel_err(ps.to_numpy(out["object"]), ps.to_numpy(trimmed)[..., 0]),
             "object " + case, "test_forward_parity")
    ps.check("P3-network-forward", ps.rel_err(ps.to_numpy(out["pred_amplitude"]) ** 2, ps.to_numpy(pred_int)),
             "pred_intensity " + case, "test_forward_parity")


@settings(max_examples=ps.examples(4))
@given(mc=ps.model_configs(n_values=(64,)), seed=st.integers(0, 3), direction=st.sampled_from(["tf->torch", "torch->tf"]))
def test_forward_parity_probe_modes(device, mc, seed, direction):
    """K = 3 incoherent probe modes (specs/physics.md §12.1, tf-backend.md §2.1, torch-training.md §2.1): with
    transferred weights (the (3, N, N) probe included) the two networks' predicted amplitudes agree to 1e-5, and
    each equals the numpy reference sqrt(sum_k |F[P_k O]|^2) of the TF generator's object."""
    from ptycho import physics
    from ptycho.simulation import make_probe_modes
    from ptycho_tf.network import canvas_size

    x, rel, s = ps.model_inputs(seed, mc.N, mc.gridsize, 2)
    modes = np.asarray(physics.normalize_probe(make_probe_modes(physics.default_probe(mc.N), 3, [0.7, 0.2, 0.1]),
                                               4.0), np.complex64)
    tf_models = ps.build_tf(mc, modes, s, seed=seed)
    torch.manual_seed(seed)
    lm = ps.build_torch(mc, modes, s, device=device)
    move = weights.tf_to_torch(tf_models.autoencoder, lm) if direction == "tf->torch" else \
        weights.torch_to_tf(lm, tf_models.autoencoder)
    assert weights.PROBE_KEY in move and tuple(lm.forward_model.probe.shape) == (3, mc.N, mc.N)
    _, pred_amp, _ = tf_models.autoencoder([x * s, rel])
    with torch.no_grad():
        out = lm.eval()(torch.from_numpy(x * s).to(device), torch.from_numpy(rel).to(device))
    case = f"{ps.describe(mc)} K=3 {direction}"
    ps.check("P3-network-forward", ps.rel_err(ps.to_numpy(out["pred_amplitude"]), ps.to_numpy(pred_amp)),
             "pred_amplitude " + case, "test_forward_parity_probe_modes")
    amp, phase = tf_models.generator(x * s)
    obj = np.asarray(amp, np.float64) * np.exp(1j * np.asarray(phase, np.float64))
    ref = physics.forward_model(obj, tf_models.probe().astype(np.complex128), rel.astype(np.float64), s,
                                object_big=mc.object_big, M=canvas_size(mc.N, mc.gridsize))
    ps.check("P3-network-forward", ps.rel_err(ps.to_numpy(pred_amp), ref), "numpy reference " + case,
             "test_forward_parity_probe_modes")


@settings(max_examples=ps.examples(4))
@given(mc=ps.model_configs(p128=0.3), seed=st.integers(0, 3))
def test_weight_round_trip_is_exact(device, mc, seed):
    """TF -> Torch -> (fresh) TF reproduces every weight bit for bit; names/shapes match one to one."""
    probe = ps.default_probe(mc.N)
    s = 10.0
    a = ps.build_tf(mc, probe, s, seed=seed)
    lm = ps.build_torch(mc, probe, s, device=device)
    weights.tf_to_torch(a.autoencoder, lm)
    b = ps.build_tf(mc, probe * 0.5, s * 2, seed=seed + 1)
    weights.torch_to_tf(lm, b.autoencoder)
    sa, sb = weights.keras_to_torch_state(a.autoencoder), weights.keras_to_torch_state(b.autoencoder)
    assert sorted(sa) == sorted(sb)
    assert set(ps.torch_conv_shapes(lm)) | {weights.LOG_SCALE_KEY, weights.PROBE_KEY} == set(sa)
    worst = max(float(np.max(np.abs(sa[k] - sb[k]))) if sa[k].size else 0.0 for k in sa)
    ps.check("weight-transfer", worst, ps.describe(mc), "test_weight_round_trip_is_exact")


def test_transfer_refuses_mismatched_models(device):
    """A gridsize-2 Torch model cannot silently take gridsize-1 TF weights (first conv in-channels)."""
    from ptycho.config.config import ModelConfig

    probe = ps.default_probe(64)
    a = ps.build_tf(ModelConfig(N=64, gridsize=1, n_filters_scale=1), probe, 10.0)
    lm = ps.build_torch(ModelConfig(N=64, gridsize=2, n_filters_scale=1), probe, 10.0, device=device)
    with pytest.raises(ValueError, match=r"load_state_into_torch: [a-z_.0-9]+: expected shape"):
        weights.tf_to_torch(a.autoencoder, lm)


def test_supervised_baseline_parity(device):
    """model_type='supervised': both backends must build the same baseline network (facts §2.6).

    Fails while the TF backend builds the PINN generator for every model_type (the Torch backend builds
    the 1-channel baseline encoder/decoders), so the weights cannot correspond.
    """
    from ptycho.config.config import ModelConfig

    mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1, model_type="supervised")
    probe = ps.default_probe(64)
    tf_models = ps.build_tf(mc, probe, 10.0)
    lm = ps.build_torch(mc, probe, 10.0, device=device)
    tf_shapes = {k: v.shape for k, v in weights.keras_to_torch_state(tf_models.autoencoder).items()
                 if k.split(".")[0] in weights.TOP_LEVEL_MODULES}
    torch_shapes = ps.torch_conv_shapes(lm)
    differ = sorted(k for k in set(tf_shapes) | set(torch_shapes) if tf_shapes.get(k) != torch_shapes.get(k))
    ps.STATE.record("P3-network-forward", math.inf if differ else 0.0,
                    f"supervised N=64 gs=1: {len(differ)} weight-table entries differ" if differ else "supervised tables",
                    "test_supervised_baseline_parity")
    assert not differ, (f"supervised baseline: TF and Torch weight tables differ in {len(differ)} entries, "
                        f"first {differ[0]!r}: TF {tf_shapes.get(differ[0])} vs Torch {torch_shapes.get(differ[0])}")
