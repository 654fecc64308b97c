"""``ptycho.evaluation``: reconstruction metrics for the TensorFlow workflows (specs/tf-backend.md §8).

Fix relative to the original: PSNR uses the *data's* range (max - min of the target) as peak,
not OpenCV's 255.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

__all__ = ["fit_and_remove_plane", "psnr", "eval_reconstruction"]


def fit_and_remove_plane(phase: np.ndarray) -> np.ndarray:
    """Subtract the least-squares plane a*x + b*y + c from a 2-D phase image."""
    ph = np.asarray(phase, np.float64)
    yy, xx = np.mgrid[: ph.shape[0], : ph.shape[1]]
    a = np.stack([xx.ravel(), yy.ravel(), np.ones(ph.size)], 1)
    coef, *_ = np.linalg.lstsq(a, ph.ravel(), rcond=None)
    return ph - (a @ coef).reshape(ph.shape)


def psnr(target: np.ndarray, pred: np.ndarray) -> float:
    """10 log10(R^2 / MSE) with R = max(target) - min(target); inf for identical images."""
    t, p = np.asarray(target, np.float64), np.asarray(pred, np.float64)
    mse = float(np.mean((t - p) ** 2))
    rng = float(t.max() - t.min())
    if mse == 0:
        return float("inf")
    if rng == 0:
        raise ValueError("psnr: the target is constant (zero data range); PSNR is undefined")
    return float(10 * np.log10(rng**2 / mse))


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
    for key, fn in (("mae", lambda t, p: float(np.mean(np.abs(t - p)))),
                    ("mse", lambda t, p: float(np.mean((t - p) ** 2))), ("psnr", psnr)):
        out[key] = (fn(ta, pa), fn(tp, pp))
    out["ssim"] = (float(structural_similarity(ta, pa, data_range=float(ta.max() - ta.min()) or 1.0)),
                   float(structural_similarity((tp + np.pi) / (2 * np.pi), (pp + np.pi) / (2 * np.pi),
                                               data_range=1.0)))
    return out
