"""Pixel-wise image quality measures: MAE, MSE, PSNR, SSIM, MS-SSIM (specs/metrics.md §3)."""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

__all__ = ["mae", "mse", "psnr", "ssim", "ms_ssim", "PSNR_CAP_DB", "MS_SSIM_WEIGHTS"]

#: PSNR is reported as at most this many dB (identical images: MSE = 0).
PSNR_CAP_DB = 300.0
#: Per-scale weights of MS-SSIM (Wang, Simoncelli & Bovik 2003), finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SSIM_MIN_SIDE = 7


def mae(target: np.ndarray, pred: np.ndarray) -> float:
    """Mean absolute error ``mean |target - pred|`` (float64)."""
    return float(np.mean(np.abs(np.asarray(target, np.float64) - np.asarray(pred, np.float64))))


def mse(target: np.ndarray, pred: np.ndarray) -> float:
    """Mean squared error ``mean (target - pred)^2`` (float64)."""
    return float(np.mean((np.asarray(target, np.float64) - np.asarray(pred, np.float64)) ** 2))


def psnr(target: np.ndarray, pred: np.ndarray, data_range: float) -> float:
    """``10 log10(data_range^2 / MSE)`` in dB, capped at :data:`PSNR_CAP_DB` (specs/metrics.md §3.2).

    ``data_range`` is the range of the ground truth (max - min), not 255. The cap keeps identical
    images finite (JSON has no infinity).
    """
    err = mse(target, pred)
    if err <= 0.0:
        return PSNR_CAP_DB
    return float(min(PSNR_CAP_DB, 10.0 * math.log10(data_range**2 / err)))


def ssim(target: np.ndarray, pred: np.ndarray, data_range: float) -> float:
    """skimage ``structural_similarity`` (7x7 uniform window) with an explicit ``data_range``."""
    t = np.asarray(target, np.float64)
    p = np.asarray(pred, np.float64)
    if min(t.shape) < _SSIM_MIN_SIDE:
        raise ValueError(f"ssim: target: expected images of at least 7 x 7 pixels, found shape {t.shape}")
    return float(structural_similarity(t, p, data_range=float(data_range)))


def _downsample2(img: np.ndarray) -> np.ndarray:
    h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
    v = img[:h, :w]
    return 0.25 * (v[0::2, 0::2] + v[1::2, 0::2] + v[0::2, 1::2] + v[1::2, 1::2])


def ms_ssim(target: np.ndarray, pred: np.ndarray, data_range: float, sigma: float = 0.0) -> float:
    """Multi-scale SSIM (specs/metrics.md §3.4).

    ``prod_l max(SSIM_l, 1e-4) ** w_l`` over up to 5 scales with :data:`MS_SSIM_WEIGHTS`; between
    scales both images are 2x2 mean-pooled; scales whose smaller side would be < 7 px are dropped
    and the used weights renormalised to sum 1. ``sigma`` > 0 first blurs both images (Gaussian,
    pixels). Returns a float in (0, 1].
    """
    t = np.asarray(target, np.float64)
    p = np.asarray(pred, np.float64)
    if sigma > 0:
        t = gaussian_filter(t, sigma)
        p = gaussian_filter(p, sigma)
    values = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        if min(t.shape) < _SSIM_MIN_SIDE:
            break
        values.append(max(ssim(t, p, data_range), 1e-4))
        if level + 1 < len(MS_SSIM_WEIGHTS):
            t, p = _downsample2(t), _downsample2(p)
    if not values:
        raise ValueError(
            f"ms_ssim: target: expected images of at least 7 x 7 pixels, found shape {target.shape}"
        )
    weights = np.asarray(MS_SSIM_WEIGHTS[: len(values)])
    weights = weights / weights.sum()
    return float(np.prod(np.asarray(values) ** weights))
