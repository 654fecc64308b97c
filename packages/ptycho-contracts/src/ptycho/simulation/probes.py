"""Simulated probes with phase structure (specs/simulation.md §5).

A real beamline probe is never a real, centro-symmetric disk: it is the defocused image of a Fresnel
zone plate (an annular pupil with a quadratic phase) or a pinhole propagated some distance (Fresnel
fringes, curved phase). Phase structure matters for reconstruction: with a real symmetric probe one
diffraction pattern is explained equally by the object and its twin ``conj(O(-r))`` (specs/physics.md),
while a curved wavefront breaks that ambiguity.

All lengths are in object pixels; the returned probe is (N, N) complex64 centred at (N/2, N/2) and
not normalised (``simulate`` applies ``normalize_probe``).
"""

from __future__ import annotations

import numpy as np

from ptycho.physics import default_probe

__all__ = ["PROBE_KINDS", "make_probe", "fresnel_aperture_probe", "zone_plate_probe", "phase_screen_probe"]

PROBE_KINDS = ("disk", "fresnel", "zoneplate", "phasescreen")


def _check_n(N: object, func: str) -> int:
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 8:
        raise ValueError(f"{func}: N: expected an integer >= 8, found {N!r}")
    return int(N)


def _positive(value: object, name: str, func: str) -> float:
    v = float(value)  # type: ignore[arg-type]
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{func}: {name}: expected a finite positive number, found {value!r}")
    return v


def fresnel_aperture_probe(N: int, radius: float | None = None, lambda_z: float | None = None) -> np.ndarray:
    """A circular aperture propagated in the Fresnel regime: (N, N) complex64.

    The aperture (radius ``radius`` px, centred at (N/2, N/2)) is multiplied in the Fourier domain by
    the Fresnel transfer function ``exp(-i pi lambda_z (fx^2 + fy^2))`` (f in cycles per pixel,
    ``lambda_z`` = wavelength x distance in px^2). Defaults for N = 64: radius 9 px, lambda_z 80 px^2
    (Fresnel number ~1: a bright core with fringes and a curved phase); both scale with N.
    """
    func = "fresnel_aperture_probe"
    n = _check_n(N, func)
    a = _positive(radius if radius is not None else 9.0 * n / 64, "radius", func)
    lz = _positive(lambda_z if lambda_z is not None else 80.0 * (n / 64) ** 2, "lambda_z", func)
    yy, xx = np.mgrid[:n, :n] - n / 2 + 0.5
    aperture = (np.hypot(yy, xx) < a).astype(np.complex128)
    f = np.fft.fftfreq(n)
    fx, fy = np.meshgrid(f, f)
    transfer = np.exp(-1j * np.pi * lz * (fx**2 + fy**2))
    return np.fft.ifft2(np.fft.fft2(aperture) * transfer).astype(np.complex64)


def zone_plate_probe(N: int, outer: float | None = None, inner: float | None = None,
                     defocus: float | None = None) -> np.ndarray:
    """The defocused focus of a zone plate with a central stop: (N, N) complex64.

    Pupil (far field): the annulus ``inner <= k < outer`` (k = distance from the centre of the
    N x N frequency grid, in frequency pixels) times ``exp(i pi defocus (k/outer)^2)`` (``defocus``
    = phase at the pupil edge in units of pi rad); the probe is its centred inverse FFT. Defaults:
    outer = 20 N/64, inner = 0.4 outer (a 40 % central stop), defocus 4 (for N = 64 a ~20 px wide
    ring-shaped probe with a strongly curved phase, 94 % of its intensity within r < 16 px).
    """
    func = "zone_plate_probe"
    n = _check_n(N, func)
    ro = _positive(outer if outer is not None else 20.0 * n / 64, "outer", func)
    ri = float(inner) if inner is not None else 0.4 * ro
    if not np.isfinite(ri) or ri < 0 or ri >= ro:
        raise ValueError(f"{func}: inner: expected 0 <= inner < outer={ro}, found {inner!r}")
    dz = _positive(defocus if defocus is not None else 4.0, "defocus", func)
    k = np.hypot(*np.meshgrid(np.arange(n) - n / 2, np.arange(n) - n / 2))
    pupil = ((k < ro) & (k >= ri)) * np.exp(1j * np.pi * dz * (k / ro) ** 2)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(pupil))).astype(np.complex64)


def phase_screen_probe(N: int, radius: float | None = None, strength: float = 2.0, correlation: float | None = None,
                       lambda_z: float | None = None, seed: int = 0) -> np.ndarray:
    """An aperture behind a random phase screen, propagated a short distance: (N, N) complex64.

    The disk aperture (``radius`` px, default 10 N/64) carries a smooth random phase (white noise blurred
    with a Gaussian of ``correlation`` px, default 3 N/64, scaled to ``strength`` rad RMS; drawn from
    ``np.random.default_rng(seed)``, so a kind name gives one probe), then the Fresnel transfer function
    ``exp(-i pi lambda_z (fx^2 + fy^2))`` (default lambda_z 40 (N/64)^2 px^2) turns the phase into speckle-like
    amplitude structure: a probe with neither symmetry nor a smooth wavefront, like a beam through
    imperfect optics.
    """
    from scipy.ndimage import gaussian_filter

    func = "phase_screen_probe"
    n = _check_n(N, func)
    a = _positive(radius if radius is not None else 10.0 * n / 64, "radius", func)
    rms = _positive(strength, "strength", func)
    corr = _positive(correlation if correlation is not None else 3.0 * n / 64, "correlation", func)
    lz = _positive(lambda_z if lambda_z is not None else 40.0 * (n / 64) ** 2, "lambda_z", func)
    screen = gaussian_filter(np.random.default_rng(int(seed)).standard_normal((n, n)), corr, mode="wrap")
    screen *= rms / max(float(screen.std()), 1e-30)
    yy, xx = np.mgrid[:n, :n] - n / 2 + 0.5
    field = (np.hypot(yy, xx) < a) * np.exp(1j * screen)
    f = np.fft.fftfreq(n)
    fx, fy = np.meshgrid(f, f)
    return np.fft.ifft2(np.fft.fft2(field) * np.exp(-1j * np.pi * lz * (fx**2 + fy**2))).astype(np.complex64)


def make_probe(kind: str, N: int) -> np.ndarray:
    """Probe of a named kind with its default parameters: (N, N) complex64.

    'disk': the real blurred disk ``ptycho.physics.default_probe(N)``; 'fresnel':
    :func:`fresnel_aperture_probe`; 'zoneplate': :func:`zone_plate_probe`; 'phasescreen':
    :func:`phase_screen_probe` (seed 0).
    """
    if kind == "disk":
        return default_probe(_check_n(N, "make_probe"))
    if kind == "fresnel":
        return fresnel_aperture_probe(N)
    if kind == "zoneplate":
        return zone_plate_probe(N)
    if kind == "phasescreen":
        return phase_screen_probe(N)
    raise ValueError(f"make_probe: kind: expected one of {PROBE_KINDS}, found {kind!r}")
