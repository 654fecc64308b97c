"""benchmarks/projection_estimates.py: its scores are invariant to what one pattern cannot measure."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import projection_estimates as PE  # noqa: E402


def test_a_complex_scale_of_the_truth_scores_perfectly_and_noise_does_not():
    rng = np.random.default_rng(0)
    truth = np.exp(1j * rng.standard_normal((5, 16, 16))) * (1 + 0.2 * rng.random((5, 16, 16)))
    inside = np.zeros((16, 16), bool)
    inside[4:12, 4:12] = True
    err, corr = PE.patch_scores(0.7 * np.exp(1.1j) * truth, truth, inside)
    assert err < 1e-12 and abs(corr - 1) < 1e-9
    err, corr = PE.patch_scores(np.exp(1j * rng.standard_normal((5, 16, 16))), truth, inside)
    assert err > 0.8 and abs(corr) < 0.3


def test_the_nll_is_lowest_at_the_object_that_made_noise_free_counts():
    from ptycho.physics import far_field_amplitude

    rng = np.random.default_rng(1)
    probe = np.exp(1j * rng.standard_normal((16, 16)))
    obj = np.exp(0.5j * rng.standard_normal((2, 16, 16)))
    counts = far_field_amplitude(probe * obj).astype(np.float64) ** 2 * 100.0
    best = PE.nll(obj, probe, counts, 100.0)
    assert best < PE.nll(np.ones_like(obj), probe, counts, 100.0)
    assert best < PE.nll(obj * np.exp(0.3j * rng.standard_normal((2, 16, 16))), probe, counts, 100.0)
