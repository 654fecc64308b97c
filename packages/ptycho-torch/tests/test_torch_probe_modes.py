"""The PyTorch network with a mixed-state probe of K incoherent modes (specs/torch-training.md §2.1,
specs/physics.md §12.1): the physics layer against the numpy reference, training, bundle round trip, inference."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from ptycho import params
from ptycho import physics as R
from ptycho.config.config import ModelConfig, TrainingConfig, update_legacy_dict
from ptycho.raw_data import RawData
from ptycho.simulation import make_probe_modes, write_simulation
from ptycho_torch.forward_model import ForwardModel, object_patches
from ptycho_torch.physics import normalize_probe


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


@pytest.mark.parametrize("gs, object_big, mask, sigma", [(1, True, False, 0.0), (2, True, True, 0.0),
                                                         (2, False, False, 0.7)])
def test_forward_model_with_modes_is_the_numpy_reference(gs, object_big, mask, sigma):
    """The module's K-mode amplitude is ptycho.physics.forward_model's with the (K, N, N) probe (no blur), and with
    the exit-wave blur it is the root of the summed one-mode modules' intensities."""
    rng = np.random.default_rng(gs)
    n, c = 32, gs * gs
    amp = rng.uniform(0.2, 1.0, (2, n, n, c if object_big else 1))
    phase = rng.uniform(-2, 2, amp.shape)
    rel = rng.uniform(-3, 3, (2, 1, 2, c)) if c > 1 else np.zeros((2, 1, 2, 1))
    modes = make_probe_modes(R.default_probe(n), 3, [0.6, 0.3, 0.1]).astype(np.complex128)
    fm = ForwardModel(n, gs, _t(modes), 5.0, object_big=object_big, probe_mask=mask, gaussian_smoothing_sigma=sigma)
    _, pred = fm(object_patches(_t(amp), _t(phase)), _t(rel))
    if sigma == 0:
        want = R.forward_model(amp * np.exp(1j * phase), modes, rel, 5.0, object_big=object_big, probe_mask=mask)
    else:
        ones = [ForwardModel(n, gs, _t(m), 5.0, object_big=object_big, probe_mask=mask, gaussian_smoothing_sigma=sigma)
                for m in modes]
        want = np.sqrt(sum(f(object_patches(_t(amp), _t(phase)), _t(rel))[1].numpy() ** 2 for f in ones))
    np.testing.assert_allclose(pred.numpy(), want, rtol=1e-9, atol=1e-12)


def test_mode_normalisation_is_one_factor_of_the_summed_intensity():
    modes = make_probe_modes(R.default_probe(64), 3).astype(np.complex128)
    out_np = R.normalize_probe(modes, 4.0)
    out_t = normalize_probe(_t(modes), 4.0).numpy()
    np.testing.assert_allclose(out_t, out_np, rtol=1e-12)
    ratio = out_np / modes
    np.testing.assert_allclose(ratio[np.abs(modes) > 1e-6], ratio[0, 32, 32], rtol=1e-9)
    modulus = np.sqrt(np.sum(np.abs(out_np) ** 2, axis=0))
    assert math.isclose(float(np.mean(R.probe_mask(64) * modulus)), 0.25, rel_tol=1e-12)


def test_train_save_load_infer_with_three_modes(tmp_path):
    """A 3-mode scan trains (finite losses, the probe stays 3 modes), saves, reloads with its modes, infers; the
    path imports no TensorFlow (checked when no earlier test in this process imported it)."""
    tensorflow_before = "tensorflow" in sys.modules
    from ptycho_torch.workflows.components import (
        _reassemble_cdi_image_torch,
        load_inference_bundle_torch,
        run_cdi_example_torch,
    )

    scan = tmp_path / "modes.npz"
    write_simulation(scan, N=64, n_positions=48, probe_kind="zoneplate", probe_modes=3, seed=4, object_size=160)
    train_dir = tmp_path / "train"
    config = TrainingConfig(model=ModelConfig(N=64, gridsize=1, n_filters_scale=1), train_data_file=scan,
                            test_data_file=scan, n_groups=24, batch_size=8, nepochs=2, output_dir=train_dir,
                            backend="pytorch")
    update_legacy_dict(params.cfg, config)
    data = RawData.from_file(str(scan))
    assert data.probeGuess.shape == (3, 64, 64)
    _, _, results = run_cdi_example_torch(data, data, config, do_stitching=False,
                                          execution_config={"accelerator": "cpu"})
    assert all(math.isfinite(v) for v in results["history"]["train_loss"])
    models, loaded = load_inference_bundle_torch(train_dir)
    module = models["lightning_module"]
    assert tuple(module.forward_model.probe.shape) == (3, 64, 64)
    np.testing.assert_allclose(module.forward_model.probe.numpy(), R.normalize_probe(data.probeGuess, 4.0),
                               rtol=1e-5, atol=1e-7)
    amp, phase, _ = _reassemble_cdi_image_torch(data, loaded, False, False, False, M=20, models=models,
                                                execution_config={"accelerator": "cpu"})
    assert np.all(np.isfinite(amp)) and amp.max() > 0
    assert tensorflow_before or "tensorflow" not in sys.modules


def test_mode_sum_has_a_zero_gradient_at_a_dark_pixel():
    """The guarded root of the mode sum: value 0 and gradient 0 (not NaN) where every mode's field is 0, and the
    gradient of sqrt(sum |z|^2) elsewhere (z / A per mode)."""
    from ptycho_torch.physics import mode_sum_amplitude

    z = torch.tensor([[[0j, 3 + 4j]], [[0j, 0j]]], dtype=torch.complex128, requires_grad=True)  # (K=2, 1, 2)
    a = mode_sum_amplitude(z, 0)
    a.sum().backward()
    assert a.tolist() == [[0.0, 5.0]]
    assert torch.isfinite(torch.view_as_real(z.grad)).all()
    assert z.grad[0, 0, 0] == 0 and torch.allclose(z.grad[0, 0, 1], torch.tensor(0.6 + 0.8j, dtype=torch.complex128))


def test_trainable_modes_each_get_their_gradient():
    """probe_trainable with (K, N, N) modes: one parameter holding every mode; autograd gives each mode the gradient
    of the summed intensity (checked against a central difference of one pixel of mode 2)."""
    rng = np.random.default_rng(7)
    n = 32
    modes = make_probe_modes(R.default_probe(n), 3, [0.6, 0.3, 0.1]).astype(np.complex128)
    fm = ForwardModel(n, 1, _t(modes), 2.0, probe_trainable=True)
    assert [k for k, _ in fm.named_parameters()] == ["probe"] and tuple(fm.probe.shape) == (3, n, n)
    obj = _t(rng.uniform(0.5, 1, (2, n, n, 1)) * np.exp(1j * rng.uniform(-1, 1, (2, n, n, 1))))
    target = _t(rng.uniform(0, 1, (2, n, n, 1)))
    rel = torch.zeros(2, 1, 2, 1, dtype=torch.float64)

    def loss(fmod):
        return ((fmod(obj, rel)[1] - target) ** 2).sum()

    loss(fm).backward()
    g = fm.probe.grad
    assert all(float(g[k].abs().max()) > 0 for k in range(3))
    h = 1e-6
    with torch.no_grad():
        fm.probe[2, 16, 16] += h
        up = float(loss(fm))
        fm.probe[2, 16, 16] -= 2 * h
        dn = float(loss(fm))
    assert float(g[2, 16, 16].real) == pytest.approx((up - dn) / (2 * h), rel=1e-5)
