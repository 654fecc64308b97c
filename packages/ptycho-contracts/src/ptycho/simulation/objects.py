"""Synthetic complex test objects (specs/simulation.md §1).

Every object is built from two real texture maps u_a, u_p in [0, 1]:

    amplitude = 0.5 + 0.5 * u_a        (in [0.5, 1.0]: a semi-transparent specimen)
    phase     = (pi / 2) * (2 * u_p - 1)   (in [-pi/2, pi/2] rad)

so that amplitude and phase are both non-trivial and a reconstruction of either can be scored.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, zoom
from skimage.draw import line as draw_line

__all__ = ["make_object", "OBJECT_KINDS"]

OBJECT_KINDS = ("lines", "grf", "siemens", "natural")

# Lines density: 400 segments on a (2 * 392)^2 canvas.
_LINES_PER_PIXEL = 400 / (2 * 392) ** 2
# Power-law exponent of the Gaussian random field spectrum P(k) = k^-0.4.
_GRF_EXPONENT = 0.4
_SIEMENS_SPOKES = 36
_SIEMENS_RADIUS = 0.45  # fraction of the object side


def _unit_range(img: np.ndarray) -> np.ndarray:
    """Min-max rescale to [0, 1] (a constant image maps to zeros)."""
    lo, hi = float(img.min()), float(img.max())
    if hi - lo <= 0:
        return np.zeros_like(img)
    return (img - lo) / (hi - lo)


def _lines_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """Random line segments blurred at three scales, centre crop (facts §8.2 'lines')."""
    big = 2 * size
    n_lines = max(1, round(_LINES_PER_PIXEL * big * big))
    canvas = np.zeros((big, big), dtype=np.float64)
    ends = rng.integers(0, big, size=(n_lines, 4))
    for r0, c0, r1, c1 in ends:
        rr, cc = draw_line(int(r0), int(c0), int(r1), int(c1))
        canvas[rr, cc] = 1.0
    img = gaussian_filter(canvas, 1) + 2 * gaussian_filter(canvas, 5) + 5 * gaussian_filter(canvas, 10)
    lo = (big - size) // 2
    return _unit_range(img[lo : lo + size, lo : lo + size])


def _grf_texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian random field with power spectrum k^-0.4 on a half-resolution grid, upsampled x2
    (bilinear) and blurred with sigma 1 px (facts §8.2 'grf')."""
    half = max(2, (size + 1) // 2)
    noise = rng.standard_normal((half, half))
    ky = np.fft.fftfreq(half)[:, None]
    kx = np.fft.fftfreq(half)[None, :]
    k = np.sqrt(kx**2 + ky**2)
    k[0, 0] = 1.0
    filt = k ** (-_GRF_EXPONENT / 2.0)
    filt[0, 0] = 0.0
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * filt))
    up = zoom(_unit_range(field), size / half, order=1)[:size, :size]
    return _unit_range(gaussian_filter(up, 1.0))


def _siemens_texture(size: int, oversample: int = 1) -> np.ndarray:
    """Siemens star: 36 spokes (18 opaque, 18 clear) inside a disk of radius 0.45*size, 1 on the
    spokes and 0 elsewhere, anti-aliased with a Gaussian blur of sigma 0.5 px. Deterministic.

    ``oversample`` S > 1 samples the same star every 1/S object pixel ((size S, size S), fine pixel S i at
    object pixel i; the blur is 0.5 fine px), for the neutral simulation (specs/simulation.md §6)."""
    centre = (size - 1) / 2.0
    coords = np.arange(size * oversample) / oversample - centre
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    theta = np.arctan2(yy, xx)
    radius = np.hypot(yy, xx)
    star = (np.sin(_SIEMENS_SPOKES / 2 * theta) > 0) & (radius < _SIEMENS_RADIUS * size)
    return np.clip(gaussian_filter(star.astype(np.float64), 0.5), 0.0, 1.0)


def textures_to_object(u_a: np.ndarray, u_p: np.ndarray) -> np.ndarray:
    """Amplitude ``0.5 + 0.5 u_a`` and phase ``(pi / 2)(2 u_p - 1)`` of textures in [0, 1] -> complex128."""
    return (0.5 + 0.5 * u_a) * np.exp(1j * (np.pi / 2.0) * (2.0 * u_p - 1.0))


def _natural_texture(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop (side 256-512 px) of one of scikit-image's bundled photographs, resized
    (anti-aliased) to size x size and rescaled to [0, 1]."""
    from skimage import data
    from skimage.transform import resize

    img = getattr(data, name)().astype(np.float64)
    side = int(rng.integers(256, min(img.shape) + 1))
    r0 = int(rng.integers(0, img.shape[0] - side + 1))
    c0 = int(rng.integers(0, img.shape[1] - side + 1))
    crop = img[r0 : r0 + side, c0 : c0 + side]
    return _unit_range(resize(crop, (size, size), anti_aliasing=True, order=1))


def make_object(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic complex object (size, size) complex64 (specs/simulation.md §1).

    Args:
        kind: 'lines' (random blurred line segments), 'grf' (Gaussian random field) or
            'siemens' (Siemens star resolution target), 'natural' (photographs: amplitude from
            scikit-image's 'camera', phase from its 'gravel' texture, random crops).
        size: object side in pixels (>= 8).
        rng: numpy Generator; 'lines' and 'grf' draw the amplitude texture, then an independent
            phase texture, from it. 'siemens' is deterministic (rng unused): amplitude
            ``1 - 0.5 * star`` (spokes absorb half) and phase ``+pi/2`` on spokes, ``-pi/2`` between.

    Returns:
        complex64 array with amplitude in [0.5, 1.0] and phase in [-pi/2, pi/2] rad.
    """
    func = "make_object"
    if kind not in OBJECT_KINDS:
        raise ValueError(f"{func}: kind: expected one of {OBJECT_KINDS}, found {kind!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
        raise ValueError(f"{func}: size: expected an integer >= 8, found {size!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{func}: rng: expected a numpy.random.Generator, found {type(rng).__name__}")
    size = int(size)
    if kind == "lines":
        u_a = _lines_texture(size, rng)
        u_p = _lines_texture(size, rng)
    elif kind == "grf":
        u_a = _grf_texture(size, rng)
        u_p = _grf_texture(size, rng)
    elif kind == "natural":
        u_a = _natural_texture("camera", size, rng)
        u_p = _natural_texture("gravel", size, rng)
    else:
        star = _siemens_texture(size)
        u_a = 1.0 - star
        u_p = star
    return textures_to_object(u_a, u_p).astype(np.complex64)
