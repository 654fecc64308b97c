"""Probe construction, normalisation and illumination (specs/physics.md §7).

The probe is an (N, N) complex array on the object pixel grid; illuminating a patch multiplies it
pixel by pixel with the probe (exit wave = probe x object).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from . import checks
from ._validation import as_array, check_ndim, check_positive_float, check_positive_int, check_square

__all__ = ["probe_mask", "default_probe", "normalize_probe", "illuminate", "illuminate_channels"]


def probe_mask(N: int) -> np.ndarray:
    """Disk mask (N, N) float32: 1 where the distance from (N/2 - 0.5, N/2 - 0.5) is < N//4, else 0.

    The centre (N/2 - 0.5, N/2 - 0.5) is the geometric centre of the pixel grid (row, col); the
    radius N//4 is in pixels (16 for N=64). float32 so that multiplying keeps complex64 complex64.
    """
    n = check_positive_int(N, "N", "probe_mask")
    centre = n / 2 - 0.5
    yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    dist = np.sqrt((yy - centre) ** 2 + (xx - centre) ** 2)
    return (dist < n // 4).astype(np.float32)


def default_probe(N: int, default_probe_scale: float = 0.7) -> np.ndarray:
    """Default real-valued disk probe (N, N) complex64 (specs/physics.md §7.2).

    Recipe: a symmetric 1-D Gaussian window ``w[n] = exp(-((n - (N-1)/2) / sd)^2 / 2)`` with
    ``sd = N / (default_probe_scale * pi^2)`` (peak 1); its outer product thresholded at 0.5 gives a
    binary disk centred on ((N-1)/2, (N-1)/2); the disk is blurred with a Gaussian of sigma 1 pixel
    (scipy ``gaussian_filter``, reflect boundary) and 1e-9 is added. Imaginary part is zero.
    For N=64 and scale 0.7, 376 pixels are inside the disk (equivalent radius ~10.9 px).
    """
    func = "default_probe"
    n = check_positive_int(N, "N", func)
    scale = check_positive_float(default_probe_scale, "default_probe_scale", func)
    sd = n / (scale * np.pi**2)
    idx = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    window = np.exp(-0.5 * (idx / sd) ** 2)
    disk = (np.outer(window, window) > 0.5).astype(np.float64)
    probe = gaussian_filter(disk, sigma=1.0) + 1e-9
    return probe.astype(np.complex64)


def normalize_probe(probe: np.ndarray, probe_scale: float = 4.0) -> np.ndarray:
    """Return ``probe / (probe_scale * mean(|probe_mask(N) * probe|))`` (specs/physics.md §7.3).

    Args:
        probe: (N, N) float or complex probe, or (K, N, N) incoherent modes (specs/physics.md §12.1), all
            divided by the one factor of their summed intensity's modulus ``sqrt(sum_k |P_k|^2)``.
        probe_scale: positive float (4.0 by default).

    Returns:
        array of the input shape and dtype whose masked mean modulus (mean over all N*N pixels of
        ``|mask * probe|``, or of ``mask * sqrt(sum_k |P_k|^2)``) equals ``1 / probe_scale``. Idempotent.

    Raises:
        ValueError: if the probe is zero inside the mask (nothing to normalise).
    """
    func = "normalize_probe"
    arr = as_array(probe, "probe", func)
    check_ndim(arr, (2, 3), "probe", func, "(N, N) or (K, N, N)")
    n = check_square(arr, (-2, -1), "probe", func, "(N, N) or (K, N, N)")
    scale = check_positive_float(probe_scale, "probe_scale", func)
    wide = arr.astype(np.complex128)
    # K incoherent modes: one common factor from the modulus of the summed intensity sqrt(sum_k |P_k|^2)
    modulus = np.abs(wide) if arr.ndim == 2 else np.sqrt(np.sum(np.abs(wide) ** 2, axis=0))
    masked_mean = float(np.mean(probe_mask(n).astype(np.float64) * modulus))
    if masked_mean <= 0.0:
        raise ValueError(f"{func}: probe: expected non-zero values inside the disk r < N//4, found all zero")
    return (arr / (scale * masked_mean)).astype(arr.dtype, copy=False)


def _probe_2d(probe: object, n: int, func: str) -> np.ndarray:
    arr = as_array(probe, "probe", func)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != (n, n):
        raise ValueError(
            f"{func}: probe: expected shape ({n}, {n}) matching the patches, found shape {arr.shape}"
        )
    return arr


def _result(patches: np.ndarray, probe: np.ndarray, mask: bool, n: int) -> np.ndarray:
    if mask:
        probe = probe * probe_mask(n).astype(probe.real.dtype)
    return patches * probe


def illuminate(patches: np.ndarray, probe: np.ndarray, mask: bool = False) -> np.ndarray:
    """Exit waves ``patches * probe`` for patches (..., N, N) (specs/physics.md §7.4).

    Args:
        patches: (..., N, N) float or complex object patches (last two axes = rows, cols).
        probe: (N, N) (or (N, N, 1)) probe, broadcast over the leading axes.
        mask: also multiply by :func:`probe_mask` (N) (zero outside the disk r < N//4).

    Returns:
        (..., N, N) array, dtype = numpy's promotion of the two inputs (complex64 x complex64 ->
        complex64).
    """
    func = "illuminate"
    arr = as_array(patches, "patches", func)
    n = checks.image_side(arr.shape, "patches", func)
    return _result(arr, _probe_2d(probe, n, func), bool(mask), n)


def illuminate_channels(patches: np.ndarray, probe: np.ndarray, mask: bool = False) -> np.ndarray:
    """Exit waves for channel-last groups (B, N, N, C): the same probe multiplies every channel.

    Args:
        patches: (B, N, N, C) float or complex.
        probe: (N, N) (or (N, N, 1)), broadcast on axes 1, 2.
        mask: also multiply by :func:`probe_mask` (N).

    Returns:
        (B, N, N, C) array (numpy dtype promotion of the inputs).
    """
    func = "illuminate_channels"
    arr = as_array(patches, "patches", func)
    n = checks.channel_patch_side(arr.shape, "patches", func)
    probe2 = _probe_2d(probe, n, func)
    if mask:
        probe2 = probe2 * probe_mask(n).astype(probe2.real.dtype)
    return arr * probe2[None, :, :, None]
