"""Poisson (shot) noise on diffraction amplitudes in torch (specs/physics.md §10)."""

from __future__ import annotations

import torch

from ._validation import as_tensor

__all__ = ["poisson_sample"]


def poisson_sample(amplitude: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Noisy amplitudes ``sqrt(Poisson(amplitude**2))`` (same shape/dtype; squared values are integers).

    Args:
        amplitude: non-negative amplitudes in count units (sqrt of expected photons per pixel).
        generator: optional ``torch.Generator`` (the only randomness used).
    """
    func = "poisson_sample"
    a = as_tensor(amplitude, "amplitude", func, allow_complex=False)
    if bool((a < 0).any()):
        raise ValueError(f"{func}: amplitude: expected non-negative amplitudes, found min {float(a.min())}")
    counts = torch.poisson(a.detach().to(torch.float64) ** 2, generator=generator)
    return torch.sqrt(counts).to(a.dtype)
