"""Reconstruction metrics for the TensorFlow workflows (specs/tf-backend.md §8; legacy name ``ptycho.evaluation``).

The legacy entry points over :mod:`ptycho.metrics`: PSNR uses the data's range (max - min of the target) as
peak and is capped at ``ptycho.metrics.quality.PSNR_CAP_DB`` for identical images, as everywhere else.
"""

from __future__ import annotations

import numpy as np

from ptycho.metrics import quality
from ptycho.metrics.alignment import remove_plane

__all__ = ["fit_and_remove_plane", "psnr", "eval_reconstruction"]


def fit_and_remove_plane(phase: np.ndarray) -> np.ndarray:
    """Subtract the least-squares plane a*x + b*y + c from a 2-D phase image."""
    return remove_plane(phase)


def psnr(target: np.ndarray, pred: np.ndarray) -> float:
    """``ptycho.metrics.quality.psnr`` with peak R = max(target) - min(target); ValueError for a constant target."""
    t = np.asarray(target, np.float64)
    rng = float(t.max() - t.min())
    if rng == 0:
        raise ValueError("psnr: the target is constant (zero data range); PSNR is undefined")
    return quality.psnr(t, pred, rng)


def eval_reconstruction(stitched_obj, ground_truth_obj, phase_align_method: str = "plane", trim: int = 2) -> dict:
    """Compare a stitched complex reconstruction with the ground truth of the same (H, W) shape.

    Amplitude: prediction scaled by mean(target)/mean(pred). Phase: plane ('plane') or mean ('mean')
    removed from each independently. Returns {'mae','mse','psnr','ssim'} each an (amp, phase) tuple.
    """
    rec = np.squeeze(np.asarray(stitched_obj))
    gt = np.squeeze(np.asarray(ground_truth_obj))
    if rec.shape != gt.shape or rec.ndim != 2:
        raise ValueError(f"eval_reconstruction: expected equal 2-D shapes, found {rec.shape} and {gt.shape}")
    if trim:
        rec, gt = rec[trim:-trim, trim:-trim], gt[trim:-trim, trim:-trim]
    ta, pa = np.abs(gt), np.abs(rec)
    pa = pa * (ta.mean() / pa.mean()) if pa.mean() > 0 else pa
    if phase_align_method == "plane":
        tp, pp = fit_and_remove_plane(np.angle(gt)), fit_and_remove_plane(np.angle(rec))
    elif phase_align_method == "mean":
        tp, pp = np.angle(gt) - np.angle(gt).mean(), np.angle(rec) - np.angle(rec).mean()
    else:
        raise ValueError(f"eval_reconstruction: phase_align_method: expected 'plane' or 'mean', found {phase_align_method!r}")
    out: dict = {}
    for key, fn in (("mae", quality.mae), ("mse", quality.mse), ("psnr", psnr)):
        out[key] = (fn(ta, pa), fn(tp, pp))
    out["ssim"] = (quality.ssim(ta, pa, float(ta.max() - ta.min()) or 1.0),
                   quality.ssim((tp + np.pi) / (2 * np.pi), (pp + np.pi) / (2 * np.pi), 1.0))
    return out
