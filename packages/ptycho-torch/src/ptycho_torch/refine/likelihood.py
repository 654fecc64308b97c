"""Negative log-likelihoods of measured diffraction given a predicted far field (specs/refinement.md §2).

Units: ``d`` measured amplitudes as stored in a scan (counts = (s d)^2), ``A = |Psi|`` predicted amplitudes
in the same units, ``s`` the intensity scale of the scan (``sim_intensity_scale``; 1 when unknown, which only
rescales the reported values). Both likelihoods are written so that their curvature in ``A`` at ``A = d`` is
``4 s^2``; the solver's steps are scaled by that constant.

* ``poisson``: ``s^2 (A^2 - d^2 log max(A^2, 1e-12 / s^2))``, the project's Poisson NLL of the counts
  (``ptycho_torch.physics.poisson_nll`` per element, without the constant ``-k log s^2``);
* ``gaussian``: ``2 (s A - s d)^2``, the Gaussian NLL of sqrt-counts with variance 1/4 (the
  variance-stabilised Poisson noise), without its constant.
"""

from __future__ import annotations

import torch

from ptycho_torch.physics.losses import PRED_FLOOR

__all__ = ["LIKELIHOODS", "nll_terms", "CURVATURE"]

LIKELIHOODS = ("poisson", "gaussian")

#: d^2 NLL / dA^2 at A = d, divided by s^2 (both likelihoods).
CURVATURE = 4.0


def nll_terms(amplitude: torch.Tensor, measured: torch.Tensor, scale: float, likelihood: str) -> torch.Tensor:
    """Per-element NLL (same shape as ``amplitude``); differentiable in ``amplitude``.

    Args:
        amplitude: predicted |Psi| (..., N, N) real. measured: d, same shape. scale: s > 0.
        likelihood: 'poisson' or 'gaussian'.
    """
    s2 = float(scale) ** 2
    if likelihood == "poisson":
        pred = amplitude ** 2
        obs = measured ** 2
        # the floor is the project's 1e-12 on predicted counts s^2 A^2
        return s2 * (pred - obs * torch.log(torch.clamp(pred, min=PRED_FLOOR / s2)))
    if likelihood == "gaussian":
        return 2.0 * s2 * (amplitude - measured) ** 2
    raise ValueError(f"refine: likelihood: expected one of {LIKELIHOODS}, found {likelihood!r}")
