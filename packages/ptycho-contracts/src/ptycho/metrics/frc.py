"""Fourier ring correlation and its resolution thresholds (specs/metrics.md §4).

Rings: for a square n x n image (rows, cols) the centred spectrum F = fftshift(fft2(img)) is split
into rings of integer radius r = round(sqrt(ky^2 + kx^2)) around index (n//2, n//2), r = 0 ... n//2 - 1
(only complete rings; ring n//2 - 1 is just below Nyquist). Units: ring index = spatial frequency
in cycles per n pixels.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

# Relative ring energy below which a ring counts as empty (round-off level).
_EMPTY_RING = 1e-20

__all__ = ["frc", "ring_pixel_counts", "frc_cutoff", "half_bit_threshold", "half_bit_crossing"]


def _square_pair(a: np.ndarray, b: np.ndarray, func: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a)
    y = np.asarray(b)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(
            f"{func}: b: expected a 2-D image with the shape of a {x.shape}, found shape {y.shape}"
        )
    side = min(x.shape)
    if side < 4:
        raise ValueError(f"{func}: a: expected images of at least 4 x 4 pixels, found shape {x.shape}")
    r0 = (x.shape[0] - side) // 2
    c0 = (x.shape[1] - side) // 2
    return x[r0 : r0 + side, c0 : c0 + side], y[r0 : r0 + side, c0 : c0 + side]


def _ring_index(side: int) -> np.ndarray:
    k = np.arange(side) - side // 2
    return np.rint(np.hypot(k[:, None], k[None, :])).astype(np.int64)


def ring_pixel_counts(side: int) -> np.ndarray:
    """Number of spectrum pixels in each ring r = 0 ... side//2 - 1 of a side x side image."""
    rings = _ring_index(side)
    return np.bincount(rings.ravel(), minlength=side // 2)[: side // 2].astype(np.int64)


def frc(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fourier ring correlation curve of two images (specs/metrics.md §4.1).

    Args:
        a, b: 2-D real (or complex) images of equal shape; both are centre-cropped to the largest
            square (side n = min(H, W)).

    Returns:
        (n//2,) float64, ``FRC(r) = Re(sum_ring F_a conj(F_b)) / sqrt(sum_ring |F_a|^2 * sum_ring |F_b|^2)``
        in [-1, 1]. A ring whose energy is below 1e-20 of its image's total energy is "empty":
        both empty -> 1 (perfect agreement), only one empty -> 0.
    """
    x, y = _square_pair(a, b, "frc")
    side = x.shape[0]
    fa = np.fft.fftshift(np.fft.fft2(x.astype(np.complex128)))
    fb = np.fft.fftshift(np.fft.fft2(y.astype(np.complex128)))
    rings = _ring_index(side).ravel()
    n_rings = side // 2
    keep = rings < n_rings
    rings = rings[keep]
    cross = np.bincount(
        rings, weights=np.real(fa.ravel()[keep] * np.conj(fb.ravel()[keep])), minlength=n_rings
    )
    pa = np.bincount(rings, weights=np.abs(fa.ravel()[keep]) ** 2, minlength=n_rings)
    pb = np.bincount(rings, weights=np.abs(fb.ravel()[keep]) ** 2, minlength=n_rings)
    # A ring is "empty" when its energy is below 1e-20 of the image's total (round-off level).
    empty_a = pa <= _EMPTY_RING * max(float(pa.sum()), np.finfo(np.float64).tiny)
    empty_b = pb <= _EMPTY_RING * max(float(pb.sum()), np.finfo(np.float64).tiny)
    denom = np.sqrt(pa * pb)
    valid = ~(empty_a | empty_b)
    curve = np.where(valid, cross / np.where(valid, denom, 1.0), np.where(empty_a & empty_b, 1.0, 0.0))
    return np.clip(curve, -1.0, 1.0)


#: Rings the crossing search skips: ring 0 is the single DC coefficient (set by the amplitude scale fit and the phase
#: offset/plane removal of the comparison, not by resolution) and ring 1 the lowest frequencies, which the plane
#: removal and the registration's periodic shift distort on non-periodic windows (specs/metrics.md §4.2).
SKIPPED_RINGS = 2


def _first_crossing(diff: np.ndarray) -> float:
    """First fractional index where ``diff`` (curve - threshold) goes below 0 at ring >= SKIPPED_RINGS (linear
    interpolation from the ring before); ``len`` if it never does; 0.0 if ring SKIPPED_RINGS is already below."""
    start = min(SKIPPED_RINGS, diff.shape[0] - 1)
    below = np.nonzero(diff[start:] < 0)[0]
    if below.size == 0:
        return float(diff.shape[0])
    i = int(below[0]) + start
    if i == start:
        return 0.0
    d0, d1 = float(diff[i - 1]), float(diff[i])
    return float(i - 1 + d0 / (d0 - d1))


def frc_cutoff(curve: np.ndarray, threshold: float, sigma: float = 0.0) -> float:
    """Ring index where the FRC first drops below a fixed ``threshold`` (specs/metrics.md §4.2).

    The search starts at ring ``SKIPPED_RINGS`` (2): the DC ring and the lowest ring do not measure resolution.
    Linear interpolation between the last ring at or above the threshold and the first below;
    returns ``len(curve)`` if the curve never drops below and 0.0 if ring 2 is already below.
    ``sigma`` > 0 smooths the curve first (Gaussian, in rings). Used with 0.5 (frc50) and 1/7.
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"frc_cutoff: curve: expected a non-empty 1-D curve, found shape {c.shape}")
    if sigma > 0:
        c = gaussian_filter1d(c, sigma)
    return _first_crossing(c - float(threshold))


def half_bit_threshold(n_pixels: np.ndarray) -> np.ndarray:
    """Van Heel & Schatz (2005) 1/2-bit threshold per ring, from the ring pixel counts n_r:

    ``T(r) = (0.2071 + 1.9102 / sqrt(n_r)) / (1.2071 + 0.9102 / sqrt(n_r))``.
    """
    root = np.sqrt(np.maximum(np.asarray(n_pixels, dtype=np.float64), 1.0))
    return (0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root)


def half_bit_crossing(curve: np.ndarray, side: int | None = None, sigma: float = 0.0) -> float:
    """Ring index where the FRC first drops below the 1/2-bit threshold (specs/metrics.md §4.3).

    ``side`` is the image side the curve came from (default ``2 * len(curve)``). Same
    interpolation and edge rules as :func:`frc_cutoff`.
    """
    c = np.asarray(curve, dtype=np.float64)
    if c.ndim != 1 or c.size == 0:
        raise ValueError(f"half_bit_crossing: curve: expected a non-empty 1-D curve, found shape {c.shape}")
    n = 2 * c.size if side is None else int(side)
    counts = ring_pixel_counts(n)
    if counts.size != c.size:
        raise ValueError(f"half_bit_crossing: side: expected {2 * c.size} or {2 * c.size + 1}, found {n}")
    if sigma > 0:
        c = gaussian_filter1d(c, sigma)
    return _first_crossing(c - half_bit_threshold(counts))
