"""Step length along an update direction, without FFTs (specs/refinement.md §3).

Along the path ``Z(a) = Psi + a d1 + a^2 d2`` of the far field the predicted intensity ``|Z(a)|^2`` is a polynomial in
``a`` (degree 2, or 4 when object and probe both move) whose real coefficients are formed once; each trial of the
1-D search then costs a few real operations per element.
"""

from __future__ import annotations

import math

import torch

from ptycho_torch.physics.losses import PRED_FLOOR

__all__ = ["path_intensity", "path_nll", "line_search"]


def path_intensity(psi_hat: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor | None) -> list[torch.Tensor]:
    """Real coefficients ``c_j`` (each like ``psi_hat``) of the predicted intensity along the step path,
    ``|Psi + a d1 + a^2 d2|^2 = sum_j c_j a^j`` (degree 2 without ``d2``, 4 with it)."""
    def re_dot(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # Re(conj(u) v)
        return u.real * v.real + u.imag * v.imag

    c = [re_dot(psi_hat, psi_hat), 2.0 * re_dot(psi_hat, d1), re_dot(d1, d1)]
    if d2 is not None:
        c[2] = c[2] + 2.0 * re_dot(psi_hat, d2)
        c += [2.0 * re_dot(d1, d2), re_dot(d2, d2)]
    return c


def path_nll(c: list[torch.Tensor], measured: torch.Tensor, a: float, scale: float,
              likelihood: str) -> tuple[float, float, float]:
    """Batch NLL along the step path and its first and second derivatives in ``a`` (closed form, no FFT).

    ``I(a) = sum_j c_j a^j`` is the predicted intensity; poisson: ``s^2 (I - d^2 log I)``; gaussian:
    ``2 s^2 (sqrt(I) - d)^2`` -- the per-element NLLs of :func:`nll_terms` written in ``I = A^2``.
    """
    s2 = float(scale) ** 2
    inten = c[0].clone()
    d_int = c[1].clone()
    dd_int = 2.0 * c[2]
    for j in range(1, len(c)):
        inten.add_(c[j], alpha=a ** j)
        if j >= 2:
            d_int.add_(c[j], alpha=j * a ** (j - 1))
        if j >= 3:
            dd_int.add_(c[j], alpha=j * (j - 1) * a ** (j - 2))
    inten = inten.clamp_min(1e-30)
    obs = measured * measured
    if likelihood == "poisson":
        value = s2 * (inten - obs * torch.log(inten.clamp_min(PRED_FLOOR / s2)))
        ratio = obs / inten
        grad = s2 * (1.0 - ratio) * d_int
        curv = s2 * (ratio / inten * d_int * d_int + (1.0 - ratio) * dd_int)
    else:
        amp = torch.sqrt(inten)
        a1 = d_int / (2.0 * amp)
        a2 = dd_int / (2.0 * amp) - a1 * a1 / amp
        value = 2.0 * s2 * (amp - measured) ** 2
        grad = 4.0 * s2 * (amp - measured) * a1
        curv = 4.0 * s2 * (a1 * a1 + (amp - measured) * a2)
    return float(value.sum()), float(grad.sum()), float(curv.sum())


def line_search(psi_hat: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor | None, measured: torch.Tensor,
                scale: float, likelihood: str, steps: int, a_max: float, f0: float) -> tuple[float, float, float]:
    """Minimise the batch NLL of ``Z(a) = psi_hat + a d1 + a^2 d2`` over 0 <= a <= a_max.

    Safeguarded Newton steps from ``a = min(1, a_max)`` with the exact first and second derivatives, on the
    intensity ``|Z(a)|^2``, a polynomial in ``a`` whose coefficients are formed once (:func:`path_intensity`),
    so a trial costs a few real operations per element and no FFT; the best value seen is kept. ``f0`` is the
    batch NLL at a = 0 (already known) of ``likelihood``; ``measured`` the batch's diffraction (the shape of
    ``psi_hat``, or that without its mode axis 1 when ``psi_hat``, ``d1``, ``d2`` are (B, K, N, N) mode far fields),
    ``scale`` the intensity scale. Returns (a, nll(0), nll(a)).
    """
    lik = likelihood
    coeffs = path_intensity(psi_hat, d1, d2)
    if psi_hat.dim() == measured.dim() + 1:  # (B, K, N, N) far fields of K incoherent modes: intensities add
        coeffs = [c.sum(1) for c in coeffs]
    best_a, best_f = 0.0, f0
    a_val = min(1.0, a_max)
    for _ in range(steps):
        fv, gv, hv = path_nll(coeffs, measured, a_val, scale, lik)
        if math.isfinite(fv) and fv < best_f:
            best_a, best_f = a_val, fv
        if not (math.isfinite(gv) and math.isfinite(hv)):
            break
        nxt = a_val - gv / hv if hv > 0 else (2.0 * a_val if gv < 0 else 0.5 * a_val)
        a_val = float(min(max(nxt, 0.0), a_max))
    fl = path_nll(coeffs, measured, a_val, scale, lik)[0]
    if math.isfinite(fl) and fl < best_f:
        best_a, best_f = a_val, fl
    return best_a, f0, best_f
