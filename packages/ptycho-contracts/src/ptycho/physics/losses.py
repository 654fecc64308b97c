"""Data-fidelity losses on diffraction data (specs/physics.md §11)."""

from __future__ import annotations

import numpy as np

from ._validation import as_array

__all__ = ["poisson_nll", "amplitude_mae", "PRED_FLOOR"]

# Predicted counts are floored at this value inside the logarithm.
PRED_FLOOR = 1e-12


def _pair(a: object, b: object, names: tuple[str, str], func: str) -> tuple[np.ndarray, np.ndarray]:
    x = as_array(a, names[0], func, allow_complex=False).astype(np.float64)
    y = as_array(b, names[1], func, allow_complex=False).astype(np.float64)
    if x.shape != y.shape:
        raise ValueError(
            f"{func}: {names[1]}: expected shape {x.shape} like {names[0]}, found shape {y.shape}"
        )
    if x.size == 0:
        raise ValueError(f"{func}: {names[0]}: expected a non-empty array, found shape {x.shape}")
    return x, y


def poisson_nll(observed_counts: np.ndarray, predicted_counts: np.ndarray) -> float:
    """Mean Poisson negative log-likelihood without the log(k!) term (specs/physics.md §11.1).

    ``mean(pred - obs * log(max(pred, 1e-12)))`` over all elements, in float64.

    Args:
        observed_counts: counts k >= 0 (any shape), e.g. ``(s*X)^2``.
        predicted_counts: expected counts lambda >= 0, same shape, e.g. ``(s*A)^2``.

    Returns:
        Python float. Adding ``mean(log(k!))`` gives the exact mean -log P(k | lambda).
    """
    obs, pred = _pair(
        observed_counts, predicted_counts, ("observed_counts", "predicted_counts"), "poisson_nll"
    )
    return float(np.mean(pred - obs * np.log(np.maximum(pred, PRED_FLOOR))))


def amplitude_mae(observed_amp: np.ndarray, predicted_amp: np.ndarray) -> float:
    """Mean absolute error ``mean |obs - pred|`` of amplitudes, float64 (specs/physics.md §11.2)."""
    obs, pred = _pair(observed_amp, predicted_amp, ("observed_amp", "predicted_amp"), "amplitude_mae")
    return float(np.mean(np.abs(obs - pred)))
