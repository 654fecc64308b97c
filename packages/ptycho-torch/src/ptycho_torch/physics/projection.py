"""Single-pattern modulus projections in PyTorch (specs/physics.md §13); the numpy reference is
``ptycho.physics.modulus_projections`` and the two agree to float precision (tests).

From a flat object each pass replaces the far-field amplitude of the exit waves P_k O by the measured one and
moves O towards the corrected exit waves with the ePIE step (alpha = 1). One pattern and the probe only: no
neighbour is used. Runs on the tensors' device; no gradient is needed (the generator uses it as an input
transform), but it is differentiable where the amplitudes are non-zero.

:func:`group_projections` estimates the C members of each group jointly on one canvas (error reduction with the
overlaps; numpy reference ``ptycho.physics.group_projections``, specs/physics.md §13.1).
"""

from __future__ import annotations

import math

import torch

from ptycho.physics import checks

from .patches import canvas_size, extract_from_canvas_cf, reassemble_groups_cf

__all__ = ["GROUP_DAMPING", "group_projections", "modulus_projections"]

#: d / max_r sum_k |P_k|^2 in :func:`group_projections` (as the numpy reference)
GROUP_DAMPING = 1e-3


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
    checks.image_side(tuple(amplitude.shape), "amplitude", func)
    checks.check_positive_int(iterations, "iterations", func, minimum=0)
    n = amplitude.shape[-1]
    P = probe[None] if probe.dim() == 2 else probe
    if P.dim() != 3 or tuple(P.shape[1:]) != (n, n):
        raise ValueError(f"{func}: probe: expected shape ({n}, {n}) or (K, {n}, {n}), found shape {tuple(probe.shape)}")
    real = torch.float64 if amplitude.dtype == torch.float64 else torch.float32
    cplx = torch.complex128 if real == torch.float64 else torch.complex64
    amp = amplitude.to(real)[..., None, :, :]  # (..., 1, N, N)
    P = P.to(device=amplitude.device, dtype=cplx)
    norm = (P.abs() ** 2).sum(0).max()
    obj = torch.ones(amplitude.shape, dtype=cplx, device=amplitude.device)
    if float(norm) == 0.0:
        return obj
    for _ in range(iterations):
        psi, psi_new = _corrected_exit_waves(obj, P, amp, cplx)
        obj = obj + (P.conj() * (psi_new - psi)).sum(-3) / norm
    return obj


def _corrected_exit_waves(obj: torch.Tensor, P: torch.Tensor, amp: torch.Tensor,
                          cplx: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(psi, psi') (..., K, N, N): exit waves P_k O and the same with the measured amplitude ``amp`` (..., 1, N, N)."""
    psi = P * obj[..., None, :, :]
    spectrum = _ft(psi)
    total = torch.sqrt((spectrum.abs() ** 2).sum(-3, keepdim=True))
    positive = total > 0
    ratio = amp / torch.where(positive, total, torch.ones_like(total))
    corrected = torch.where(positive, spectrum * ratio, (amp / math.sqrt(P.shape[0])).to(cplx))
    return psi, _ift(corrected)


def group_projections(amplitude: torch.Tensor, probe: torch.Tensor, coords_relative: torch.Tensor, iterations: int,
                      M: int | None = None) -> torch.Tensor:
    """Each group's member estimates after ``iterations`` joint modulus projections on one canvas from O = 1.

    Args:
        amplitude: (B, C, N, N) real measured amplitudes, channels first (exit-wave units of ``probe``).
        probe: (N, N) complex probe or (K, N, N) incoherent modes.
        coords_relative: (B, 1, 2, C) ``[x; y]`` = group centre - member position.
        iterations: passes, >= 0. M: canvas side (default ``canvas_size`` of the offsets).

    Returns:
        (B, C, N, N) complex: member c's patch of its group's canvas.
    """
    func = "group_projections"
    if amplitude.dim() != 4 or amplitude.shape[-1] != amplitude.shape[-2] or 0 in amplitude.shape:
        raise ValueError(f"{func}: amplitude: expected shape (B, C, N, N), found shape {tuple(amplitude.shape)}")
    checks.check_positive_int(iterations, "iterations", func, minimum=0)
    b, c, n, _ = amplitude.shape
    checks.coords_channels(tuple(coords_relative.shape), func, b, c)
    P = probe[None] if probe.dim() == 2 else probe
    if P.dim() != 3 or tuple(P.shape[1:]) != (n, n):
        raise ValueError(f"{func}: probe: expected shape ({n}, {n}) or (K, {n}, {n}), found shape {tuple(probe.shape)}")
    real = torch.float64 if amplitude.dtype == torch.float64 else torch.float32
    cplx = torch.complex128 if real == torch.float64 else torch.complex64
    amp = amplitude.to(real)[:, :, None]  # (B, C, 1, N, N)
    P = P.to(device=amplitude.device, dtype=cplx)
    rel = coords_relative.to(device=amplitude.device, dtype=real)
    m = canvas_size(n, math.isqrt(c), rel) if M is None else int(M)
    weight = (P.abs() ** 2).sum(0)  # (N, N)
    damping = GROUP_DAMPING * float(weight.max())
    canvas = torch.ones((b, m, m), dtype=cplx, device=amplitude.device)
    if damping == 0.0 or iterations == 0:
        return extract_from_canvas_cf(canvas, rel, n)
    den = reassemble_groups_cf((weight + damping).expand(b, c, n, n).to(real), rel, m)
    dark = den <= 0
    safe_den = torch.where(dark, torch.ones_like(den), den)
    for _ in range(iterations):
        obj = extract_from_canvas_cf(canvas, rel, n)  # (B, C, N, N)
        _, psi_new = _corrected_exit_waves(obj, P, amp, cplx)
        num = (P.conj() * psi_new).sum(-3) + damping * obj
        canvas = torch.where(dark, canvas, reassemble_groups_cf(num, rel, m) / safe_den)
    return extract_from_canvas_cf(canvas, rel, n)
