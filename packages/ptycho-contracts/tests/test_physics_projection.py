"""Single-pattern modulus projections (specs/physics.md §13) against closed forms and the forward model."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho.physics import far_field_amplitude, incoherent_amplitude, modulus_projections


def _probe(n: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n] - n / 2
    disk = (x * x + y * y < (n / 4) ** 2).astype(float)
    return (disk * np.exp(1j * rng.uniform(-1, 1, (n, n)))).astype(np.complex128)


def _weak_object(n: int = 32, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n] - n / 2
    phase = 0.3 * np.sin(x / 3.0) * np.cos(y / 4.0) + 0.05 * rng.standard_normal((n, n))
    return np.exp(1j * phase)


def test_zero_iterations_is_the_flat_start():
    amp = np.abs(np.random.default_rng(0).standard_normal((3, 32, 32)))
    out = modulus_projections(amp, _probe(), 0)
    assert out.shape == (3, 32, 32) and out.dtype == np.complex128
    assert np.array_equal(out, np.ones((3, 32, 32)))


def test_the_flat_object_is_a_fixed_point():
    """Data of O = 1 leave O = 1 unchanged: the measured amplitude already matches, so every correction is 0."""
    P = _probe()
    amp = far_field_amplitude(P)
    out = modulus_projections(amp, P, 5)
    assert np.max(np.abs(out - 1.0)) < 1e-12


def test_projections_move_the_estimate_towards_the_object_inside_the_probe():
    """Error of the estimate (inside the probe, after the best complex scale) falls with passes, and the
    Fourier residual falls below that of the flat start."""
    P, O = _probe(), _weak_object()
    amp = far_field_amplitude(P * O)
    inside = np.abs(P) > 0.5
    errors, residuals = [], []
    for k in (0, 1, 5, 20):
        est = modulus_projections(amp, P, k)
        e, t = est[inside], O[inside]
        c = np.vdot(e, t) / np.vdot(e, e)
        errors.append(np.linalg.norm(t - c * e) / np.linalg.norm(t))
        residuals.append(np.linalg.norm(far_field_amplitude(P * est) - amp))
    assert errors[0] > 0.1 and all(b < a for a, b in zip(errors[:-1], errors[1:], strict=True)), errors
    assert residuals[-1] < 0.5 * residuals[0], residuals
    assert np.all(np.abs(modulus_projections(amp, P, 5)[np.abs(P) == 0] - 1.0) == 0)  # outside the probe: 1


def test_modes_reduce_to_one_mode_and_use_the_incoherent_sum():
    P, O = _probe(), _weak_object()
    amp = far_field_amplitude(P * O)
    one = modulus_projections(amp, P, 4)
    padded = modulus_projections(amp, np.stack([P, np.zeros_like(P)]), 4)
    assert np.max(np.abs(one - padded)) < 1e-12
    modes = np.stack([P, 0.5 * _probe(seed=3)])
    amp2 = incoherent_amplitude(modes * O)
    est = modulus_projections(amp2, modes, 10)
    res0 = np.linalg.norm(incoherent_amplitude(modes * np.ones_like(O)) - amp2)
    res = np.linalg.norm(incoherent_amplitude(modes * est) - amp2)
    assert res < 0.5 * res0


@pytest.mark.parametrize(("args", "message"), [
    ((np.ones(32), "P", 1), "amplitude: expected shape (..., N, N)"),
    ((np.ones((2, 32, 31)), "P", 1), "amplitude: expected shape (..., N, N)"),
    ((np.ones((2, 32, 32)), np.ones((16, 16)), 1), "probe: expected shape (32, 32) or (K, 32, 32)"),
    ((np.ones((2, 32, 32)), "P", -1), "iterations: expected an integer >= 0"),
    ((np.ones((2, 32, 32)), "P", 1.5), "iterations: expected an integer >= 0"),
])
def test_bad_arguments_name_the_argument(args, message):
    amp, probe, k = args
    with pytest.raises(ValueError) as err:
        modulus_projections(amp, _probe() if isinstance(probe, str) else probe, k)
    assert message in str(err.value) and str(err.value).startswith("modulus_projections:")
