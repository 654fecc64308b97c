"""The TensorFlow network with a mixed-state probe of K incoherent modes (specs/tf-backend.md §2.1,
specs/physics.md §12.1): the model's predicted amplitude against the numpy reference, per-mode gradients of a
trainable probe, the legacy probe mirror, and train -> save -> reload -> infer on a 3-mode scan."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from ptycho import physics as R
from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.simulation import make_probe_modes
from ptycho_tf import network


def _modes(n: int, k: int = 3) -> np.ndarray:
    powers = [0.6, 0.3, 0.1][:k] if k <= 3 else None
    return R.normalize_probe(make_probe_modes(R.default_probe(n), k, powers).astype(np.complex64), 4.0)


@pytest.mark.parametrize("gs, object_big, mask", [(1, True, False), (2, True, True), (2, False, False)])
def test_model_prediction_is_the_numpy_mode_sum(gs, object_big, mask):
    """The autoencoder's pred_amp_scaled with a (3, N, N) probe is ptycho.physics.forward_model of the generator's
    object with the same modes (float32 model against the float64 reference), and pred_intensity its square."""
    n, c, s = 64, gs * gs, 5.0
    modes = _modes(n)
    models = network.build_models(ModelConfig(N=n, gridsize=gs, n_filters_scale=1, object_big=object_big,
                                              probe_mask=mask), probe=modes, intensity_scale=s, seed=1)
    assert tuple(models.physics.probe.shape) == (3, n, n, 2) and models.probe().shape == (3, n, n)
    rng = np.random.default_rng(gs)
    x = rng.uniform(0, 1, (2, n, n, c)).astype(np.float32)
    rel = (rng.uniform(-3, 3, (2, 1, 2, c)) if c > 1 else np.zeros((2, 1, 2, 1))).astype(np.float32)
    _, amp, inten = models.autoencoder([x * s, rel])
    a, p = models.generator(x * s)
    obj = np.asarray(a, np.float64) * np.exp(1j * np.asarray(p, np.float64))
    want = R.forward_model(obj, modes.astype(np.complex128), rel.astype(np.float64), s, object_big=object_big,
                           probe_mask=mask, M=network.canvas_size(n, gs))
    assert np.max(np.abs(np.asarray(amp) - want)) <= 1e-5 * np.max(want)
    # the modes add in intensity: not the one-mode amplitude of their sum
    coherent = R.forward_model(obj, modes.sum(0).astype(np.complex128), rel.astype(np.float64), s,
                               object_big=object_big, probe_mask=mask, M=network.canvas_size(n, gs))
    assert np.max(np.abs(coherent - want)) > 0.05 * np.max(want)
    np.testing.assert_allclose(np.asarray(inten), np.asarray(amp) ** 2, rtol=1e-6)


def test_trainable_modes_each_get_their_gradient():
    """probe_trainable with (K, N, N) modes: one (K, N, N, 2) weight; each mode's gradient of a loss on the summed
    intensity is non-zero and equals a central difference (float64 forward through the model's own ops)."""
    from ptycho_tf import ops

    n = 32
    modes = _modes(n).astype(np.complex128)
    rng = np.random.default_rng(7)
    obj = rng.uniform(0.5, 1, (2, n, n, 1)) * np.exp(1j * rng.uniform(-1, 1, (2, n, n, 1)))
    target = rng.uniform(0, 1, (2, n, n, 1))
    rel = np.zeros((2, 1, 2, 1))

    def loss(p):
        return tf.reduce_sum((ops.forward_from_patches(obj, p, rel, 2.0)[1] - target) ** 2)

    probe = tf.Variable(modes)
    with tf.GradientTape() as tape:
        value = loss(probe)
    g = tape.gradient(value, probe).numpy()
    assert all(np.abs(g[k]).max() > 0 for k in range(3))
    h = 1e-6
    up, dn = modes.copy(), modes.copy()
    up[2, 16, 16] += h
    dn[2, 16, 16] -= h
    # TF's gradient of a real loss in a complex variable is dL/d(Re z) + i dL/d(Im z)
    assert float(g[2, 16, 16].real) == pytest.approx((float(loss(up)) - float(loss(dn))) / (2 * h), rel=1e-5)

    mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    models = network.build_models(mc, probe=_modes(64), intensity_scale=3.0, probe_trainable=True, seed=0)
    assert [w.name for w in models.physics.trainable_weights] == ["probe"]
    assert tuple(models.physics.trainable_weights[0].shape) == (3, 64, 64, 2)


def test_probe_shapes_are_checked():
    mc = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    with pytest.raises(ValueError, match=r"^PhysicsForward: expected a probe of shape \(64, 64\) or \(K, 64, 64\)"):
        network.build_models(mc, probe=np.ones((3, 32, 32), np.complex64))
    models = network.build_models(mc, probe=_modes(64), seed=0)
    with pytest.raises(ValueError, match=r"^set_probe: expected a probe of shape \(3, 64, 64\)"):
        network.set_probe(models, np.ones((64, 64), np.complex64))
    network.set_probe(models, _modes(64)[::-1])
    np.testing.assert_allclose(models.probe(), _modes(64)[::-1], rtol=1e-6)
    one = network.build_models(mc, probe=_modes(64)[:1], seed=0)  # a one-mode stack is the one-mode model
    assert tuple(one.physics.probe.shape) == (64, 64, 2)


def test_legacy_probe_mirror_keeps_modes():
    """ptychodus's reconstruct calls ptycho.probe.set_probe_guess with its (K, N, N) stack: the mirror holds the
    modes normalised together, (K, N, N, 1), and get_probe returns them."""
    from ptycho import params
    from ptycho import probe as probe_mod

    raw = make_probe_modes(R.default_probe(64), 3).astype(np.complex64)
    saved = dict(params.cfg)
    try:
        params.set("probe_scale", 4.0)
        probe_mod.set_probe_guess(None, raw)
        assert params.get("probe").shape == (3, 64, 64, 1)
        np.testing.assert_allclose(probe_mod.get_probe(64), R.normalize_probe(raw, 4.0), rtol=1e-6)
        probe_mod.set_probe_guess(None, raw[:1])  # (1, N, N): one mode
        assert params.get("probe").shape == (64, 64, 1)
    finally:
        params.cfg.clear()
        params.cfg.update(saved)


def test_train_save_load_infer_with_three_modes(tmp_path):
    """A 3-mode scan trains one epoch (finite loss, the probe stays 3 modes, normalised together), its bundle
    reloads with the 3 modes and the same predictions, and the reloaded model stitches a finite object."""
    from ptycho.raw_data import RawData
    from ptycho.simulation import write_simulation
    from ptycho.workflows import components
    from ptycho_tf.bundle import load_bundle, save_bundle

    scan = tmp_path / "modes.npz"
    write_simulation(scan, N=64, n_positions=40, probe_kind="zoneplate", probe_modes=3, seed=4, object_size=160)
    data = RawData.from_file(str(scan))
    assert data.probeGuess.shape == (3, 64, 64)
    config = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), n_groups=24, batch_size=8,
                            nepochs=1, output_dir=tmp_path / "train", backend="tensorflow")
    _, _, results = components.run_cdi_example(data, data, config, checkpoints=False)
    assert results["history_epochs"] == 1 and all(math.isfinite(v) for v in results["history"]["train_loss"])
    models = results["tf_models"]
    np.testing.assert_allclose(models.probe(), R.normalize_probe(data.probeGuess, 4.0), rtol=1e-5, atol=1e-7)
    path = save_bundle(tmp_path / "model", models, config)
    loaded, _, extras = load_bundle(path)
    assert extras["probe"].shape == (3, 64, 64)
    cont = results["test_container"]
    s = np.float32(models.intensity_scale())
    inputs = [s * cont.X[:4], cont.coords_nominal[:4]]
    np.testing.assert_allclose(np.asarray(loaded.autoencoder(inputs)[1]), np.asarray(models.autoencoder(inputs)[1]),
                               rtol=1e-5, atol=1e-6)
    img, amp, _, _ = components.reassemble_cdi_image(data, config, models=loaded)
    assert np.all(np.isfinite(img)) and amp.max() > 0
