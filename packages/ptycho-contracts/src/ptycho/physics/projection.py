"""Single-pattern modulus projections: a real-space object estimate from one diffraction pattern and a known
probe (specs/physics.md §13).

Starting from a flat object O = 1, each pass forms the exit waves psi_k = P_k O, replaces the far-field
amplitude of their incoherent sum by the measured one (keeping each mode's far-field phase), and moves O
towards the corrected exit waves with the step of ePIE (alpha = 1):

    Psi_k  = F[P_k O],        T = sqrt(sum_k |Psi_k|^2)
    Psi'_k = Psi_k * A / T    (A / sqrt(K) with zero phase where T = 0)
    O     <- O + sum_k conj(P_k) (F^-1[Psi'_k] - P_k O) / max_r sum_k |P_k(r)|^2

F is ``fftshift(fft2(., norm='ortho'))`` (the detector convention of :mod:`ptycho.physics.diffraction`), so
A is in exit-wave units. No neighbouring pattern is used: the estimate is what one pattern and the probe
determine, with the flat start as the only prior. Outside the probe O stays 1.

:func:`group_projections` does the same for the C patterns of one group (gridsize > 1) on one shared canvas, so the
overlaps of neighbouring patterns constrain the estimate (specs/physics.md §13.1): each pass corrects every
member's exit waves as above and puts the canvas at the least-squares fit of them (error reduction),

    canvas <- R[sum_k conj(P_k) psi'_k + d O_c] / R[sum_k |P_k|^2 + d],     O_c = E_c[canvas]

with R the merge of the members' patches onto the canvas (:func:`~ptycho.physics.reassemble_groups`), E_c the
extraction of member c (:func:`~ptycho.physics.extract_from_canvas`) and d = 1e-3 max_r sum_k |P_k|^2 (a weak
pull to the previous canvas where the probe is dark; the merge's overlap counts cancel in the ratio).
"""

from __future__ import annotations

import numpy as np

from . import checks
from ._validation import as_array
from .diffraction import probe_modes
from .patches import canvas_size, extract_from_canvas, reassemble_groups

__all__ = ["GROUP_DAMPING", "group_projections", "modulus_projections"]

#: d / max_r sum_k |P_k|^2 in :func:`group_projections`
GROUP_DAMPING = 1e-3
_AXES = (-2, -1)


def _checked(amplitude: object, probe: object, iterations: object, func: str) -> tuple[np.ndarray, np.ndarray]:
    """(amplitudes float64 (..., N, N), probe modes complex128 (K, N, N)); ValueError naming the argument."""
    amp = np.asarray(as_array(amplitude, "amplitude", func), dtype=np.float64)
    n = checks.image_side(amp.shape, "amplitude", func)
    checks.check_positive_int(iterations, "iterations", func, minimum=0)
    modes = probe_modes(probe, n, func)
    if modes is None:
        single = np.asarray(as_array(probe, "probe", func))
        single = single[..., 0] if single.ndim == 3 else single
        if single.shape != (n, n):
            raise ValueError(f"{func}: probe: expected shape ({n}, {n}) or (K, {n}, {n}), found shape {single.shape}")
        modes = single[None]
    return amp, np.asarray(modes, dtype=np.complex128)


def _corrected_exit_waves(obj: np.ndarray, P: np.ndarray, amp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(psi, psi') (..., K, N, N): the exit waves P_k O and the same with the measured far-field amplitude."""
    psi = P * obj[..., None, :, :]
    spectrum = np.fft.fftshift(np.fft.fft2(psi, axes=_AXES, norm="ortho"), axes=_AXES)
    total = np.sqrt(np.sum(np.abs(spectrum) ** 2, axis=-3, keepdims=True))
    safe = np.where(total > 0, total, 1.0)
    a = amp[..., None, :, :]
    corrected = np.where(total > 0, spectrum * (a / safe), a / np.sqrt(P.shape[0]))
    return psi, np.fft.ifft2(np.fft.ifftshift(corrected, axes=_AXES), axes=_AXES, norm="ortho")


def modulus_projections(amplitude: np.ndarray, probe: np.ndarray, iterations: int) -> np.ndarray:
    """Object estimate after ``iterations`` single-pattern modulus projections from a flat start.

    Args:
        amplitude: (..., N, N) real measured far-field amplitudes (exit-wave units: sum A^2 = sum |P O|^2).
        probe: (N, N) complex probe, or (K, N, N) incoherent modes.
        iterations: number of passes, >= 0 (0 returns the flat start).

    Returns:
        (..., N, N) complex128 object estimates, one per pattern.

    Raises:
        ValueError: naming the argument, with the expected and found shape or value.
    """
    amp, P = _checked(amplitude, probe, iterations, "modulus_projections")
    norm = float(np.max(np.sum(np.abs(P) ** 2, axis=0)))
    obj = np.ones(amp.shape, dtype=np.complex128)
    if norm == 0.0:
        return obj
    for _ in range(int(iterations)):
        psi, psi_new = _corrected_exit_waves(obj, P, amp)
        obj = obj + np.sum(np.conj(P) * (psi_new - psi), axis=-3) / norm
    return obj


def group_projections(amplitude: np.ndarray, probe: np.ndarray, coords_relative: np.ndarray, iterations: int,
                      M: int | None = None) -> np.ndarray:
    """Object estimates of each group's members after ``iterations`` joint modulus projections on one canvas.

    Args:
        amplitude: (B, N, N, C) real measured amplitudes of each group's C members (exit-wave units).
        probe: (N, N) complex probe, or (K, N, N) incoherent modes.
        coords_relative: (B, 1, 2, C) ``[x; y]`` = group centre - member position (specs/physics.md §4).
        iterations: passes, >= 0 (0 returns the flat start).
        M: canvas side (default :func:`~ptycho.physics.canvas_size` of the offsets).

    Returns:
        (B, N, N, C) complex128: member c's patch of the group's canvas. With C = 1 each pattern is estimated
        alone (a damped error-reduction step where :func:`modulus_projections` takes the ePIE step).
    """
    func = "group_projections"
    raw = np.asarray(as_array(amplitude, "amplitude", func))
    if raw.ndim != 4 or raw.shape[1] != raw.shape[2] or 0 in raw.shape:
        raise ValueError(f"{func}: amplitude: expected shape (B, N, N, C), found shape {raw.shape}")
    amp_cf, P = _checked(np.moveaxis(raw, -1, 1), probe, iterations, func)  # (B, C, N, N)
    b, c, n, _ = amp_cf.shape
    rel = np.asarray(as_array(coords_relative, "coords_relative", func, allow_complex=False), dtype=np.float64)
    checks.coords_channels(rel.shape, func, b, c)
    gridsize = int(round(np.sqrt(c)))
    m = canvas_size(n, gridsize, rel) if M is None else int(M)
    weight = np.sum(np.abs(P) ** 2, axis=0)  # (N, N)
    damping = GROUP_DAMPING * float(np.max(weight))
    canvas = np.ones((b, m, m), dtype=np.complex128)
    if damping == 0.0 or iterations == 0:
        return extract_from_canvas(canvas, rel, n)
    den = reassemble_groups(np.broadcast_to((weight + damping)[None, :, :, None], (b, n, n, c)), rel, m)
    dark = den <= 0
    for _ in range(int(iterations)):
        obj = np.moveaxis(extract_from_canvas(canvas, rel, n), -1, 1)  # (B, C, N, N)
        _, psi_new = _corrected_exit_waves(obj, P, amp_cf)
        num = np.sum(np.conj(P) * psi_new, axis=-3) + damping * obj
        merged = reassemble_groups(np.moveaxis(num, 1, -1), rel, m)
        canvas = np.where(dark, canvas, merged / np.where(dark, 1.0, den))
    return extract_from_canvas(canvas, rel, n)
