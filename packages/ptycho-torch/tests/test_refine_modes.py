"""Refinement with a mixed-state probe of K incoherent modes (specs/refinement.md §10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from refine_scans import covered_ssim, siemens_scan

from ptycho.physics import incoherent_amplitude
from ptycho_torch.refine import RefineOptions, refine, step_length
from ptycho_torch.refine import operators as ops
from ptycho_torch.refine import solver as S
from ptycho_torch.refine.likelihood import nll_terms
from ptycho_torch.refine.modes import initial_modes, orthogonalise_modes
from ptycho_torch.refine.options import object_canvas_geometry


@pytest.fixture(scope="module")
def scan():
    return siemens_scan(n_positions=100, interpolation="finegrid", nphotons=1e7, seed=7, probe_modes=3,
                        mode_powers=[0.7, 0.2, 0.1])


def _problem(scan, subpixel, probe=None, refine_probe=True):
    opts = RefineOptions(subpixel=subpixel, dtype="float64", refine_probe=refine_probe, probe_start=0)
    margin = 4 + (16 if subpixel == "object" else 0)
    origin, shape = object_canvas_geometry(scan["positions"], 32, margin)
    rng = np.random.default_rng(0)
    obj = 1 + 0.2 * rng.standard_normal(shape) + 0.2j * rng.standard_normal(shape)
    probe = scan["probeGuess"] if probe is None else probe
    return S._Problem(scan["diffraction"], scan["positions"], probe, obj, origin, scan["s"], opts)


@pytest.mark.parametrize("subpixel", ["probe", "object"])
def test_mode_gradients_closed_form_equal_autograd(scan, subpixel):
    """§10: with K modes the closed-form object and per-mode probe gradients are autograd's to round-off."""
    problem = _problem(scan, subpixel)
    assert problem.probe.shape == (3, 32, 32)
    idx = torch.arange(40)
    index, base, frac = problem.geometry(idx)
    frac = frac.detach()
    auto = S._batch_gradients(problem, idx, index, base, frac, True, False)
    closed = S._analytic_gradients(problem, idx, index, base, frac, problem.batch_probes(idx, frac), True, 40)
    assert closed[1].shape == (3, 32, 32) and closed[3].shape == (40, 3, 32, 32)
    for a, b in ((auto[0], closed[0]), (auto[1], closed[1]), (auto[3], closed[3]), (auto[4], closed[4])):
        assert float((a - b).abs().max()) <= 1e-10 * float(a.abs().max())
    assert closed[5] == pytest.approx(auto[5], rel=1e-12)
    # every mode has its own gradient (not copies of one)
    g = closed[1]
    assert float((g[1] - g[0] * (g[0].abs().max() / g[1].abs().max())).abs().max()) > 1e-3 * float(g.abs().max())


def test_mode_forward_model_is_the_numpy_reference(scan):
    """§10: at integer positions the solver's K-mode prediction is ptycho.physics.incoherent_amplitude of the
    windows times the modes (the numpy reference)."""
    problem = _problem(scan, "probe")
    problem.pos = torch.round(problem.pos)
    idx = torch.arange(10)
    index, base, frac = problem.geometry(idx)
    psi, _, windows = problem.spectra(problem.obj, problem.probe, index, base, frac)
    want = incoherent_amplitude(windows.numpy()[:, None] * scan["probeGuess"].astype(np.complex128)[None])
    from ptycho_torch.refine.modes import amplitude

    np.testing.assert_allclose(amplitude(psi).numpy(), want, rtol=1e-5, atol=1e-6 * want.max())


def test_position_gradients_and_curvatures_run_with_modes(scan):
    """§4 with modes: autograd position gradients against central differences of the K-mode NLL."""
    d, pos, probe = scan["diffraction"][:6], scan["positions"][:6], scan["probeGuess"]
    origin, shape = object_canvas_geometry(pos, 32, 8)
    rng = np.random.default_rng(2)
    obj = 1 + 0.3 * rng.standard_normal(shape) + 0.3j * rng.standard_normal(shape)
    nll, _, g_p, g_r = S.nll_and_gradients(d, pos, probe, obj, origin, scale=scan["s"], subpixel="probe")
    assert g_p.shape == (3, 32, 32)
    h = 1e-4
    for k, axis in ((0, 0), (3, 1)):
        up, dn = pos.copy(), pos.copy()
        up[k, axis] += h
        dn[k, axis] -= h
        f = [S.nll_and_gradients(d, p, probe, obj, origin, scale=scan["s"], subpixel="probe")[0] for p in (up, dn)]
        assert g_r[k, axis] == pytest.approx((f[0] - f[1]) / (2 * h), rel=1e-4)


def test_path_polynomial_sums_the_modes():
    """§10: the step search's intensity along Psi_m + a d1_m + a^2 d2_m is the sum over modes."""
    gen = torch.Generator().manual_seed(3)
    shape = (2, 3, 8, 8)
    psi, d1, d2 = (torch.complex(torch.randn(*shape, generator=gen, dtype=torch.float64),
                                 torch.randn(*shape, generator=gen, dtype=torch.float64)) for _ in range(3))
    measured = torch.rand(2, 8, 8, generator=gen, dtype=torch.float64) * 3

    def direct(a):
        z = psi + a * d1 + a * a * d2
        return float(nll_terms(torch.linalg.vector_norm(z, dim=1), measured, 1.3, "poisson").sum())

    a, f0, fa = step_length.line_search(psi, d1, d2, measured, 1.3, "poisson", 3, 4.0, direct(0.0))
    assert fa == pytest.approx(direct(a), rel=1e-12) and fa <= f0


def test_orthogonalisation_keeps_every_pattern_and_sorts_the_modes(scan):
    """§10: the orthogonalised modes are orthogonal, strongest first, and predict the same intensities."""
    rng = np.random.default_rng(4)
    mix = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    modes = torch.from_numpy(np.einsum("jk,kxy->jxy", mix, scan["probeGuess"].astype(np.complex128)))
    new, t = orthogonalise_modes(modes)
    gram = torch.einsum("kxy,jxy->kj", new.conj(), new)
    off = gram - torch.diag(torch.diagonal(gram))
    assert float(off.abs().max()) < 1e-10 * float(gram.abs().max())
    power = torch.diagonal(gram).real
    assert bool((power[:-1] >= power[1:]).all())
    assert float((t @ t.conj().T - torch.eye(3, dtype=t.dtype)).abs().max()) < 1e-12
    w = torch.from_numpy(rng.standard_normal((4, 32, 32)) + 0j)
    before = torch.linalg.vector_norm(ops.far_field(w[:, None] * modes[None]), dim=1)
    after = torch.linalg.vector_norm(ops.far_field(w[:, None] * new[None]), dim=1)
    assert float((before - after).abs().max()) < 1e-10 * float(before.max())


def test_true_modes_fit_the_scan_better_than_one_mode(scan):
    """§10: on a 3-mode scan, refinement with the true 3 modes reaches a lower NLL and a clearly better object
    than with one mode of the same total power (the primary mode scaled), from the same flat start (measured
    after 12 passes: SSIM 0.923 / 0.833 against 0.900 / 0.731)."""
    modes = scan["probeGuess"]
    one = modes[0] * np.sqrt(np.sum(np.abs(modes) ** 2) / np.sum(np.abs(modes[0]) ** 2))
    opts = RefineOptions(iterations=12, tolerance=0.0)
    r3 = refine(scan["diffraction"], scan["positions"], modes, scale=scan["s"], options=opts)
    r1 = refine(scan["diffraction"], scan["positions"], one, scale=scan["s"], options=opts)
    assert r3.probe.shape == (3, 32, 32)
    np.testing.assert_array_equal(r3.probe, modes)  # not refined: unchanged
    assert r3.final_nll < r1.final_nll and r3.final_nll < r3.initial_nll
    (a3, p3), (a1, p1) = covered_ssim(r3, scan), covered_ssim(r1, scan)
    assert a3 > a1 + 0.01 and p3 > p1 + 0.05, (a3, p3, a1, p1)


def test_probe_mode_refinement_lowers_the_nll_and_keeps_modes_orthogonal(scan):
    """§10: from Hermite-like modes of a wrong primary mode (a phase curvature error), refining the 3 modes lowers
    the NLL below the fixed modes' and below a refined single mode's, and leaves orthogonal modes, strongest first
    (measured, 20 passes: NLL -87318 fixed, -87601 refined (the true modes fixed: -87576), one mode refined -87294)."""
    modes = scan["probeGuess"]
    yy, xx = np.mgrid[:32, :32] - 16
    wrong = modes[0] * np.exp(0.004j * ((yy - 1) ** 2 + (xx + 1) ** 2))
    wrong *= np.sqrt(np.sum(np.abs(modes) ** 2) / np.sum(np.abs(modes[0]) ** 2))
    start = initial_modes(wrong, 3)

    def run(probe, refine_probe):
        return refine(scan["diffraction"], scan["positions"], probe, scale=scan["s"],
                      options=RefineOptions(iterations=20, tolerance=0.0, refine_probe=refine_probe))

    fixed, moved, single = run(start, False), run(start, True), run(wrong, True)
    assert moved.final_nll < fixed.final_nll - 100 and moved.final_nll < single.final_nll - 100
    p = moved.probe.astype(np.complex128)
    gram = np.einsum("kxy,jxy->kj", p.conj(), p)
    assert np.abs(gram - np.diag(np.diag(gram))).max() < 1e-4 * np.abs(gram).max()
    assert np.all(np.diff(np.diag(gram).real) <= 0)


def test_position_refinement_with_modes_reduces_the_position_error(scan):
    """§4 with K modes: from positions off by ~0.7 px RMS (zero mean), position refinement with the true modes
    brings them closer to the truth."""
    rng = np.random.default_rng(5)
    err = rng.normal(0, 0.5, scan["positions"].shape)
    start = scan["positions"] + err - err.mean(0)
    res = refine(scan["diffraction"], start, scan["probeGuess"], scale=scan["s"],
                 options=RefineOptions(iterations=12, tolerance=0.0, refine_positions=True))

    def rms(p):
        d = p - scan["positions"]
        d = d - d.mean(0)
        return float(np.sqrt(np.mean(np.sum(d ** 2, 1))))

    assert rms(res.positions) < 0.6 * rms(start), (rms(start), rms(res.positions))


def test_bad_mode_probe_is_one_line(scan):
    with pytest.raises(ValueError, match=r"^refine: probe: expected shape \(32, 32\) or \(K, 32, 32\) incoherent modes, found shape \(3, 16, 16\)$"):
        refine(scan["diffraction"], scan["positions"], np.ones((3, 16, 16), np.complex64))
