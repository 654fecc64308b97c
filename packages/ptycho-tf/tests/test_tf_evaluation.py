"""specs/tf-backend.md §8: ``ptycho.evaluation`` scores with ``ptycho.metrics`` (one PSNR rule, capped)."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho import evaluation
from ptycho.metrics.quality import PSNR_CAP_DB


def _objects():
    rng = np.random.default_rng(0)
    gt = (1 + 0.5 * rng.random((24, 24))) * np.exp(1j * rng.uniform(-1, 1, (24, 24)))
    noisy = gt * (1 + 0.05 * rng.standard_normal(gt.shape)) * np.exp(0.05j * rng.standard_normal(gt.shape))
    return gt, noisy


def test_psnr_is_the_closed_form_with_the_target_range_and_capped_for_identical_images():
    t = np.linspace(0, 2, 100).reshape(10, 10)
    p = t + 0.1
    assert evaluation.psnr(t, p) == pytest.approx(10 * np.log10(2.0**2 / 0.01))
    assert evaluation.psnr(t, t) == PSNR_CAP_DB
    with pytest.raises(ValueError, match="constant"):
        evaluation.psnr(np.ones((4, 4)), np.zeros((4, 4)))


def test_eval_reconstruction_scores_an_identical_object_perfectly_and_a_noisy_one_worse():
    gt, noisy = _objects()
    same = evaluation.eval_reconstruction(gt, gt)
    assert same["mae"] == (0.0, 0.0) and same["psnr"] == (PSNR_CAP_DB, PSNR_CAP_DB)
    assert same["ssim"][0] == pytest.approx(1.0) and same["ssim"][1] == pytest.approx(1.0)
    worse = evaluation.eval_reconstruction(noisy, gt)
    ta, pa = np.abs(gt)[2:-2, 2:-2], np.abs(noisy)[2:-2, 2:-2]
    pa = pa * ta.mean() / pa.mean()
    assert worse["mae"][0] == pytest.approx(float(np.mean(np.abs(ta - pa))))
    assert 0 < worse["psnr"][0] < PSNR_CAP_DB and worse["ssim"][0] < 1
    with pytest.raises(ValueError, match="phase_align_method"):
        evaluation.eval_reconstruction(gt, gt, phase_align_method="none")
