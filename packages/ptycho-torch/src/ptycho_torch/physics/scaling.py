"""Diffraction normalisation and photon intensity scales in torch (specs/physics.md §9).

Mirror of ``ptycho.physics.scaling``: ``normalization_factor`` / ``dataset_intensity_scale`` reduce in
float64 and return Python floats; ``normalize_diffraction`` returns (float32 tensor, float).
``intensity_scale`` (the closed form sqrt(nphotons)/(N/2), plain Python arithmetic) is the contracts'
function itself: one formula for every backend.
"""

from __future__ import annotations

import math

import torch

from ptycho.physics.checks import check_positive_float
from ptycho.physics.scaling import intensity_scale, scale_for_power

from ._validation import as_tensor, check_ndim

__all__ = ["normalization_factor", "normalize_diffraction", "intensity_scale", "dataset_intensity_scale"]


def _mean_pattern_power(data, name: str, func: str, allow_complex: bool) -> tuple[float, int]:
    t = as_tensor(data, name, func, allow_complex=allow_complex)
    check_ndim(t, (3, 4), name, func, "(M, N, N) or (B, N, N, C)")
    if t.shape[1] != t.shape[2] or t.numel() == 0:
        raise ValueError(f"{func}: {name}: expected at least one square pattern (M, N, N) or (B, N, N, C), "
                         f"found shape {tuple(t.shape)}")
    t = t.detach()
    t = t.to(torch.complex128) if t.is_complex() else t.to(torch.float64)
    mag2 = torch.abs(t) ** 2
    return float(mag2.sum(dim=(1, 2)).mean()), int(t.shape[1])


def normalization_factor(diff) -> float:
    """c with ``mean_patterns sum_pixels (c*diff)^2 == (N/2)^2``, computed in float64 (Python float).

    diff: (M, N, N) or (B, N, N, C) amplitudes. Raises ValueError for all-zero data.
    """
    func = "normalization_factor"
    power, n = _mean_pattern_power(diff, "diff", func, allow_complex=False)
    if power <= 0.0:
        raise ValueError(f"{func}: diff: expected some non-zero amplitudes, found all zeros")
    return math.sqrt((n / 2.0) ** 2 / power)


def normalize_diffraction(diff) -> tuple[torch.Tensor, float]:
    """``(X, factor)`` with ``X = float32(factor * diff)`` (product formed in float64)."""
    factor = normalization_factor(diff)
    t = as_tensor(diff, "diff", "normalize_diffraction", allow_complex=False)
    return (t.to(torch.float64) * factor).to(torch.float32), factor


def dataset_intensity_scale(X, nphotons: float) -> float:
    """``sqrt(nphotons / mean_patterns sum_pixels |X|^2)``; X (M,N,N) or (B,N,N,C), real or complex."""
    func = "dataset_intensity_scale"
    photons = check_positive_float(nphotons, "nphotons", func)
    return scale_for_power(photons, _mean_pattern_power(X, "X", func, allow_complex=True)[0])
