"""Pins specs/metrics.md §1-§5: evaluate() keys, identity, PSNR closed form, registration,
phase alignment, FRC thresholds."""

import json
import math

import numpy as np
import pytest
from scipy.ndimage import shift as nd_shift

from ptycho.metrics import (
    PSNR_CAP_DB,
    evaluate,
    frc,
    frc_cutoff,
    half_bit_crossing,
    half_bit_threshold,
    psnr,
    ring_pixel_counts,
)
from ptycho.simulation import make_object

_KEYS = {"mae", "mse", "psnr", "ssim", "ms_ssim", "frc50", "frc_1_7", "frc_half_bit", "data_range"}


def _truth(size=64, kind="grf", seed=0):
    return make_object(kind, size, np.random.default_rng(seed)).astype(np.complex128)


def test_identical_images():
    """specs/metrics.md §1, §3.2: identical -> MAE 0, SSIM 1, PSNR capped at 300 dB, FRC never drops."""
    gt = _truth()
    r = evaluate(gt, gt)
    json.dumps(r, allow_nan=False)  # strict JSON
    assert set(r["amplitude"]) == _KEYS and set(r["phase"]) == _KEYS
    for part in ("amplitude", "phase"):
        m = r[part]
        assert m["mae"] == pytest.approx(0.0, abs=1e-12)
        assert m["ssim"] == pytest.approx(1.0, abs=1e-9) and m["ms_ssim"] == pytest.approx(1.0, abs=1e-9)
        assert m["psnr"] == PSNR_CAP_DB
        assert m["frc50"] == len(r["frc_curve"][part]) == (64 - 4) // 2
    assert r["registration_shift"] == [0.0, 0.0] and r["amplitude_scale"] == pytest.approx(1.0)


def test_psnr_closed_form_uses_ground_truth_range():
    """specs/metrics.md §3.2: PSNR = 10 log10(range^2 / MSE), range = max - min of the truth."""
    t = np.linspace(0.2, 0.7, 100).reshape(10, 10)
    p = t + 0.01
    assert psnr(t, p, 0.5) == pytest.approx(10 * math.log10(0.25 / 1e-4), rel=1e-9)
    gt = (0.5 + 0.5 * np.outer(np.hanning(32), np.hanning(32))).astype(np.complex128)
    rec = gt + 0.01 * np.cos(np.arange(32))[None, :]  # zero-mean error keeps the global scale 1
    r = evaluate(rec, gt, register=False, border_crop=0)
    amp_err = np.abs(rec) * (np.abs(gt).mean() / np.abs(rec).mean()) - np.abs(gt)
    rng_t = np.abs(gt).max() - np.abs(gt).min()
    assert r["amplitude"]["data_range"] == pytest.approx(rng_t)
    assert r["amplitude"]["psnr"] == pytest.approx(10 * math.log10(rng_t**2 / np.mean(amp_err**2)), rel=1e-9)


def test_global_amplitude_scale_and_phase_offset_removed():
    """specs/metrics.md §2.2-2.3: a scaled reconstruction with a phase offset scores perfectly."""
    gt = _truth()
    r = evaluate(3.0 * gt * np.exp(1j * 2.9), gt, phase_align="mean")
    assert r["amplitude_scale"] == pytest.approx(1 / 3.0)
    assert r["amplitude"]["mae"] < 1e-10 and r["phase"]["mae"] < 1e-10


def test_phase_ramp_removed_by_plane_alignment_only():
    """specs/metrics.md §2.3: 'plane' removes a linear phase ramp; 'mean' does not."""
    gt = _truth()
    yy, xx = np.mgrid[:64, :64]
    rec = gt * np.exp(1j * (0.01 * xx - 0.015 * yy + 0.3))
    plane = evaluate(rec, gt, register=False, phase_align="plane")
    mean = evaluate(rec, gt, register=False, phase_align="mean")
    assert plane["phase"]["mae"] < 1e-9
    assert mean["phase"]["mae"] > 0.05


def test_known_shift_is_recovered():
    """specs/metrics.md §2.1: a sub-pixel shift of the field of view is found and undone."""
    big = _truth(96, kind="lines", seed=2)
    gt = big[16:80, 16:80]
    true_shift = (2.4, -1.7)  # content of the reconstruction moved by (+2.4 rows, -1.7 cols)
    moved = nd_shift(big.real, true_shift, order=3) + 1j * nd_shift(big.imag, true_shift, order=3)
    rec = moved[16:80, 16:80]
    r = evaluate(rec, gt, border_crop=4)
    dy, dx = r["registration_shift"]
    assert dy == pytest.approx(-2.4, abs=0.1) and dx == pytest.approx(1.7, abs=0.1)
    unreg = evaluate(rec, gt, register=False, border_crop=4)
    assert r["amplitude"]["mae"] < 0.3 * unreg["amplitude"]["mae"]


def test_frc_curve_and_thresholds():
    """specs/metrics.md §4: FRC 1 for identical, thresholds interpolate, half-bit closed form."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(32, 32))
    np.testing.assert_allclose(frc(a, a), 1.0, atol=1e-12)
    np.testing.assert_allclose(frc(a, -a), -1.0, atol=1e-12)
    assert len(frc(a, a)) == 16
    curve = np.array([1.0, 0.9, 0.6, 0.4, 0.1])
    assert frc_cutoff(curve, 0.5) == pytest.approx(2.5)
    assert frc_cutoff(curve, 1 / 7) == pytest.approx(3 + (0.4 - 1 / 7) / 0.3)
    assert frc_cutoff(curve, 0.05) == 5.0 and frc_cutoff(curve, 1.5) == 0.0
    n = ring_pixel_counts(32)
    assert n[0] == 1 and n.sum() == np.count_nonzero(np.hypot(*np.mgrid[-16:16, -16:16]).round() < 16)
    t = half_bit_threshold(np.array([1.0, 1e12]))
    assert t[0] == pytest.approx((0.2071 + 1.9102) / (1.2071 + 0.9102))
    assert t[1] == pytest.approx(0.2071 / 1.2071, rel=1e-5)
    b = a + 3.0 * rng.normal(size=(32, 32))  # noisy copy: correlation drops below the threshold
    assert 0.0 <= half_bit_crossing(frc(a, b), side=32) < 16.0


def test_bad_input_raises_one_line():
    """specs/metrics.md §1: shape mismatch and bad phase_align are refused clearly."""
    with pytest.raises(ValueError, match="evaluate: reconstruction: expected the ground truth's shape"):
        evaluate(np.ones((20, 20)), np.ones((21, 20)))
    with pytest.raises(ValueError, match="evaluate: phase_align"):
        evaluate(np.ones((20, 20)), np.ones((20, 20)), phase_align="ramp")


def test_frc_crossing_skips_the_dc_and_lowest_rings():
    """specs/metrics.md §4.2: the crossing is searched from ring 2, so an FRC of -1 at the DC ring and a dip at
    ring 1 (offset and plane removal, registration) do not report a resolved image as unresolved."""
    curve = np.array([-1.0, 0.07, 0.9, 0.9, 0.8, 0.6, 0.3, 0.2])
    assert frc_cutoff(curve, 0.5) == pytest.approx(5 + (0.6 - 0.5) / (0.6 - 0.3))
    assert frc_cutoff(np.array([1.0, 0.9, 0.4, 0.3]), 0.5) == 0.0  # ring 2 already below: nothing resolved
    # closed form: two images sharing a band-limited part (rings < 10) and independent noise above it give
    # FRC ~ 1 below ring 10 and ~ 0 above, whatever ring 0 says
    rng = np.random.default_rng(0)
    n = 64
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n) * n, np.fft.fftfreq(n) * n))
    shared = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(n, n))) * (k < 9.5)))
    noise = [np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(n, n))) * (k >= 10.5))) for _ in range(2)]
    a, b = shared + 0.01 * noise[0] + 5.0, -(shared.mean()) + shared + 0.01 * noise[1] - 5.0
    c = frc(a, b)
    assert c[0] < 0  # the offsets make the DC ring anti-correlated
    assert 9.0 <= frc_cutoff(c, 0.5) <= 11.0
