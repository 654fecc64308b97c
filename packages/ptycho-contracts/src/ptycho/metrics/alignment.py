"""Registration, amplitude scaling and phase alignment before scoring (specs/metrics.md §2)."""

from __future__ import annotations

import numpy as np
from scipy.signal.windows import hann
from skimage.registration import phase_cross_correlation

__all__ = ["find_shift", "fourier_shift", "align_phase", "scale_amplitude", "crop_border", "remove_plane"]


def _registration_view(image: np.ndarray) -> np.ndarray:
    """|image| minus its mean, times a 2-D Hann window: suppresses the edge discontinuity that
    the periodic cross-correlation would otherwise lock onto."""
    amp = np.abs(image).astype(np.float64)
    window = np.outer(hann(amp.shape[0], sym=False), hann(amp.shape[1], sym=False))
    return (amp - amp.mean()) * window


def _estimate(image: np.ndarray, reference: np.ndarray, upsample_factor: int) -> np.ndarray:
    shift, _, _ = phase_cross_correlation(
        _registration_view(reference),
        _registration_view(image),
        upsample_factor=int(upsample_factor),
        normalization=None,
    )
    return np.asarray(shift, dtype=np.float64)


def find_shift(image: np.ndarray, reference: np.ndarray, upsample_factor: int = 50) -> tuple[float, float]:
    """(dy, dx) in pixels to apply to ``image`` so its amplitude matches ``reference`` (§2.1).

    skimage ``phase_cross_correlation`` (plain cross-correlation, ``normalization=None``, sub-pixel
    refinement to 1/upsample_factor px) of the mean-subtracted, Hann-windowed amplitudes. The
    window biases large shifts slightly towards zero, so the estimate is refined once: the image
    is Fourier-shifted by the first estimate and the residual shift is added. Moving ``image``
    content by +dy rows, +dx columns registers it.
    """
    first = _estimate(image, reference, upsample_factor)
    residual = _estimate(fourier_shift(image, (float(first[0]), float(first[1]))), reference, upsample_factor)
    total = first + residual
    return float(total[0]), float(total[1])


def fourier_shift(image: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """Move content by (dy, dx) pixels with the Fourier shift theorem (periodic; §2.1).

    ``ifft2(fft2(image) * exp(-2 pi i (dy * ky + dx * kx)))`` with ``k`` from ``fftfreq``; returns
    complex128 for complex input, float64 (real part) for real input.
    """
    arr = np.asarray(image)
    dy, dx = shift
    ky = np.fft.fftfreq(arr.shape[0])[:, None]
    kx = np.fft.fftfreq(arr.shape[1])[None, :]
    out = np.fft.ifft2(np.fft.fft2(arr.astype(np.complex128)) * np.exp(-2j * np.pi * (dy * ky + dx * kx)))
    return out if np.iscomplexobj(arr) else out.real


def crop_border(image: np.ndarray, border: int) -> np.ndarray:
    """Drop ``border`` pixels from every side (no-op for 0)."""
    if border <= 0:
        return image
    return image[border:-border, border:-border]


def scale_amplitude(pred_amp: np.ndarray, target_amp: np.ndarray) -> tuple[np.ndarray, float]:
    """Single global factor ``mean(target) / mean(pred)`` applied to the prediction (§2.2).

    Returns (scaled prediction, factor); factor 1.0 when the prediction is all zero.
    """
    mean_pred = float(np.mean(pred_amp))
    factor = float(np.mean(target_amp)) / mean_pred if mean_pred > 0 else 1.0
    return pred_amp * factor, factor


def _plane(phase: np.ndarray) -> np.ndarray:
    h, w = phase.shape
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    design = np.stack([xx.ravel(), yy.ravel(), np.ones(h * w)], axis=1)
    coef, *_ = np.linalg.lstsq(design, phase.ravel(), rcond=None)
    return (design @ coef).reshape(h, w)


def remove_plane(phase: np.ndarray) -> np.ndarray:
    """``phase`` (2-D, float64) minus its least-squares plane a*x + b*y + c."""
    ph = np.asarray(phase, np.float64)
    return ph - _plane(ph)


def align_phase(pred: np.ndarray, target: np.ndarray, method: str = "plane") -> tuple[np.ndarray, np.ndarray]:
    """Phases of ``pred`` and ``target`` (complex) with their ambiguities removed (§2.3).

    1. The global phase offset is removed circularly: ``pred * exp(-i angle(sum pred conj(target)))``
       so that an offset near +-pi cannot wrap the comparison.
    2. Phases are taken with ``np.angle`` (radians, (-pi, pi]).
    3. ``'mean'``: each phase minus its own mean; ``'plane'``: each phase minus its own
       least-squares plane a*x + b*y + c (removes offsets and linear ramps that do not wrap).

    Returns (pred_phase, target_phase) float64.
    """
    if method not in ("plane", "mean"):
        raise ValueError(f"align_phase: method: expected 'plane' or 'mean', found {method!r}")
    p = np.asarray(pred, np.complex128)
    t = np.asarray(target, np.complex128)
    overlap = np.sum(p * np.conj(t))
    if abs(overlap) > 0:
        p = p * np.exp(-1j * np.angle(overlap))
    pp, tp = np.angle(p), np.angle(t)
    if method == "mean":
        return pp - pp.mean(), tp - tp.mean()
    return pp - _plane(pp), tp - _plane(tp)
