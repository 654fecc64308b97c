"""Refinement physics and gradients against independent references (specs/refinement.md §1-§2).

* the NLL of the whole-canvas model equals the numpy reference chain (``ptycho.physics.extract_patches``,
  ``far_field_amplitude``, ``poisson_nll``) at integer positions (§1, §2);
* the Fourier-shifted probe equals a numpy Fourier shift, and an integer shift is a roll (§1);
* every gradient (object, probe, positions; both likelihoods) matches central finite differences (§2).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ptycho.physics as R
from ptycho_torch.refine import operators as ops
from ptycho_torch.refine.solver import nll_and_gradients

PAD = 8  # canvas margin around the 20 x 20 scanned area: room for the object-mode windows (margin 4)


def _tiny(seed: int = 0, n: int = 8, k: int = 5, fractional: bool = True):
    rng = np.random.default_rng(seed)
    obj = (1 + 0.3 * rng.standard_normal((20, 20))) * np.exp(1j * rng.standard_normal((20, 20)))
    obj = np.pad(obj, PAD, constant_values=1.0)
    yy, xx = np.mgrid[0:n, 0:n] - n / 2
    probe = np.exp(-(xx ** 2 + yy ** 2) / 6.0) * np.exp(0.4j * xx) + 0.05
    pos = rng.uniform(6, 13, (k, 2)) + PAD
    if not fractional:
        pos = np.round(pos)
    d = np.abs(rng.normal(1.0, 0.5, (k, n, n)))
    return d, pos, probe.astype(np.complex128), obj.astype(np.complex128)


def test_nll_matches_numpy_reference_chain_at_integer_positions():
    """specs/refinement.md §1-§2: predicted counts (s |F(P W)|)^2 and the project's Poisson NLL."""
    d, pos, probe, obj = _tiny(fractional=False)
    s = 3.0
    nll, *_ = nll_and_gradients(d, pos, probe, obj, (0, 0), scale=s, likelihood="poisson", subpixel_margin=4)
    patches = R.extract_patches(obj, pos, probe.shape[0])
    amp = R.far_field_amplitude(patches * probe[None])
    ref = R.poisson_nll((s * d) ** 2, (s * amp) ** 2) * d.size
    const = -float(((s * d) ** 2).sum()) * np.log(s ** 2)  # the -k log s^2 the solver's sum leaves out
    assert nll + const == pytest.approx(ref, rel=1e-10)
    g_nll, *_ = nll_and_gradients(d, pos, probe, obj, (0, 0), scale=s, likelihood="gaussian", subpixel="probe")
    assert g_nll == pytest.approx(float((2 * (s * amp - s * d) ** 2).sum()), rel=1e-10)


def test_object_mode_windows_are_the_scans_fourier_extraction():
    """specs/refinement.md §1: object-mode windows equal ``extract_patches(..., 'fourier')`` (margin 16) when the
    fractional parts are in [0, 0.5) (then round = floor and both cut the same crop)."""
    rng = np.random.default_rng(4)
    obj = rng.standard_normal((80, 80)) + 1j * rng.standard_normal((80, 80))
    pos = np.floor(rng.uniform(35, 45, (6, 2))) + rng.uniform(0, 0.49, (6, 2))
    ref = R.extract_patches(obj, pos, 8, "fourier")
    base, frac = ops.split_positions(torch.from_numpy(pos))
    mine = ops.shifted_windows(torch.from_numpy(obj), base, frac, (0, 0), 8, 16).numpy()
    np.testing.assert_allclose(mine, ref, atol=1e-12)


def test_shift_probe_is_a_fourier_shift_and_integer_shifts_roll():
    """specs/refinement.md §1: T_f[P] moves the probe's content by +f."""
    rng = np.random.default_rng(1)
    p = rng.standard_normal((8, 8)) + 1j * rng.standard_normal((8, 8))
    frac = np.array([[0.3, -0.2], [1.0, 0.0], [0.0, 2.0]])
    out = ops.shift_probe(torch.from_numpy(p), torch.from_numpy(frac)).numpy()
    k = np.fft.fftfreq(8)
    ramp = np.exp(-2j * np.pi * (0.3 * k[None, :] - 0.2 * k[:, None]))
    np.testing.assert_allclose(out[0], np.fft.ifft2(np.fft.fft2(p) * ramp), atol=1e-12)
    np.testing.assert_allclose(out[1], np.roll(p, 1, axis=1), atol=1e-12)
    np.testing.assert_allclose(out[2], np.roll(p, 2, axis=0), atol=1e-12)


def test_windows_outside_the_canvas_are_one_clear_error():
    """specs/refinement.md §6: a canvas that does not hold every window is bad input."""
    d, pos, probe, obj = _tiny()
    with pytest.raises(ValueError, match=r"^refine: positions: expected every 8x8 window inside the 36x36"):
        nll_and_gradients(d, pos + 20, probe, obj, (0, 0), subpixel="probe")
    with pytest.raises(ValueError, match=r"^refine: positions: expected every 40x40 window inside the 36x36"):
        nll_and_gradients(d, pos, probe, obj, (0, 0))  # object mode: the (N + 2*16) window


@pytest.mark.parametrize("likelihood,subpixel", [("poisson", "object"), ("gaussian", "object"), ("poisson", "probe"),
                                                  ("gaussian", "probe")])
def test_gradients_match_finite_differences(likelihood, subpixel):
    """specs/refinement.md §1-§2: autograd gradients of the summed NLL vs central differences (float64)."""
    d, pos, probe, obj = _tiny(seed=2)
    s, h = 1.7, 1e-6
    kw = dict(scale=s, likelihood=likelihood, subpixel=subpixel, subpixel_margin=4)
    _, g_o, g_p, g_r = nll_and_gradients(d, pos, probe, obj, (0, 0), **kw)

    def f(o=obj, p=probe, r=pos):
        return nll_and_gradients(d, r, p, o, (0, 0), **kw)[0]

    for (r, c) in [(9 + PAD, 10 + PAD), (12 + PAD, 7 + PAD), (8 + PAD, 14 + PAD)]:
        for unit, part in ((1.0, np.real), (1j, np.imag)):
            plus, minus = obj.copy(), obj.copy()
            plus[r, c] += unit * h
            minus[r, c] -= unit * h
            assert (f(o=plus) - f(o=minus)) / (2 * h) == pytest.approx(part(g_o[r, c]), rel=1e-5, abs=1e-6)
    for (r, c) in [(4, 4), (2, 5)]:
        for unit, part in ((1.0, np.real), (1j, np.imag)):
            plus, minus = probe.copy(), probe.copy()
            plus[r, c] += unit * h
            minus[r, c] -= unit * h
            assert (f(p=plus) - f(p=minus)) / (2 * h) == pytest.approx(part(g_p[r, c]), rel=1e-5, abs=1e-6)
    for k in range(len(pos)):
        for axis in (0, 1):
            frac = pos[k, axis] - np.round(pos[k, axis])
            if abs(abs(frac) - 0.5) < 10 * h:  # the integer window would jump
                continue
            plus, minus = pos.copy(), pos.copy()
            plus[k, axis] += h
            minus[k, axis] -= h
            assert (f(r=plus) - f(r=minus)) / (2 * h) == pytest.approx(g_r[k, axis], rel=1e-5, abs=1e-6)
