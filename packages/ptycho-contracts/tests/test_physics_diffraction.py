"""Pins specs/physics.md §1.2 (formats), §7 (probe), §8 (far field), §9 (scaling), §10 (noise),
§11 (losses) and §12 (forward model) against closed forms and independent numpy/scipy references."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import poisson

from ptycho.physics import (
    amplitude_mae,
    channel_to_flat,
    channel_to_grid,
    dataset_intensity_scale,
    default_probe,
    extract_patches,
    far_field_amplitude,
    flat_to_channel,
    forward_model,
    grid_to_channel,
    illuminate,
    illuminate_channels,
    intensity_scale,
    normalization_factor,
    normalize_diffraction,
    normalize_probe,
    offsets_channel_to_flat,
    poisson_nll,
    poisson_sample,
    probe_mask,
)

_floats = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


@settings(max_examples=25)
@given(re=arrays(np.float64, (2, 6, 6), elements=_floats), im=arrays(np.float64, (2, 6, 6), elements=_floats))
def test_parseval(re, im):
    """specs/physics.md §8: sum A^2 == sum |psi|^2 per pattern (float64, rtol 1e-10)."""
    field = re + 1j * im
    amp = far_field_amplitude(field)
    assert amp.dtype == np.float64
    np.testing.assert_allclose(
        (amp**2).sum(axis=(1, 2)), (np.abs(field) ** 2).sum(axis=(1, 2)), rtol=1e-10, atol=1e-10
    )


def test_far_field_matches_explicit_dft_and_numpy():
    """specs/physics.md §8: |fftshift(fft2(x, norm='ortho'))| with DC at (N//2, N//2)."""
    rng = np.random.default_rng(0)
    n = 8
    x = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    k = np.arange(n)
    dft = np.exp(-2j * np.pi * np.outer(k, k) / n) / math.sqrt(n)
    spectrum = dft @ x @ dft.T
    shifted = np.roll(spectrum, (n // 2, n // 2), axis=(0, 1))
    np.testing.assert_allclose(far_field_amplitude(x), np.abs(shifted), atol=1e-12)
    np.testing.assert_allclose(
        far_field_amplitude(x), np.abs(np.fft.fftshift(np.fft.fft2(x, norm="ortho"))), atol=1e-12
    )
    flat = np.ones((n, n), dtype=np.complex64)
    amp = far_field_amplitude(flat)
    assert amp.dtype == np.float32 and amp[n // 2, n // 2] == pytest.approx(n)


def test_probe_mask_and_default_probe():
    """specs/physics.md §7.1-7.2: disk r < N//4 about (N/2-0.5, N/2-0.5); default probe 376 px at N=64."""
    mask = probe_mask(64)
    assert mask.dtype == np.float32 and mask.shape == (64, 64)
    yy, xx = np.mgrid[:64, :64]
    np.testing.assert_array_equal(mask, ((yy - 31.5) ** 2 + (xx - 31.5) ** 2 < 16**2).astype(np.float32))
    probe = default_probe(64)
    assert probe.dtype == np.complex64 and np.all(probe.imag == 0)
    assert int((probe.real > 0.5).sum()) == 376
    np.testing.assert_allclose(probe.real, probe.real[::-1, ::-1], atol=1e-6)  # centred on (N-1)/2


def test_normalize_probe_closed_form_and_idempotent():
    """specs/physics.md §7.3: mean |mask * P| == 1 / probe_scale after normalisation."""
    p = normalize_probe(default_probe(64), 4.0)
    assert p.dtype == np.complex64
    assert float(np.mean(np.abs(probe_mask(64) * p))) == pytest.approx(0.25, rel=1e-6)
    np.testing.assert_allclose(normalize_probe(p, 4.0), p, rtol=1e-6)
    with pytest.raises(ValueError, match="normalize_probe: probe"):
        normalize_probe(np.zeros((8, 8), complex))


def test_illuminate_broadcast_and_mask():
    """specs/physics.md §7.4: patches * probe (* mask), both layouts."""
    rng = np.random.default_rng(1)
    probe = (rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))).astype(np.complex64)
    stack = (rng.normal(size=(3, 2, 8, 8)) + 0j).astype(np.complex64)
    out = illuminate(stack, probe, mask=True)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(out[1, 0], stack[1, 0] * probe * probe_mask(8), rtol=1e-6)
    chan = np.moveaxis(stack[:, :, :, :], 1, -1)  # (3, 8, 8, 2)
    out_c = illuminate_channels(chan, probe)
    np.testing.assert_allclose(out_c[..., 1], stack[:, 1] * probe, rtol=1e-6)


def test_normalisation_constant_and_uint16():
    """specs/physics.md §9.1: mean_patterns sum X^2 == (N/2)^2; uint16 cast before squaring."""
    rng = np.random.default_rng(2)
    diff = rng.uniform(0, 300, size=(5, 16, 16)).astype(np.uint16)
    x, factor = normalize_diffraction(diff)
    assert x.dtype == np.float32
    assert float(np.mean(np.sum(x.astype(np.float64) ** 2, axis=(1, 2)))) == pytest.approx(64.0, rel=1e-6)
    ref = math.sqrt(64.0 / np.mean(np.sum(diff.astype(np.float64) ** 2, axis=(1, 2))))
    assert factor == pytest.approx(ref, rel=1e-12)
    grouped = rng.uniform(0, 2, size=(3, 16, 16, 4))
    per = np.mean(np.sum(grouped**2, axis=(1, 2)))
    assert normalization_factor(grouped) == pytest.approx(math.sqrt(64.0 / per), rel=1e-12)


def test_intensity_scales():
    """specs/physics.md §9.2: closed form, and the dataset scale of normalised data equals it."""
    assert intensity_scale(1e9, 64) == pytest.approx(math.sqrt(1e9) / 32, rel=1e-15)
    assert intensity_scale(1e9, 64) == pytest.approx(988.2118, abs=1e-4)
    rng = np.random.default_rng(3)
    x, _ = normalize_diffraction(rng.uniform(0, 5, size=(6, 32, 32)))
    assert dataset_intensity_scale(x, 1e6) == pytest.approx(intensity_scale(1e6, 32), rel=1e-6)
    for bad in (-1.0, 0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="nphotons"):
            intensity_scale(bad, 64)


def test_poisson_sample_statistics_and_determinism():
    """specs/physics.md §10: sqrt(Poisson(A^2)): integer counts, mean A^2, same rng -> same draw."""
    amp = np.full((200, 8, 8), math.sqrt(7.0), dtype=np.float32)
    s1 = poisson_sample(amp, np.random.default_rng(4))
    s2 = poisson_sample(amp, np.random.default_rng(4))
    assert s1.dtype == np.float32
    np.testing.assert_array_equal(s1, s2)
    counts = s1.astype(np.float64) ** 2
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    assert counts.mean() == pytest.approx(7.0, rel=0.02)
    assert counts.var() == pytest.approx(7.0, rel=0.05)
    with pytest.raises(TypeError, match="poisson_sample: rng"):
        poisson_sample(amp, 0)


@settings(max_examples=20)
@given(
    k=arrays(np.int64, (10,), elements=st.integers(0, 50)),
    lam=arrays(np.float64, (10,), elements=st.floats(0.01, 60)),
)
def test_poisson_nll_matches_scipy_up_to_log_factorial(k, lam):
    """specs/physics.md §11.1: NLL + mean log(k!) == -mean log P(k | lambda) (scipy)."""
    ref = -np.mean(poisson.logpmf(k, lam))
    log_fact = np.mean([math.lgamma(v + 1) for v in k])
    assert poisson_nll(k, lam) + log_fact == pytest.approx(ref, rel=1e-9, abs=1e-9)


def test_poisson_nll_floor_and_mae():
    """specs/physics.md §11: log floor 1e-12 for zero predictions; MAE closed form."""
    assert poisson_nll(np.array([2.0]), np.array([0.0])) == pytest.approx(-2.0 * math.log(1e-12))
    assert amplitude_mae(np.array([1.0, 2.0]), np.array([1.5, 1.0])) == pytest.approx(0.75)


def test_formats_round_trip_and_order():
    """specs/physics.md §1.2: flat index b*C + c; grid (row c//gs, col c%gs); offsets rows [x, y]."""
    x = np.arange(2 * 3 * 3 * 4).reshape(2, 3, 3, 4)
    flat = channel_to_flat(x)
    assert flat.shape == (8, 3, 3, 1)
    np.testing.assert_array_equal(flat[1 * 4 + 2, ..., 0], x[1, :, :, 2])
    np.testing.assert_array_equal(flat_to_channel(flat, 4), x)
    grid = channel_to_grid(x)
    np.testing.assert_array_equal(grid[1, 1, 0, ..., 0], x[1, :, :, 2])
    np.testing.assert_array_equal(grid_to_channel(grid), x)
    offs = np.arange(2 * 2 * 4, dtype=float).reshape(2, 1, 2, 4)
    f = offsets_channel_to_flat(offs)
    np.testing.assert_array_equal(f[1 * 4 + 3], [offs[1, 0, 0, 3], offs[1, 0, 1, 3]])


def test_forward_model_against_direct_computation():
    """specs/physics.md §12: with exact patches of one object, the composite equals
    s * |F(P * patch at true position)| computed directly (integer offsets, gs=2)."""
    rng = np.random.default_rng(5)
    obj = rng.normal(size=(48, 48)) + 1j * rng.normal(size=(48, 48))
    n = 16
    centre = np.array([24.0, 24.0])
    rel = np.array([[2.0, 1.0], [-3.0, 2.0], [1.0, -2.0], [0.0, 0.0]])  # [x, y] = centre - position
    positions = centre - rel
    patches = extract_patches(obj, positions, n)  # (4, n, n)
    obj_patches = np.moveaxis(patches, 0, -1)[None]  # (1, n, n, 4)
    coords_rel = rel.T[None, None]  # (1, 1, 2, 4)
    probe = normalize_probe(default_probe(n)).astype(np.complex128)
    s = 3.5
    pred = forward_model(obj_patches, probe, coords_rel, s)
    assert pred.shape == (1, n, n, 4) and pred.dtype == np.float64
    direct = s * np.abs(np.fft.fftshift(np.fft.fft2(patches * probe, norm="ortho"), axes=(-2, -1)))
    np.testing.assert_allclose(np.moveaxis(pred[0], -1, 0), direct, atol=1e-8)
    # object_big=False: one patch at the group centre; channel c sees the object shifted by rel_c
    centre_patch = extract_patches(obj, centre[None], n)[:, :, :, None]
    pred_small = forward_model(centre_patch, probe, np.zeros((1, 1, 2, 4)), s, object_big=False)
    ref = s * np.abs(np.fft.fftshift(np.fft.fft2(centre_patch[0, :, :, 0] * probe, norm="ortho")))
    np.testing.assert_allclose(pred_small[0, :, :, 2], ref, atol=1e-8)
    masked = forward_model(obj_patches, probe, coords_rel, s, probe_mask=True)
    ref_m = s * np.abs(np.fft.fftshift(np.fft.fft2(patches[1] * probe * probe_mask(n), norm="ortho")))
    np.testing.assert_allclose(masked[0, :, :, 1], ref_m, atol=1e-8)
