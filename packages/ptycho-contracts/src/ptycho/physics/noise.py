"""Poisson (shot) noise on diffraction amplitudes (specs/physics.md §10)."""

from __future__ import annotations

import numpy as np

from ._validation import as_array, real_dtype_for

__all__ = ["poisson_sample"]


def poisson_sample(amplitude: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noisy amplitudes ``sqrt(Poisson(amplitude**2))`` (specs/physics.md §10).

    Args:
        amplitude: array (any shape) of non-negative amplitudes in count units (sqrt of the
            expected photon count per pixel).
        rng: a ``numpy.random.Generator`` (the only source of randomness; no global state).

    Returns:
        Array of the same shape, float32 for float32 input, float64 otherwise; squared, every
        value is an integer photon count.
    """
    func = "poisson_sample"
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{func}: rng: expected a numpy.random.Generator, found {type(rng).__name__}")
    arr = as_array(amplitude, "amplitude", func, allow_complex=False)
    if np.any(arr < 0):
        raise ValueError(f"{func}: amplitude: expected non-negative amplitudes, found min {float(arr.min())}")
    counts = rng.poisson(arr.astype(np.float64) ** 2)
    return np.sqrt(counts.astype(np.float64)).astype(real_dtype_for(arr))
