"""The teacher's supervised loss (specs/torch-training.md §8.2): amplitude MAE + wrapped phase MAE.

Complex L1 |o - y| is the wrong loss for this generator (benchmarks/RESULTS.md "PINN generator on the
teacher's labels": with a nearly constant predicted phase its optimal amplitude encodes the phase contrast and
the phase gradient vanishes); separate amplitude and phase terms learn the phase. The phase term compares
angles modulo 2π, so a label at +3.1 rad and a prediction at -3.1 rad differ by 0.08 rad, not 6.2.
"""

from __future__ import annotations

import torch

__all__ = ["split_loss", "wrapped_phase_difference"]


def wrapped_phase_difference(phase: torch.Tensor, label_phase: torch.Tensor) -> torch.Tensor:
    """``phase - label_phase`` wrapped into (-π, π] elementwise (radians), as ``atan2(sin d, cos d)``.

    Its absolute value is the angle between the unit phasors; the gradient with respect to ``phase`` is 1
    everywhere except at |d| = π."""
    d = phase - label_phase
    return torch.atan2(torch.sin(d), torch.cos(d))


def split_loss(amp: torch.Tensor, phase: torch.Tensor, label_amp: torch.Tensor, label_phase: torch.Tensor,
               phase_weight: float = 1.0) -> torch.Tensor:
    """mean |amp - label_amp| + phase_weight · mean |wrap(phase - label_phase)|, a 0-d tensor.

    Args:
        amp, phase: (B, N, N, F) generator outputs (amplitude in the network's units, phase in radians).
        label_amp, label_phase: (B, N, N, C) labels; F must equal C (one label per predicted patch).
    Raises:
        ValueError: shapes differ (names both).
    """
    if tuple(amp.shape) != tuple(label_amp.shape) or tuple(phase.shape) != tuple(label_phase.shape):
        raise ValueError(f"split_loss: expected predictions and labels of one shape, found amp {tuple(amp.shape)} / "
                         f"label {tuple(label_amp.shape)}, phase {tuple(phase.shape)} / label {tuple(label_phase.shape)}")
    amp_term = (amp - label_amp).abs().mean()
    phase_term = wrapped_phase_difference(phase, label_phase).abs().mean()
    return amp_term + float(phase_weight) * phase_term
