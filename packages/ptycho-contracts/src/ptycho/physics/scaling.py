"""Diffraction normalisation and photon intensity scales (specs/physics.md §9).

Diffraction data are amplitudes (square roots of counts). The pixel axes are axes 1 and 2 of
either layout, (M, N, N) or (B, N, N, C); "mean over patterns" averages the per-pattern sum of
squared amplitudes over every other axis (patterns and channels).
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_array, check_ndim, check_positive_float, check_positive_int, check_square

__all__ = ["normalization_factor", "normalize_diffraction", "intensity_scale", "dataset_intensity_scale", "scale_for_power"]


def _mean_pattern_power(data: object, name: str, func: str, allow_complex: bool) -> tuple[float, int]:
    """Return (mean over patterns of sum_pixels |data|^2 in float64, N)."""
    # integer counts (e.g. uint16) become float64 here, before any squaring
    arr = as_array(data, name, func, allow_complex=allow_complex)
    check_ndim(arr, (3, 4), name, func, "(M, N, N) or (B, N, N, C)")
    n = check_square(arr, (1, 2), name, func, "(M, N, N) or (B, N, N, C)")
    if arr.size == 0:
        raise ValueError(f"{func}: {name}: expected at least one pattern, found shape {arr.shape}")
    mag2 = np.abs(arr.astype(np.complex128 if np.iscomplexobj(arr) else np.float64)) ** 2
    power = float(np.mean(np.sum(mag2, axis=(1, 2))))
    return power, n


def normalization_factor(diff: np.ndarray) -> float:
    """Factor c with ``mean_patterns sum_pixels (c * diff)^2 == (N/2)^2`` (specs/physics.md §9.1).

    ``c = sqrt((N/2)^2 / mean_over_patterns(sum_pixels diff^2))``, computed in float64 (integer
    data are cast to float64 before squaring, so uint16 counts cannot overflow).

    Args:
        diff: (M, N, N) or (B, N, N, C) diffraction amplitudes (any real dtype).

    Returns:
        The factor as a Python float.

    Raises:
        ValueError: if the data are all zero (no factor exists) or not finite.
    """
    func = "normalization_factor"
    power, n = _mean_pattern_power(diff, "diff", func, allow_complex=False)
    if power <= 0.0:
        raise ValueError(f"{func}: diff: expected some non-zero amplitudes, found all zeros")
    return math.sqrt((n / 2.0) ** 2 / power)


def normalize_diffraction(diff: np.ndarray) -> tuple[np.ndarray, float]:
    """Return ``(X, factor)`` with ``X = float32(factor * diff)`` (specs/physics.md §9.1).

    The product is formed in float64 and then cast to float32. Shapes as :func:`normalization_factor`.
    """
    factor = normalization_factor(diff)
    arr = as_array(diff, "diff", "normalize_diffraction", allow_complex=False).astype(np.float64)
    return (arr * factor).astype(np.float32), factor


def intensity_scale(nphotons: float, N: int) -> float:
    """Closed-form photon scale ``s = sqrt(nphotons) / (N/2)`` (specs/physics.md §9.2).

    With normalised data X (mean sum X^2 = (N/2)^2) the expected counts ``(s*X)^2`` total
    ``nphotons`` per pattern on average. N=64, nphotons=1e9 -> s = 988.21...
    """
    func = "intensity_scale"
    photons = check_positive_float(nphotons, "nphotons", func)
    n = check_positive_int(N, "N", func)
    return math.sqrt(photons) / (n / 2.0)


def dataset_intensity_scale(X: np.ndarray, nphotons: float) -> float:
    """Data-derived photon scale ``sqrt(nphotons / mean_patterns sum_pixels |X|^2)`` (§9.2).

    Args:
        X: (M, N, N) or (B, N, N, C) amplitudes, or complex exit waves (|X|^2 is used).
        nphotons: mean photons per pattern wanted.

    On normalised data this equals :func:`intensity_scale` (nphotons, N).
    """
    func = "dataset_intensity_scale"
    photons = check_positive_float(nphotons, "nphotons", func)
    power, _ = _mean_pattern_power(X, "X", func, allow_complex=True)
    return scale_for_power(photons, power)


def scale_for_power(nphotons: float, power: float) -> float:
    """``sqrt(nphotons / power)`` for a mean pattern power ``power`` = mean_patterns sum_pixels |X|^2 (> 0;
    the data's, as :func:`dataset_intensity_scale` and its torch mirror compute it)."""
    if power <= 0.0:
        raise ValueError("dataset_intensity_scale: X: expected some non-zero values, found all zeros")
    return math.sqrt(float(nphotons) / power)
