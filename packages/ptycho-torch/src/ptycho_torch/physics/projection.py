"""Single-pattern modulus projections in PyTorch (specs/physics.md §13); the numpy reference is
``ptycho.physics.modulus_projections`` and the two agree to float precision (tests).

From a flat object each pass replaces the far-field amplitude of the exit waves P_k O by the measured one and
moves O towards the corrected exit waves with the ePIE step (alpha = 1). One pattern and the probe only: no
neighbour is used. Runs on the tensors' device; no gradient is needed (the generator uses it as an input
transform), but it is differentiable where the amplitudes are non-zero.
"""

from __future__ import annotations

import math

import torch

__all__ = ["modulus_projections"]


def _ft(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.fftshift(torch.fft.fft2(x, norm="ortho"), dim=(-2, -1))


def _ift(x: torch.Tensor) -> torch.Tensor:
    return torch.fft.ifft2(torch.fft.ifftshift(x, dim=(-2, -1)), norm="ortho")


def modulus_projections(amplitude: torch.Tensor, probe: torch.Tensor, iterations: int) -> torch.Tensor:
    """Object estimates after ``iterations`` single-pattern modulus projections from O = 1.

    Args:
        amplitude: (..., N, N) real measured far-field amplitudes in exit-wave units (sum A^2 = sum |P O|^2).
        probe: (N, N) complex probe or (K, N, N) incoherent modes, on the amplitude's device.
        iterations: passes, >= 0.

    Returns:
        (..., N, N) complex estimates (complex64 for float32 amplitudes, complex128 for float64).
    """
    func = "modulus_projections"
    if amplitude.dim() < 2 or amplitude.shape[-1] != amplitude.shape[-2] or amplitude.shape[-1] == 0:
        raise ValueError(f"{func}: amplitude: expected shape (..., N, N), found shape {tuple(amplitude.shape)}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"{func}: iterations: expected an integer >= 0, found {iterations!r}")
    n = amplitude.shape[-1]
    P = probe[None] if probe.dim() == 2 else probe
    if P.dim() != 3 or tuple(P.shape[1:]) != (n, n):
        raise ValueError(f"{func}: probe: expected shape ({n}, {n}) or (K, {n}, {n}), found shape {tuple(probe.shape)}")
    real = torch.float64 if amplitude.dtype == torch.float64 else torch.float32
    cplx = torch.complex128 if real == torch.float64 else torch.complex64
    amp = amplitude.to(real)[..., None, :, :]  # (..., 1, N, N)
    P = P.to(device=amplitude.device, dtype=cplx)
    K = P.shape[0]
    norm = (P.abs() ** 2).sum(0).max()
    obj = torch.ones(amplitude.shape, dtype=cplx, device=amplitude.device)
    if float(norm) == 0.0:
        return obj
    for _ in range(iterations):
        psi = P * obj[..., None, :, :]
        spectrum = _ft(psi)
        total = torch.sqrt((spectrum.abs() ** 2).sum(-3, keepdim=True))
        positive = total > 0
        ratio = amp / torch.where(positive, total, torch.ones_like(total))
        corrected = torch.where(positive, spectrum * ratio, (amp / math.sqrt(K)).to(cplx))
        obj = obj + (P.conj() * (_ift(corrected) - psi)).sum(-3) / norm
    return obj
