"""Far-field diffraction and the composite forward model (specs/physics.md §8, §12).

The detector sees the far field of the exit wave: A = |fftshift(fft2(psi, norm='ortho'))|, with the
zero frequency at index (N//2, N//2). The orthonormal FFT conserves energy (Parseval):
sum A^2 = sum |psi|^2, so amplitudes are in the same units as the exit wave.

A probe of K incoherent modes (K, N, N) (specs/physics.md §12.1) gives K exit waves psi_k = P_k O whose
intensities add: A = sqrt(sum_k |F[psi_k]|^2) (:func:`incoherent_amplitude`).
"""

from __future__ import annotations

import numpy as np

from . import checks
from ._validation import (
    as_array,
    check_positive_float,
    check_positive_int,
    real_dtype_for,
)
from .patches import canvas_size, extract_from_canvas, reassemble_groups
from .probe import illuminate_channels

__all__ = ["far_field_amplitude", "incoherent_amplitude", "forward_model", "probe_modes"]


def far_field_amplitude(field: np.ndarray) -> np.ndarray:
    """Far-field amplitude over the last two axes (specs/physics.md §8).

    Args:
        field: (..., N, N) complex or real exit waves (rows, cols last).

    Returns:
        (..., N, N) real array ``|fftshift(fft2(field, norm='ortho'), axes=(-2, -1))|``: float32
        for complex64/float32 input, float64 otherwise (the FFT itself runs in double precision).
        DC sits at index (N//2, N//2); ``sum A^2 == sum |field|^2`` per pattern.
    """
    func = "far_field_amplitude"
    arr = as_array(field, "field", func)
    checks.image_side(arr.shape, "field", func, square=False)
    spectrum = np.fft.fft2(arr.astype(np.complex128), axes=(-2, -1), norm="ortho")
    amplitude = np.abs(np.fft.fftshift(spectrum, axes=(-2, -1)))
    return amplitude.astype(real_dtype_for(arr))


def incoherent_amplitude(exit_waves: np.ndarray, mode_axis: int = -3) -> np.ndarray:
    """Far-field amplitude of K mutually incoherent exit waves: ``sqrt(sum_k |F[psi_k]|^2)`` (specs/physics.md §12.1).

    Args:
        exit_waves: (..., K, N, N) complex exit waves, one per probe mode on ``mode_axis`` (default -3).
        mode_axis: the axis of the modes (not one of the last two).

    Returns:
        The array without the mode axis, (..., N, N) real (float32 for complex64 input, float64 otherwise;
        summed in double precision). With K = 1 it equals :func:`far_field_amplitude` of the one wave.
    """
    func = "incoherent_amplitude"
    arr = as_array(exit_waves, "exit_waves", func)
    axis = checks.mode_axis(arr.shape, mode_axis, func)
    spectrum = np.fft.fft2(arr.astype(np.complex128), axes=(-2, -1), norm="ortho")
    intensity = np.sum(spectrum.real**2 + spectrum.imag**2, axis=axis)
    return np.fft.fftshift(np.sqrt(intensity), axes=(-2, -1)).astype(real_dtype_for(arr))


def probe_modes(probe: object, n: int, func: str) -> np.ndarray | None:
    """The (K, N, N) modes of a multi-mode probe, or None for a single (N, N) / (N, N, 1) probe."""
    arr = as_array(probe, "probe", func)
    return arr if checks.is_mode_stack(arr.shape, n, func) else None


def forward_model(
    object_patches: np.ndarray,
    probe: np.ndarray,
    coords_relative: np.ndarray,
    intensity_scale: float,
    *,
    object_big: bool = True,
    probe_mask: bool = False,
    M: int | None = None,
) -> np.ndarray:
    """Predicted diffraction amplitudes in measurement units, (B, N, N, C) (specs/physics.md §12).

    ``s * far_field_amplitude(illuminate(extract_from_canvas(canvas, coords_relative, N), probe))``

    Args:
        object_patches: (B, N, N, C) complex patches when ``object_big`` (each group merged with
            :func:`reassemble_groups`), or (B, N, N, 1) when not (the single patch is zero-padded
            centred to the canvas).
        probe: (N, N) complex probe (same for every channel), or (K, N, N) incoherent modes: the
            amplitude is then ``s * sqrt(sum_k |F[P_k O]|^2)`` (:func:`incoherent_amplitude`, §12.1).
        coords_relative: (B, 1, 2, C) float, sign -1 relative offsets [x; y] (object pixels).
        intensity_scale: s > 0; predicted counts are the square of the result.
        object_big: merge the C patches before re-extraction (True) or use one patch per group.
        probe_mask: also multiply the exit wave by the disk mask r < N//4.
        M: canvas side; default :func:`canvas_size` (N, sqrt(C), coords_relative).

    Returns:
        (B, N, N, C) real amplitudes (float32 for complex64 patches, float64 for complex128).
    """
    func = "forward_model"
    obj = as_array(object_patches, "object_patches", func)
    n = checks.channel_patch_side(obj.shape, "object_patches", func)
    batch = obj.shape[0]
    rel = as_array(coords_relative, "coords_relative", func, allow_complex=False)
    gs = checks.patch_gridsize(obj.shape, checks.coords_channels(rel.shape, func, batch), object_big, func)
    scale = check_positive_float(intensity_scale, "intensity_scale", func)
    m = checks.check_canvas_side(canvas_size(n, gs, rel) if M is None else check_positive_int(M, "M", func), n, func)
    if object_big:
        canvas = reassemble_groups(obj, rel, m)
    else:
        before = (m - n) // 2
        canvas = np.pad(obj[..., 0], ((0, 0), (before, m - n - before), (before, m - n - before)))
    patches = extract_from_canvas(canvas, rel, n)
    modes = probe_modes(probe, n, func)
    if modes is not None:
        waves = np.stack([illuminate_channels(patches, p, mask=probe_mask) for p in modes])  # (K, B, N, N, C)
        amplitude = incoherent_amplitude(np.moveaxis(waves, (0, -1), (2, 1)), mode_axis=2)  # (B, C, N, N)
        return np.moveaxis(amplitude * amplitude.dtype.type(scale), 1, -1)
    exit_wave = illuminate_channels(patches, probe, mask=probe_mask)
    amplitude = far_field_amplitude(np.moveaxis(exit_wave, -1, 1))
    return np.moveaxis(amplitude * amplitude.dtype.type(scale), 1, -1)
