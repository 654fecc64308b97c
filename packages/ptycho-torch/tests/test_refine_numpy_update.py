"""One refinement iteration against a numpy implementation of the same update (specs/refinement.md §3, §5).

The numpy reference below is written from the spec's equations alone: windows by slicing, the sub-pixel
shift by a numpy Fourier ramp (of the (N + 2m) object window, or of the probe) with its adjoint written out, the Gaussian-amplitude gradient written out by hand
(``4 s^2 (A - d) Psi / A`` pulled back through the unitary FFT), the illumination preconditioners, and
the step length found by scipy's bounded scalar minimiser (not Newton) on the run's likelihood. One
batch holding every pattern makes the pattern order irrelevant.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from ptycho_torch.refine import RefineOptions, object_canvas_geometry, refine

N = 16


def _scan(seed=0, k=9):
    rng = np.random.default_rng(seed)
    truth = (1 + 0.2 * rng.standard_normal((48, 48))) * np.exp(0.5j * rng.standard_normal((48, 48)))
    yy, xx = np.mgrid[0:N, 0:N] - N / 2
    probe = np.exp(-(xx ** 2 + yy ** 2) / 18.0) * np.exp(0.02j * (xx ** 2 + yy ** 2))
    grid = np.array([(x, y) for y in (16, 24, 32) for x in (16, 24, 32)], float)[:k]
    pos = grid + rng.uniform(-0.4, 0.4, grid.shape)
    amp = []
    for x, y in pos:
        w = _window(truth, (0, 0), np.round([x, y]).astype(int))
        amp.append(np.abs(_ff(_shift(probe, [x - np.round(x), y - np.round(y)]) * w)))
    d = np.array(amp) * rng.uniform(0.8, 1.2, (k, N, N))
    return d, pos, probe, truth


def _window(canvas, origin, base):
    top = base[1] - origin[1] - N // 2
    left = base[0] - origin[0] - N // 2
    return canvas[top:top + N, left:left + N]


def _ff(x):
    return np.fft.fftshift(np.fft.fft2(x, norm="ortho"))


def _iff(x):
    return np.fft.ifft2(np.fft.ifftshift(x), norm="ortho")


def _ramp(f):
    k = np.fft.fftfreq(N)
    return np.exp(-2j * np.pi * (f[0] * k[None, :] + f[1] * k[:, None]))


def _shift(p, f):
    return np.fft.ifft2(np.fft.fft2(p) * _ramp(f))


def _unshift(p, f):
    return np.fft.ifft2(np.fft.fft2(p) * np.conj(_ramp(f)))


def _nll(a, d, s, likelihood):
    if likelihood == "poisson":
        return float((s ** 2 * (a ** 2 - d ** 2 * np.log(np.maximum(a ** 2, 1e-12 / s ** 2)))).sum())
    return float((2 * s ** 2 * (a - d) ** 2).sum())


def _obj_ramp(f, side):
    k = np.fft.fftfreq(side)
    return np.exp(2j * np.pi * (f[0] * k[None, :] + f[1] * k[:, None]))


def _big(canvas, origin, b, m):
    top = b[1] - origin[1] - N // 2 - m
    left = b[0] - origin[0] - N // 2 - m
    return top, left


def _obj_window(canvas, origin, b, f, m):
    """Object mode: the (N + 2m) window moved by -f with a Fourier ramp, centre kept."""
    top, left = _big(canvas, origin, b, m)
    crop = canvas[top:top + N + 2 * m, left:left + N + 2 * m]
    return np.fft.ifft2(np.fft.fft2(crop) * _obj_ramp(f, N + 2 * m))[m:m + N, m:m + N]


def _obj_window_adjoint(g, f, m):
    """Adjoint of :func:`_obj_window` (without the scatter): pad, shift back."""
    big = np.zeros((N + 2 * m, N + 2 * m), complex)
    big[m:m + N, m:m + N] = g
    return np.fft.ifft2(np.fft.fft2(big) * np.conj(_obj_ramp(f, N + 2 * m)))


def numpy_iteration(d, pos, probe, s, likelihood, delta, refine_probe, subpixel, m):
    margin = 4 + (m if subpixel == "object" else 0)
    origin, shape = object_canvas_geometry(pos, N, margin)
    obj = np.ones(shape, complex)
    base = np.round(pos).astype(int)
    frac = pos - base

    def probes_of(p):
        return np.array([_shift(p, f) if subpixel == "probe" else p for f in frac])

    def windows_of(o):
        if subpixel == "probe":
            return np.array([_window(o, origin, b) for b in base])
        return np.array([_obj_window(o, origin, b, f, m) for b, f in zip(base, frac, strict=True)])

    probes = probes_of(probe)
    spectra = np.array([_ff(p * w) for p, w in zip(probes, windows_of(obj), strict=True)])
    obj *= np.sqrt((d ** 2).sum() / (np.abs(spectra) ** 2).sum())  # intensity match of the start
    wins = windows_of(obj)
    spectra = np.array([_ff(p * w) for p, w in zip(probes, wins, strict=True)])
    a = np.abs(spectra)
    # gradient of the Gaussian-amplitude NLL w.r.t. the exit wave, as dL/da + i dL/db
    chi = np.array([_iff(4 * s ** 2 * (ak - dk) * sk / ak) for ak, dk, sk in zip(a, d, spectra, strict=True)])
    g_obj = np.zeros(shape, complex)
    illum = np.zeros(shape)
    for p, c, b, f in zip(probes, chi, base, frac, strict=True):
        top, left = b[1] - origin[1] - N // 2, b[0] - origin[0] - N // 2
        illum[top:top + N, left:left + N] += np.abs(p) ** 2
        if subpixel == "probe":
            g_obj[top:top + N, left:left + N] += np.conj(p) * c
        else:
            bt, bl = _big(obj, origin, b, m)
            g_obj[bt:bt + N + 2 * m, bl:bl + N + 2 * m] += _obj_window_adjoint(np.conj(p) * c, f, m)
    d_obj = -g_obj / (4 * s ** 2 * (illum + delta * illum.max()))
    d_wins = windows_of(d_obj)
    d1 = np.array([_ff(p * dw) for p, dw in zip(probes, d_wins, strict=True)])
    d2 = np.zeros_like(d1)
    d_probe = np.zeros_like(probe)
    if refine_probe:
        if subpixel == "probe":
            g_probe = sum(_unshift(np.conj(w) * c, f) for w, c, f in zip(wins, chi, frac, strict=True))
        else:
            g_probe = sum(np.conj(w) * c for w, c in zip(wins, chi, strict=True))
        w2 = (np.abs(wins) ** 2).sum(0)
        d_probe = -g_probe / (4 * s ** 2 * (w2 + delta * w2.max()))
        d_probes = probes_of(d_probe)
        d1 = d1 + np.array([_ff(dp * w) for dp, w in zip(d_probes, wins, strict=True)])
        d2 = np.array([_ff(dp * dw) for dp, dw in zip(d_probes, d_wins, strict=True)])
    best = minimize_scalar(lambda t: _nll(np.abs(spectra + t * d1 + t * t * d2), d, s, likelihood),
                           bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-10})
    return obj + best.x * d_obj, probe + best.x * d_probe, origin


@pytest.mark.parametrize("subpixel", ["object", "probe"])
@pytest.mark.parametrize("likelihood,refine_probe", [("poisson", False), ("gaussian", False), ("poisson", True)])
def test_one_iteration_matches_numpy_reference(likelihood, refine_probe, subpixel):
    """specs/refinement.md §1, §3, §5: flat start, intensity match, one preconditioned update with its step
    (a mini-batch step: ``conjugate=False``, since a batch holding the whole scan otherwise takes the
    conjugate-gradient step of §5)."""
    d, pos, probe, _ = _scan()
    s = 2.5
    ref_obj, ref_probe, origin = numpy_iteration(d, pos, probe, s, likelihood, 0.05, refine_probe, subpixel, 4)
    opts = RefineOptions(iterations=1, batch_size=len(d), likelihood=likelihood, delta=0.05, dtype="float64",
                         conjugate=False,
                         refine_probe=refine_probe, probe_start=0, newton_steps=12, subpixel=subpixel,
                         subpixel_margin=4)
    res = refine(d, pos, probe, scale=s, options=opts)
    assert res.origin_xy == origin
    np.testing.assert_allclose(res.object, ref_obj, atol=2e-5 * np.abs(ref_obj).max())
    np.testing.assert_allclose(res.probe, ref_probe, atol=2e-5 * np.abs(ref_probe).max())
    # the update really moved the object (the test would not pass for a no-op)
    assert np.abs(ref_obj - ref_obj.mean()).max() > 1e-2 * np.abs(ref_obj).max()
