"""Pins specs/physics.md §12.1 (K incoherent probe modes) against closed forms: intensities of the modes add."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ptycho.physics import (
    canvas_size,
    default_probe,
    far_field_amplitude,
    forward_model,
    incoherent_amplitude,
)


def _cplx(rng, shape):
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


@settings(max_examples=15, deadline=None)
@given(powers=st.lists(st.floats(0.01, 2.0), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_scaled_copies_of_one_mode_add_their_powers(powers, seed):
    """Modes sqrt(p_k) P give total intensity (sum p_k) |F[P O]|^2."""
    rng = np.random.default_rng(seed)
    psi = _cplx(rng, (3, 16, 16))
    waves = np.stack([np.sqrt(p) * psi for p in powers], axis=1)  # (3, K, 16, 16)
    single = far_field_amplitude(psi)
    np.testing.assert_allclose(incoherent_amplitude(waves) ** 2, sum(powers) * single**2, rtol=1e-10, atol=1e-12)


def test_one_mode_is_the_coherent_far_field_and_mode_axis_is_honoured():
    rng = np.random.default_rng(1)
    psi = _cplx(rng, (2, 8, 8))
    np.testing.assert_allclose(incoherent_amplitude(psi[:, None]), far_field_amplitude(psi), rtol=1e-14)
    waves = _cplx(rng, (3, 2, 8, 8))  # modes first
    np.testing.assert_allclose(incoherent_amplitude(waves, mode_axis=0),
                               incoherent_amplitude(np.moveaxis(waves, 0, 1)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"incoherent_amplitude: exit_waves: expected shape \(\.\.\., K, N, N\)"):
        incoherent_amplitude(psi[0])


def test_ramped_modes_on_a_flat_object_are_shifted_copies_of_the_probe_spectrum():
    """A mode P e^{2 pi i q.r / N} moves the far field by q pixels: with O = 1 the pattern is
    sum_k roll(|F[P]|^2, q_k), an independent closed form of the mode sum."""
    n = 32
    p = default_probe(n).astype(np.complex128)
    rr, cc = np.mgrid[:n, :n]
    shifts = [(0, 0), (3, -2), (-5, 4)]
    weights = [0.7, 0.2, 0.1]
    modes = np.stack([np.sqrt(w) * p * np.exp(2j * np.pi * (dy * rr + dx * cc) / n)
                      for w, (dy, dx) in zip(weights, shifts, strict=True)])
    got = incoherent_amplitude(modes[None])[0] ** 2
    base = far_field_amplitude(p) ** 2
    want = sum(w * np.roll(base, (dy, dx), axis=(0, 1)) for w, (dy, dx) in zip(weights, shifts, strict=True))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * base.max())


def test_unitary_mixing_of_the_modes_leaves_the_intensity_unchanged():
    """Orthogonalising the modes (any K x K unitary mix) changes no pattern: sum_k |F[P_k O]|^2 = tr(...)."""
    rng = np.random.default_rng(3)
    modes = _cplx(rng, (3, 16, 16))
    u, _ = np.linalg.qr(_cplx(rng, (3, 3)))
    mixed = np.einsum("jk,kxy->jxy", u, modes)
    obj = _cplx(rng, (4, 16, 16))
    a = incoherent_amplitude(obj[:, None] * modes[None])
    b = incoherent_amplitude(obj[:, None] * mixed[None])
    np.testing.assert_allclose(a, b, rtol=1e-10)


@pytest.mark.parametrize("gs, object_big", [(1, True), (2, True), (2, False)])
def test_forward_model_with_modes_sums_the_single_mode_intensities(gs, object_big):
    """forward_model with a (K, N, N) probe: s^2 A^2 = sum_k (forward_model with P_k)^2."""
    rng = np.random.default_rng(gs)
    n, c = 64, gs * gs
    patches = _cplx(rng, (2, n, n, c if object_big else 1))
    rel = rng.uniform(-6, 6, (2, 1, 2, c)) if c > 1 else np.zeros((2, 1, 2, 1))
    modes = np.stack([default_probe(n), 0.5 * np.roll(default_probe(n), 2, 0), 0.3j * default_probe(n).T])
    m = canvas_size(n, gs, rel)
    kw = {"object_big": object_big, "probe_mask": True, "M": m}
    got = forward_model(patches, modes, rel, 7.0, **kw)
    want = np.sqrt(sum(forward_model(patches, p, rel, 7.0, **kw) ** 2 for p in modes))
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert got.shape == (2, n, n, c)
    with pytest.raises(ValueError, match=r"forward_model: probe: expected shape \(64, 64\) or \(K, 64, 64\)"):
        forward_model(patches, modes[:, :32, :32], rel, 7.0, **kw)
