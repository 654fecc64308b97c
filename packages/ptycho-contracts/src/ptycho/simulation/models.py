"""Measurement models of a simulated scan: how a sub-pixel scan position becomes a diffraction pattern
(specs/simulation.md §6).

A scan position is rarely a whole number of object pixels, and every reconstruction code has its own
model of a sub-pixel shift. A simulator that uses one of those models hands that code a scan it
explains exactly, and the comparison between codes measures the simulator, not the codes. The models:

* ``finegrid`` (neutral; ``ptycho simulate``'s default): the object is made on an ``oversample``-times
  finer grid (sharp features stay sharp there), the probe is the band-limited interpolation of the
  stored (N, N) probe, every position is a whole number of *fine* pixels (1/S object pixel), the exit
  wave is formed on the fine grid and the detector keeps the central N x N band of its far field.
  The ground truth is the fine object's central band, sampled on the object grid. No reconstruction
  model is exact for it: an N x N model sees the aliased product of two band-limited fields, the
  detector the truncated one.
* ``fourier`` (object shift): the object window is moved by the fractional part with a Fourier ramp
  (``extract_patches(..., 'fourier')``); the model of ``RefineOptions(subpixel='object')``.
* ``probe`` (probe shift): the integer object window times the probe moved by the fractional part
  with a Fourier ramp; the model of ``RefineOptions(subpixel='probe')`` and of pty-chi.
* ``bilinear``: bilinearly interpolated object patches (the training chain's interpolation); no object
  explains such data exactly (each position blurs by its own fractional part).

Array conventions: positions (M, 2) rows [x, y] in object pixels; (M, N, N) patches; complex128 /
float64 internally.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates

from ptycho.physics import extract_patches, far_field_amplitude

from .objects import _siemens_texture, textures_to_object

__all__ = [
    "MEASUREMENT_MODELS",
    "DEFAULT_OVERSAMPLE",
    "band_limit",
    "upsample_probe",
    "fine_object",
    "finegrid_amplitudes",
    "probe_shift_amplitudes",
    "quantise_positions",
]

MEASUREMENT_MODELS = ("finegrid", "fourier", "probe", "bilinear")
#: Fine grid of the neutral model: 4 fine pixels per object pixel (specs/simulation.md §6).
DEFAULT_OVERSAMPLE = 4
# patterns propagated at once on the fine grid (bounds memory: 64 x (4N)^2 complex128 = 64 MB at N = 64)
_CHUNK = 64


def quantise_positions(positions: np.ndarray, oversample: int) -> np.ndarray:
    """Positions rounded to whole fine pixels, (M, 2) float64 object pixels (multiples of 1/oversample)."""
    return np.round(np.asarray(positions, dtype=np.float64) * oversample) / oversample


def upsample_probe(probe: np.ndarray, oversample: int) -> np.ndarray:
    """Band-limited (periodic sinc) interpolation of an (N, N) probe onto the (N S, N S) fine grid.

    Fine pixel ``S i`` equals the probe's pixel ``i`` exactly (the probe's spectrum is zero-padded), so
    the (N, N) probe stored in the scan is the fine probe sampled on the object grid.
    """
    p = np.asarray(probe, dtype=np.complex128)
    n, s = p.shape[0], int(oversample)
    spec = np.fft.fftshift(np.fft.fft2(p))
    pad = (n * s - n) // 2
    big = np.pad(spec, pad) if s > 1 else spec
    return np.fft.ifft2(np.fft.ifftshift(big)) * s * s


def band_limit(fine: np.ndarray, oversample: int) -> np.ndarray:
    """The central band of a fine (H S, W S) image sampled on the coarse (H, W) grid (coarse pixel i = fine S i).

    The image is mirrored at its edges first so that its borders do not ring (an object is not periodic).
    """
    f = np.asarray(fine, dtype=np.complex128)
    s = int(oversample)
    if s == 1:
        return f.copy()
    h, w = f.shape[0] // s, f.shape[1] // s
    # mirror to twice the size: a smooth periodic extension (no edge step for the FFT to ring on)
    ext = np.concatenate([f, f[::-1]], axis=0)
    ext = np.concatenate([ext, ext[:, ::-1]], axis=1)
    spec = np.fft.fftshift(np.fft.fft2(ext))
    hh, ww = 2 * h, 2 * w
    r0, c0 = (ext.shape[0] - hh) // 2, (ext.shape[1] - ww) // 2
    small = np.fft.ifft2(np.fft.ifftshift(spec[r0:r0 + hh, c0:c0 + ww])) / (s * s)
    return small[:h, :w]


def fine_object(coarse: np.ndarray, kind: str, oversample: int) -> np.ndarray:
    """The object on the fine grid, (size S, size S) complex128.

    'siemens' is drawn again at the fine resolution (edges sharp to 1/S px: content beyond the detector's
    band). Every other kind interpolates the coarse object's amplitude and phase bilinearly (the same random
    draws; piecewise-linear, so it too has content beyond the band).
    """
    s = int(oversample)
    size = coarse.shape[0]
    if kind == "siemens":
        star = _siemens_texture(size, s)
        return textures_to_object(1.0 - star, star)
    grid = np.arange(size * s) / s
    rr, cc = np.meshgrid(grid, grid, indexing="ij")
    amp = map_coordinates(np.abs(coarse).astype(np.float64), [rr, cc], order=1, mode="nearest")
    phase = map_coordinates(np.angle(coarse).astype(np.float64), [rr, cc], order=1, mode="nearest")
    return amp * np.exp(1j * phase)


def finegrid_amplitudes(obj_fine: np.ndarray, probe: np.ndarray, positions: np.ndarray, N: int,
                        oversample: int) -> np.ndarray:
    """Noise-free far-field amplitudes (M, N, N) float64 of the neutral model, in the units of an (N, N) model.

    For each position (whole fine pixels) the (N S)^2 fine window of ``obj_fine`` whose centre index
    (N S / 2) sits on the position times the fine probe, its far field (ortho FFT, centred), the central
    N x N band, divided by S (so that a band-limited exit wave gives exactly ``far_field_amplitude`` of its
    (N, N) samples).
    """
    s, n = int(oversample), int(N)
    big = n * s
    probe_f = upsample_probe(probe, s)
    pos_f = np.round(np.asarray(positions, dtype=np.float64) * s).astype(np.int64)
    lo = (big - n) // 2
    out = np.empty((pos_f.shape[0], n, n), dtype=np.float64)
    for start in range(0, pos_f.shape[0], _CHUNK):
        chunk = pos_f[start:start + _CHUNK]
        rows = chunk[:, 1, None] - big // 2 + np.arange(big)[None, :]
        cols = chunk[:, 0, None] - big // 2 + np.arange(big)[None, :]
        if rows.min() < 0 or cols.min() < 0 or rows.max() >= obj_fine.shape[0] or cols.max() >= obj_fine.shape[1]:
            raise ValueError("simulate: positions: expected every patch inside the object, found one outside")
        windows = obj_fine[rows[:, :, None], cols[:, None, :]]
        far = np.fft.fftshift(np.fft.fft2(windows * probe_f[None], norm="ortho"), axes=(-2, -1))
        out[start:start + chunk.shape[0]] = np.abs(far[:, lo:lo + n, lo:lo + n]) / s
    return out


def probe_shift_amplitudes(obj: np.ndarray, probe: np.ndarray, positions: np.ndarray, N: int) -> np.ndarray:
    """Noise-free amplitudes (M, N, N) float64 of the probe-shift model.

    Integer window at ``round(position)`` (``extract_patches`` at whole pixels) times the probe moved by the
    fractional part ``f = position - round(position)`` with a Fourier ramp ``exp(-2 pi i (f_x k_x + f_y k_y))``.
    """
    pos = np.asarray(positions, dtype=np.float64)
    base = np.round(pos)
    frac = pos - base
    windows = extract_patches(np.asarray(obj), base, int(N), "bilinear").astype(np.complex128)
    k = np.fft.fftfreq(int(N))
    spec = np.fft.fft2(np.asarray(probe, dtype=np.complex128))
    ramp = np.exp(-2j * np.pi * (frac[:, 0, None, None] * k[None, None, :] + frac[:, 1, None, None] * k[None, :, None]))
    probes = np.fft.ifft2(spec[None] * ramp)
    return far_field_amplitude(probes * windows)
