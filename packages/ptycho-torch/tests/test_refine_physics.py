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


def _tiny(seed: int = 0, n: int = 8, k: int = 5, fractional: bool = True):
    rng = np.random.default_rng(seed)
    obj = (1 + 0.3 * rng.standard_normal((20, 20))) * np.exp(1j * rng.standard_normal((20, 20)))
    yy, xx = np.mgrid[0:n, 0:n] - n / 2
    probe = np.exp(-(xx ** 2 + yy ** 2) / 6.0) * np.exp(0.4j * xx) + 0.05
    pos = rng.uniform(6, 13, (k, 2))
    if not fractional:
        pos = np.round(pos)
    d = np.abs(rng.normal(1.0, 0.5, (k, n, n)))
    return d, pos, probe.astype(np.complex128), obj.astype(np.complex128)


def test_nll_matches_numpy_reference_chain_at_integer_positions():
    """specs/refinement.md §1-§2: predicted counts (s |F(P W)|)^2 and the project's Poisson NLL."""
    d, pos, probe, obj = _tiny(fractional=False)
    s = 3.0
    nll, *_ = nll_and_gradients(d, pos, probe, obj, (0, 0), scale=s, likelihood="poisson")
    patches = R.extract_patches(obj, pos, probe.shape[0])
    amp = R.far_field_amplitude(patches * probe[None])
    ref = R.poisson_nll((s * d) ** 2, (s * amp) ** 2) * d.size
    const = -float(((s * d) ** 2).sum()) * np.log(s ** 2)  # the -k log s^2 the solver's sum leaves out
    assert nll + const == pytest.approx(ref, rel=1e-10)
    g_nll, *_ = nll_and_gradients(d, pos, probe, obj, (0, 0), scale=s, likelihood="gaussian")
    assert g_nll == pytest.approx(float((2 * (s * amp - s * d) ** 2).sum()), rel=1e-10)


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
    with pytest.raises(ValueError, match=r"^refine: positions: expected every 8x8 window inside the 20x20"):
        nll_and_gradients(d, pos + 10, probe, obj, (0, 0))


@pytest.mark.parametrize("likelihood", ["poisson", "gaussian"])
def test_gradients_match_finite_differences(likelihood):
    """specs/refinement.md §2: autograd gradients of the summed NLL vs central differences (float64)."""
    d, pos, probe, obj = _tiny(seed=2)
    s, h = 1.7, 1e-6
    _, g_o, g_p, g_r = nll_and_gradients(d, pos, probe, obj, (0, 0), scale=s, likelihood=likelihood)

    def f(o=obj, p=probe, r=pos):
        return nll_and_gradients(d, r, p, o, (0, 0), scale=s, likelihood=likelihood)[0]

    for (r, c) in [(9, 10), (12, 7), (8, 14)]:
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
