"""Supervised baseline of the TensorFlow backend (specs/network.md §3, specs/tf-backend.md §1, §4).

The reference for the network is an independent numpy implementation of the baseline (conv 3x3 'same',
ReLU, max-pool 2, nearest upsample 2) run on the Keras model's own weights; parameter names/shapes follow
the PyTorch weight table (the cross-backend check is tests-parity P3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho.raw_data import RawData
from ptycho_tf import bundle, network, training

FIXTURE = Path(__file__).resolve().parents[2] / "ptycho-contracts/tests/fixtures/minimal_dataset_v1.npz"


def _expected_table(nfs: int) -> dict[str, tuple[int, ...]]:
    """Torch-named shapes of specs/network.md §3: ConvPool 32,64,128 from 1 channel; ConvUp 128,64,32; head -> 1."""
    table: dict[str, tuple[int, ...]] = {}
    cin = 1
    for i, f in enumerate((32, 64, 128)):
        for j, (a, b) in enumerate(((cin, f * nfs), (f * nfs, f * nfs)), start=1):
            table[f"encoder.blocks.{i}.conv{j}.weight"], table[f"encoder.blocks.{i}.conv{j}.bias"] = (b, a, 3, 3), (b,)
        cin = f * nfs
    for dec in ("decoder_amp", "decoder_phase"):
        c = cin
        for i, f in enumerate((128, 64, 32)):
            for j, (a, b) in enumerate(((c, f * nfs), (f * nfs, f * nfs)), start=1):
                table[f"{dec}.blocks.{i}.conv{j}.weight"], table[f"{dec}.blocks.{i}.conv{j}.bias"] = (b, a, 3, 3), (b,)
            c = f * nfs
        table[f"{dec}.head.weight"], table[f"{dec}.head.bias"] = (1, c, 3, 3), (1,)
    return table


@pytest.mark.parametrize("n,gs,nfs,total", [(64, 2, 2, 4_612_418), (64, 1, 1, 1_154_210), (128, 3, 1, 1_154_210)])
def test_weight_table_matches_torch_names_and_totals(n, gs, nfs, total):
    """specs/network.md §3/§5: names and shapes of the Torch baseline, totals pinned, independent of N and C."""
    m = network.build_models(ModelConfig(N=n, gridsize=gs, n_filters_scale=nfs, model_type="supervised"))
    state = network.to_torch_state(m.autoencoder)
    convs = {k: v.shape for k, v in state.items() if k not in ("log_scale", "probe")}
    assert convs == _expected_table(nfs)
    assert network.conv_parameter_count(m.autoencoder) == total == sum(int(np.prod(s)) for s in convs.values())
    assert m.supervised and m.training_model is m.generator
    assert not network.build_models(ModelConfig(N=64, gridsize=1, n_filters_scale=1)).supervised


# ------------------------------------------------------------------------- numpy reference network

def _conv(x, w, b):
    """'same' 3x3 convolution (cross-correlation) of (B,H,W,I) with torch-layout w (O,I,3,3)."""
    h, wd = x.shape[1:3]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros(x.shape[:3] + (w.shape[0],))
    for dy in range(3):
        for dx in range(3):
            out += xp[:, dy:dy + h, dx:dx + wd, :] @ w[:, :, dy, dx].T
    return out + b


def _numpy_baseline(state, x):
    """x (B,N,N,C) -> amp, phase (B,N,N,C), each channel through the 1-channel network (float64)."""
    b, n, _, c = x.shape
    z = np.transpose(x, (0, 3, 1, 2)).reshape(b * c, n, n, 1).astype(np.float64)
    relu = lambda t: np.maximum(t, 0.0)  # noqa: E731
    for i in range(3):
        for j in (1, 2):
            z = relu(_conv(z, state[f"encoder.blocks.{i}.conv{j}.weight"], state[f"encoder.blocks.{i}.conv{j}.bias"]))
        z = z.reshape(z.shape[0], z.shape[1] // 2, 2, z.shape[2] // 2, 2, -1).max(axis=(2, 4))
    outs = []
    for dec in ("decoder_amp", "decoder_phase"):
        y = z
        for i in range(3):
            for j in (1, 2):
                y = relu(_conv(y, state[f"{dec}.blocks.{i}.conv{j}.weight"], state[f"{dec}.blocks.{i}.conv{j}.bias"]))
            y = y.repeat(2, axis=1).repeat(2, axis=2)
        y = _conv(y, state[f"{dec}.head.weight"], state[f"{dec}.head.bias"])
        outs.append(np.transpose(y.reshape(b, c, n, n), (0, 2, 3, 1)))
    return outs


def test_generator_matches_numpy_reference_per_channel():
    """§3: channels are processed independently by the 1-channel network with linear heads; the model input
    s*X is divided by exp(log_scale) first. Non-zero biases so that every term is exercised."""
    mc = ModelConfig(N=64, gridsize=2, n_filters_scale=1, model_type="supervised")
    m = network.build_models(mc, intensity_scale=3.0, seed=5)
    rng = np.random.default_rng(1)
    state = network.to_torch_state(m.autoencoder)
    for k in state:
        if k.endswith(".bias"):
            state[k] = rng.normal(0, 0.05, state[k].shape).astype(np.float32)
    network.from_torch_state(m.autoencoder, state)
    x = rng.random((2, 64, 64, 4)).astype(np.float32)
    amp, phase = (t.numpy() for t in m.generator(3.0 * x))
    ref_amp, ref_phase = _numpy_baseline(state, x)
    for out, ref in ((amp, ref_amp), (phase, ref_phase)):
        assert out.shape == (2, 64, 64, 4)
        assert np.max(np.abs(out - ref)) / np.max(np.abs(ref)) < 1e-5
    assert np.min(ref_amp) < 0  # linear head: no activation clamps the output


# ------------------------------------------------------------------------------ training

def _container(with_y: bool, gs: int = 1):
    from ptycho.workflows import components

    raw = RawData.from_file(FIXTURE)
    if not with_y:
        raw.objectGuess = None
    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=gs, n_filters_scale=1, model_type="supervised"),
                         n_groups=24, neighbor_count=4, subsample_seed=2, nepochs=3, batch_size=8, nphotons=1e6,
                         backend="tensorflow")
    return components.create_ptycho_data_container(raw, cfg), cfg


def test_supervised_loss_is_mae_of_amplitude_plus_mae_of_phase():
    """specs/tf-backend.md §4: the compiled loss equals mean|label_amp - amp| + mean|label_phase - phase|
    (numpy on the generator's outputs), the PyTorch lightning_module definition."""
    cont, cfg = _container(True, gs=2)
    assert cont.has_labels and np.ptp(cont.Y_phi) > 0
    m = network.build_models(cfg.model, intensity_scale=5.0, seed=0)
    training.compile_models(m, cfg)
    xs = np.float32(5.0) * cont.X
    amp, phase = m.generator.predict(xs, verbose=0)
    ref = np.mean(np.abs(cont.Y_I - amp)) + np.mean(np.abs(cont.Y_phi - phase))
    got = m.training_model.evaluate(xs, [cont.Y_I, cont.Y_phi], batch_size=len(cont), verbose=0)
    got = got[0] if isinstance(got, list) else got
    assert abs(got - ref) / ref < 1e-5


def test_supervised_training_reduces_loss_and_saves_bundle(tmp_path):
    """train_with_config fits the generator on the container's labels; the loss falls; a bundle round trip
    rebuilds the baseline (config.json model_type) with identical outputs."""
    from ptycho.train_pinn import train_with_config

    cont, cfg = _container(True)
    models, hist = train_with_config(cont, cfg, seed=3)
    assert len(hist["train_loss"]) == 3 and hist["train_loss"][-1] < hist["train_loss"][0]
    path = bundle.save_bundle(tmp_path, models, cfg)
    loaded, _, _ = bundle.load_bundle(path)
    assert loaded.supervised
    x = np.float32(models.intensity_scale()) * cont.X[:2]
    for a, b in zip(models.generator(x), loaded.generator(x), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_missing_labels_is_one_line_error():
    """Torch raises on a supervised batch without label_amp/label_phase; TF refuses before fitting."""
    from ptycho.train_pinn import train_with_config

    cont, cfg = _container(False)
    assert not cont.has_labels and not cont.subset([0, 1]).has_labels
    with pytest.raises(ValueError, match=r"^fit: model_type='supervised': expected labels \(label_amp, label_phase\) "
                                         r"of shape \(24, 64, 64, 1\), found none"):
        train_with_config(cont, cfg, seed=0)
    m = network.build_models(cfg.model, seed=0)
    bad = (np.zeros((24, 64, 64, 1)), np.zeros((24, 64, 64, 2)))
    with pytest.raises(ValueError, match=r"^fit: label_phase: expected shape \(24, 64, 64, 1\), found \(24, 64, 64, 2\)$"):
        training.fit(m, cont.X, cont.coords_nominal, cfg, 5.0, labels=bad)
