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
"""

from __future__ import annotations

import numpy as np

from ._validation import as_array
from .diffraction import probe_modes

__all__ = ["modulus_projections"]


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
    func = "modulus_projections"
    amp = np.asarray(as_array(amplitude, "amplitude", func), dtype=np.float64)
    n = amp.shape[-1] if amp.ndim >= 2 else 0
    if amp.ndim < 2 or amp.shape[-2] != n or n == 0:
        raise ValueError(f"{func}: amplitude: expected shape (..., N, N), found shape {amp.shape}")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"{func}: iterations: expected an integer >= 0, found {iterations!r}")
    modes = probe_modes(probe, n, func)
    if modes is None:
        single = np.asarray(as_array(probe, "probe", func))
        single = single[..., 0] if single.ndim == 3 else single
        if single.shape != (n, n):
            raise ValueError(f"{func}: probe: expected shape ({n}, {n}) or (K, {n}, {n}), found shape {single.shape}")
        modes = single[None]
    P = np.asarray(modes, dtype=np.complex128)  # (K, N, N)
    K = P.shape[0]
    norm = float(np.max(np.sum(np.abs(P) ** 2, axis=0)))
    obj = np.ones(amp.shape, dtype=np.complex128)
    if norm == 0.0:
        return obj
    axes = (-2, -1)
    for _ in range(int(iterations)):
        psi = P * obj[..., None, :, :]  # (..., K, N, N)
        spectrum = np.fft.fftshift(np.fft.fft2(psi, axes=axes, norm="ortho"), axes=axes)
        total = np.sqrt(np.sum(np.abs(spectrum) ** 2, axis=-3, keepdims=True))
        safe = np.where(total > 0, total, 1.0)
        corrected = np.where(total > 0, spectrum * (amp[..., None, :, :] / safe), amp[..., None, :, :] / np.sqrt(K))
        psi_new = np.fft.ifft2(np.fft.ifftshift(corrected, axes=axes), axes=axes, norm="ortho")
        obj = obj + np.sum(np.conj(P) * (psi_new - psi), axis=-3) / norm
    return obj
