"""Pins specs/physics.md §6.1: phase synchronisation of overlapping patches."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ptycho.physics import extract_patches, phase_sync_factors, reassemble_position


def _smooth_object(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    amp = 0.6 + 0.4 * gaussian_filter(rng.random((size, size)), 3) / 0.6
    phase = 3.0 * (gaussian_filter(rng.random((size, size)), 3) - 0.5) * 4
    return (amp * np.exp(1j * phase)).astype(np.complex64)


def _scrambled(obj_seed: int, seed: int, count: int):
    """Patches of a smooth object at random integer positions, and a random phase constant per patch."""
    obj = _smooth_object(96, obj_seed)
    rng = np.random.default_rng(seed)
    pos = rng.integers(24, 72, size=(count, 2)).astype(np.float64)
    return extract_patches(obj, pos, 32), pos, np.exp(1j * rng.uniform(-np.pi, np.pi, count))


def test_recovers_random_phase_constants_up_to_one_global_phase():
    """§6.1: patches of one object, each multiplied by a random phase constant: the factors undo the
    constants (residual phase < 0.02 rad at integer positions) up to one global phase."""
    patches, pos, applied = _scrambled(0, 1, 60)
    z = phase_sync_factors(patches * applied[:, None, None], pos, M=16)
    assert z.shape == (60,) and np.allclose(np.abs(z), 1.0)
    residual = z * applied
    residual = residual / residual[0]
    assert np.abs(np.angle(residual)).max() < 0.02


def test_synchronised_stitch_matches_the_unperturbed_stitch():
    """§6.1: stitching the synchronised patches gives the stitch of the original patches times one constant."""
    patches, pos, applied = _scrambled(2, 3, 80)
    z = phase_sync_factors(patches * applied[:, None, None], pos, M=16)
    fixed = reassemble_position(patches * (applied * z)[:, None, None], pos, M=16)
    plain = reassemble_position(patches, pos, M=16)
    g = np.vdot(fixed, plain) / np.vdot(fixed, fixed)
    assert abs(abs(g) - 1) < 1e-3
    np.testing.assert_allclose(fixed * g, plain, atol=2e-3)
    # and without synchronisation the phases cancel out in the average
    scrambled = reassemble_position(patches * applied[:, None, None], pos, M=16)
    assert np.abs(scrambled).mean() < 0.8 * np.abs(plain).mean()


def test_edge_cases_and_errors():
    """§6.1: one patch -> [1]; no overlaps -> ones; bad shapes are one-line ValueErrors."""
    p = np.ones((1, 8, 8), complex)
    np.testing.assert_array_equal(phase_sync_factors(p, np.zeros((1, 2)), M=4), [1.0])
    far = np.array([[0.0, 0.0], [100.0, 100.0]])
    np.testing.assert_array_equal(phase_sync_factors(np.ones((2, 8, 8), complex), far, M=4), [1.0, 1.0])
    with pytest.raises(ValueError, match="positions"):
        phase_sync_factors(np.ones((2, 8, 8), complex), np.zeros((3, 2)), M=4)
    with pytest.raises(ValueError, match="M"):
        phase_sync_factors(np.ones((2, 8, 8), complex), np.zeros((2, 2)), M=9)
