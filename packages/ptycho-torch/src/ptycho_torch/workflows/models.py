"""Trained-model handles of the PyTorch workflow (specs/torch-workflow.md §5): the inference callable and the
``models`` dict the workflow functions return ('lightning_module', 'diffraction_to_obj')."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["DiffractionToObject", "models_dict", "module_intensity_scale"]


class DiffractionToObject(nn.Module):
    """Inference callable of a trained model: (s·X (B,N,N,C) float32, coords_relative (B,1,2,C)) -> (B,N,N) complex64.

    The input is the *scaled* amplitude s·X (TF ``diffraction_to_obj`` convention), which is what
    ``PtychoPINN_Lightning.forward`` takes; ``predict_step`` (normalised X) gives the same object.
    """

    def __init__(self, lightning_module: nn.Module, intensity_scale: float):
        super().__init__()
        self.lightning_module = lightning_module
        self.intensity_scale = float(intensity_scale)

    def forward(self, x_scaled: torch.Tensor, coords_relative: torch.Tensor,
                estimate: torch.Tensor | None = None) -> torch.Tensor:
        """``estimate``: (B, N, N, C) complex, the refined scan's patches; required by a model with
        ``input_refine_passes`` > 0 (specs/network.md §8.3), ignored otherwise."""
        if x_scaled.ndim != 4 or coords_relative.ndim != 4 or coords_relative.shape[1:3] != (1, 2):
            raise ValueError(
                f"DiffractionToObject: expected X (B,N,N,C) and coords_relative (B,1,2,C), found "
                f"{tuple(x_scaled.shape)} and {tuple(coords_relative.shape)}"
            )
        return self.lightning_module(x_scaled.to(torch.float32), coords_relative.to(torch.float32),
                                     estimate=estimate)["object"].to(
            torch.complex64
        )


def module_intensity_scale(module: nn.Module, fallback: float | None = None) -> float:
    """The module's ``intensity_scale`` attribute, else its hyperparameter, else ``fallback``."""
    value = getattr(module, "intensity_scale", None)
    if value is not None:
        return float(value.item() if torch.is_tensor(value) else value)
    hp = getattr(module, "hparams", None)
    if hp is not None and "intensity_scale" in hp:
        return float(hp["intensity_scale"])
    if fallback is None:
        raise ValueError("lightning module: expected an 'intensity_scale' attribute or hyperparameter, found none")
    return float(fallback)


def models_dict(module: nn.Module, intensity_scale: float) -> dict[str, Any]:
    """{'lightning_module': module, 'diffraction_to_obj': DiffractionToObject(module, intensity_scale)}."""
    return {"lightning_module": module, "diffraction_to_obj": DiffractionToObject(module, intensity_scale)}
