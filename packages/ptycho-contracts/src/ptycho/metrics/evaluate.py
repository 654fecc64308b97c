"""One-call scoring of a reconstruction against the ground-truth object (specs/metrics.md §1, §5)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .alignment import align_phase, crop_border, find_shift, fourier_shift, scale_amplitude
from .frc import frc, frc_cutoff, half_bit_crossing
from .quality import mae, ms_ssim, mse, psnr, ssim

__all__ = ["evaluate"]

_FALLBACK_RANGE = {"amplitude": 1.0, "phase": 2.0 * np.pi}


def _as_image(value: object, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.hasobject or arr.dtype.kind not in "fciub":
        raise TypeError(f"evaluate: {name}: expected a numeric 2-D image, found dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"evaluate: {name}: expected shape (H, W) or (H, W, 1), found shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"evaluate: {name}: expected finite values, found NaN or inf")
    return arr.astype(np.complex128)


def _data_range(target: np.ndarray, kind: str) -> float:
    rng = float(np.max(target) - np.min(target))
    return rng if rng > 0 else _FALLBACK_RANGE[kind]


def _scores(
    target: np.ndarray, pred: np.ndarray, kind: str, ms_sigma: float, frc_sigma: float
) -> dict[str, Any]:
    data_range = _data_range(target, kind)
    curve = frc(target, pred)
    side = min(target.shape)
    return {
        "mae": mae(target, pred),
        "mse": mse(target, pred),
        "psnr": psnr(target, pred, data_range),
        "ssim": ssim(target, pred, data_range),
        "ms_ssim": ms_ssim(target, pred, data_range, sigma=ms_sigma),
        "frc50": frc_cutoff(curve, 0.5, sigma=frc_sigma),
        "frc_1_7": frc_cutoff(curve, 1.0 / 7.0, sigma=frc_sigma),
        "frc_half_bit": half_bit_crossing(curve, side=side, sigma=frc_sigma),
        "data_range": data_range,
        "_curve": curve,
    }


def evaluate(
    reconstruction: np.ndarray,
    ground_truth: np.ndarray,
    *,
    phase_align: str = "plane",
    register: bool = True,
    border_crop: int = 2,
    upsample_factor: int = 50,
    ms_ssim_sigma: float = 1.0,
    frc_sigma: float = 0.0,
) -> dict[str, Any]:
    """Score a complex reconstruction against the ground truth (specs/metrics.md §1).

    Args:
        reconstruction, ground_truth: (H, W) or (H, W, 1) complex (or real) images on the same
            pixel grid, at least 7 + 2*border_crop pixels per side.
        phase_align: 'plane' (remove each image's least-squares phase plane) or 'mean'.
        register: find the sub-pixel shift (amplitude cross-correlation) and move the
            reconstruction by it (Fourier shift) before scoring.
        border_crop: pixels dropped from every side of both images after registration.
        upsample_factor: registration precision is 1/upsample_factor px.
        ms_ssim_sigma: Gaussian blur (px) of the amplitudes before MS-SSIM (phase unblurred).
        frc_sigma: Gaussian smoothing (rings) of FRC curves before thresholding.

    Returns:
        JSON-ready dict (plain floats and lists)::

            {'amplitude': {'mae', 'mse', 'psnr', 'ssim', 'ms_ssim', 'frc50', 'frc_1_7',
                           'frc_half_bit', 'data_range'},
             'phase': {... same keys ...},
             'frc_curve': {'amplitude': [...], 'phase': [...]},
             'registration_shift': [dy, dx],     # pixels applied to the reconstruction
             'amplitude_scale': float,           # factor applied to the reconstruction amplitude
             'phase_align': str, 'shape': [h, w]}  # scored region after the border crop

        PSNR/SSIM/MS-SSIM use ``data_range`` = max - min of the (aligned) ground truth (1.0 for
        a constant amplitude, 2*pi for a constant phase); PSNR is capped at 300 dB. FRC cut-offs
        are ring indices (cycles per image side; the curve has min(h, w)//2 rings).
    """
    recon = _as_image(reconstruction, "reconstruction")
    truth = _as_image(ground_truth, "ground_truth")
    if recon.shape != truth.shape:
        raise ValueError(
            f"evaluate: reconstruction: expected the ground truth's shape {truth.shape}, found shape {recon.shape}"
        )
    if phase_align not in ("plane", "mean"):
        raise ValueError(f"evaluate: phase_align: expected 'plane' or 'mean', found {phase_align!r}")
    border = int(border_crop)
    if border < 0 or min(truth.shape) - 2 * border < 7:
        raise ValueError(
            f"evaluate: border_crop: expected 0 <= border_crop with at least 7 px left per side of "
            f"{truth.shape}, found {border_crop!r}"
        )

    shift = (0.0, 0.0)
    if register:
        shift = find_shift(recon, truth, upsample_factor=upsample_factor)
        recon = fourier_shift(recon, shift)
    recon = crop_border(recon, border)
    truth = crop_border(truth, border)

    amp_pred, factor = scale_amplitude(np.abs(recon), np.abs(truth))
    amp_scores = _scores(np.abs(truth), amp_pred, "amplitude", ms_ssim_sigma, frc_sigma)
    phase_pred, phase_true = align_phase(recon, truth, phase_align)
    phase_scores = _scores(phase_true, phase_pred, "phase", 0.0, frc_sigma)

    curves = {"amplitude": amp_scores.pop("_curve").tolist(), "phase": phase_scores.pop("_curve").tolist()}
    return {
        "amplitude": {k: float(v) for k, v in amp_scores.items()},
        "phase": {k: float(v) for k, v in phase_scores.items()},
        "frc_curve": curves,
        "registration_shift": [float(shift[0]), float(shift[1])],
        "amplitude_scale": float(factor),
        "phase_align": phase_align,
        "shape": [int(truth.shape[0]), int(truth.shape[1])],
    }
