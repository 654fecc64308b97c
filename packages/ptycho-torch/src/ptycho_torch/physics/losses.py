"""Data-fidelity losses in torch (specs/physics.md §11). Differentiable; scalar tensors in input dtype."""

from __future__ import annotations

import torch

from ._validation import as_tensor

__all__ = ["poisson_nll", "amplitude_mae", "PRED_FLOOR"]

PRED_FLOOR = 1e-12


def _pair(a, b, names: tuple[str, str], func: str) -> tuple[torch.Tensor, torch.Tensor]:
    x = as_tensor(a, names[0], func, allow_complex=False)
    y = as_tensor(b, names[1], func, allow_complex=False, like=x)
    if x.shape != y.shape:
        raise ValueError(f"{func}: {names[1]}: expected shape {tuple(x.shape)} like {names[0]}, "
                         f"found shape {tuple(y.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{func}: {names[0]}: expected a non-empty tensor, found shape {tuple(x.shape)}")
    return x, y


def poisson_nll(observed_counts: torch.Tensor, predicted_counts: torch.Tensor) -> torch.Tensor:
    """``mean(pred - obs * log(max(pred, 1e-12)))`` over all elements (no log k! term).

    Args: observed_counts k >= 0, predicted_counts lambda >= 0, same shape (e.g. (s X)^2, (s A)^2).
    Returns: 0-d tensor (promoted dtype of the inputs); gradient flows to the prediction.
    """
    obs, pred = _pair(observed_counts, predicted_counts, ("observed_counts", "predicted_counts"), "poisson_nll")
    return torch.mean(pred - obs * torch.log(torch.clamp(pred, min=PRED_FLOOR)))


def amplitude_mae(observed_amp: torch.Tensor, predicted_amp: torch.Tensor) -> torch.Tensor:
    """``mean |obs - pred|`` of amplitudes, 0-d tensor."""
    obs, pred = _pair(observed_amp, predicted_amp, ("observed_amp", "predicted_amp"), "amplitude_mae")
    return torch.mean(torch.abs(obs - pred))
