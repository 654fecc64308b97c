"""The pure helpers of benchmarks/refinement_realistic.py (time to reach a score, position and probe errors).

Runs in well under a second (no scan, no solver)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import refinement_realistic as B  # noqa: E402


def test_time_to_reach_needs_both_scores():
    curve = [{"time_s": 1.0, "amp_ssim": 0.9, "phase_ssim": 0.5},
             {"time_s": 2.0, "amp_ssim": 0.7, "phase_ssim": 0.95},
             {"time_s": 3.0, "amp_ssim": 0.91, "phase_ssim": 0.96}]
    assert B.time_to_reach(curve, 0.9, 0.95) == 3.0
    assert B.time_to_reach(curve, 0.9, 0.4) == 1.0
    assert B.time_to_reach(curve, 0.95, 0.0) is None
    assert B.time_to_reach([], 0.0, 0.0) is None


def test_perturbed_positions_have_the_stated_rms_and_no_mean():
    pos = np.random.default_rng(0).uniform(0, 100, (500, 2))
    moved = B.perturbed_positions(pos, 1.0, seed=3)
    err = moved - pos
    assert np.allclose(err.mean(0), 0.0, atol=1e-12)
    assert np.sqrt((err ** 2).sum(1).mean()) == pytest.approx(1.0, rel=1e-12)
    assert B.position_rms(moved, pos) == pytest.approx(1.0, rel=1e-12)
    # a common shift is the object's, not a position error
    assert B.position_rms(pos + np.array([3.0, -2.0]), pos) == pytest.approx(0.0, abs=1e-12)


def test_probe_correlation_ignores_a_complex_factor():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    assert B.probe_correlation(p * (0.3 - 2j), p) == pytest.approx(1.0, rel=1e-12)
    q = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    expected = abs(np.sum(np.conj(p) * q)) / np.sqrt(np.sum(abs(p) ** 2) * np.sum(abs(q) ** 2))
    assert B.probe_correlation(p, q) == pytest.approx(expected, rel=1e-12)
