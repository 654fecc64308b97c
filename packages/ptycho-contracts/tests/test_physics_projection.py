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


def _group_data(obj: np.ndarray, P: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One group on ``obj`` (H, W): members at integer ``offsets`` (C, 2) [x, y] from the object's centre.
    Returns (amplitudes (1, N, N, C), coords_relative (1, 1, 2, C), true patches (1, N, N, C))."""
    from ptycho.physics import extract_patches

    n = P.shape[0]
    centre = np.array([obj.shape[1] / 2, obj.shape[0] / 2])
    patches = extract_patches(obj, centre[None] + offsets, n)  # (C, N, N)
    amp = far_field_amplitude(P * patches)
    rel = (-offsets.T)[None, None].astype(float)  # group centre - member position
    return np.moveaxis(amp, 0, -1)[None], rel, np.moveaxis(patches, 0, -1)[None]


def _scaled_error(est: np.ndarray, truth: np.ndarray, inside: np.ndarray) -> float:
    e, t = est[inside], truth[inside]
    c = np.vdot(e, t) / np.vdot(e, e)
    return float(np.linalg.norm(t - c * e) / np.linalg.norm(t))


def test_group_projections_use_the_overlaps():
    """specs/physics.md §13.1: four overlapping members estimated jointly end closer to their true patches than
    each estimated alone with as many passes; zero passes is the flat canvas; data of O = 1 leave O = 1."""
    from ptycho.physics import group_projections

    P = _probe(32)
    y, x = np.mgrid[:64, :64] - 32
    obj = np.exp(1j * (0.8 * np.sin(x / 2.5) * np.cos(y / 3.5))) * (1 - 0.3 * (np.cos(x / 4.0 + y / 5.0) > 0))
    offsets = np.array([[-4, -4], [4, -4], [-4, 4], [4, 4]], dtype=float)
    amp, rel, truth = _group_data(obj, P, offsets)
    inside = np.broadcast_to((np.abs(P) > 0.5)[None, :, :, None], truth.shape)
    assert np.array_equal(group_projections(amp, P, rel, 0), np.ones_like(truth))
    joint = group_projections(amp, P, rel, 40)
    alone = np.moveaxis(modulus_projections(np.moveaxis(amp, -1, 1), P, 40), 1, -1)
    assert joint.shape == truth.shape and joint.dtype == np.complex128
    e_joint, e_alone = _scaled_error(joint, truth, inside), _scaled_error(alone, truth, inside)
    assert e_joint < 0.6 * e_alone, (e_joint, e_alone)
    flat_amp, _, _ = _group_data(np.ones((64, 64), complex), P, offsets)
    assert np.max(np.abs(group_projections(flat_amp, P, rel, 5) - 1.0)) < 1e-9


def test_group_projections_bad_input_names_the_argument():
    from ptycho.physics import group_projections

    P = _probe(32)
    amp = np.ones((2, 32, 32, 4))
    with pytest.raises(ValueError, match=r"^group_projections: amplitude: expected shape \(B, N, N, C\)"):
        group_projections(np.ones((32, 32, 4)), P, np.zeros((2, 1, 2, 4)), 1)
    with pytest.raises(ValueError, match=r"^group_projections: coords_relative: expected shape \(2, 1, 2, 4\)"):
        group_projections(amp, P, np.zeros((2, 1, 2, 1)), 1)
    with pytest.raises(ValueError, match=r"^group_projections: iterations: expected an integer >= 0"):
        group_projections(amp, P, np.zeros((2, 1, 2, 4)), -1)
