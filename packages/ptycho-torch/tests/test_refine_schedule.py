"""The solver's closed-form gradients, batch schedule, conjugate full-scan steps and stopping rule
(specs/refinement.md §2, §3, §5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from refine_scans import siemens_scan

from ptycho.physics import extract_patches, far_field_amplitude
from ptycho_torch.denormals import flush_denormals_enabled
from ptycho_torch.refine import RefineOptions, refine, step_length
from ptycho_torch.refine import operators as ops
from ptycho_torch.refine import solver as S
from ptycho_torch.refine.likelihood import nll_terms
from ptycho_torch.refine.options import object_canvas_geometry


@pytest.fixture(scope="module")
def scan():
    return siemens_scan(n_positions=100, interpolation="finegrid", nphotons=1e6, seed=7)


def _problem(scan, subpixel, refine_probe=True):
    opts = RefineOptions(subpixel=subpixel, dtype="float64", refine_probe=refine_probe, probe_start=0)
    margin = 4 + (16 if subpixel == "object" else 0)
    origin, shape = object_canvas_geometry(scan["positions"], 32, margin)
    rng = np.random.default_rng(0)
    obj = 1 + 0.2 * rng.standard_normal(shape) + 0.2j * rng.standard_normal(shape)
    return S._Problem(scan["diffraction"], scan["positions"], scan["probeGuess"], obj, origin, scan["s"], opts)


@pytest.mark.parametrize("subpixel", ["probe", "object"])
def test_closed_form_gradients_equal_autograd(scan, subpixel):
    """§2: the solver's closed-form object and probe gradients are autograd's to round-off."""
    problem = _problem(scan, subpixel)
    idx = torch.arange(40)
    index, base, frac = problem.geometry(idx)
    frac = frac.detach()
    auto = S._batch_gradients(problem, idx, index, base, frac, True, False)
    closed = S._analytic_gradients(problem, idx, index, base, frac, problem.batch_probes(idx, frac), True, 40)
    for a, b in ((auto[0], closed[0]), (auto[1], closed[1]), (auto[3], closed[3]), (auto[4], closed[4])):
        assert float((a - b).abs().max()) <= 1e-10 * float(a.abs().max())
    assert closed[5] == pytest.approx(auto[5], rel=1e-12)
    w2 = (auto[4].real ** 2 + auto[4].imag ** 2).sum(0)
    assert float((closed[2] - w2).abs().max()) <= 1e-10 * float(w2.max())


def test_adjoint_operators_pass_the_dot_product_test():
    """§2: <A x, y> = <x, A^H y> for the probe shift and the sub-pixel window cut."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.complex(torch.randn(*shape, generator=gen, dtype=torch.float64),
                             torch.randn(*shape, generator=gen, dtype=torch.float64))

    frac = torch.rand(5, 2, generator=gen, dtype=torch.float64) - 0.5
    probe, y = rand(16, 16), rand(5, 16, 16)
    lhs = torch.vdot(ops.shift_probe(probe, frac).reshape(-1), y.reshape(-1))
    rhs = torch.vdot(probe.reshape(-1), ops.shift_probe_adjoint(y, frac).reshape(-1))
    assert abs(complex(lhs - rhs)) < 1e-10 * abs(complex(lhs))
    canvas = rand(60, 60)
    base = torch.tensor([[25, 30], [31, 27], [28, 28], [30, 33], [26, 26]])
    windows = ops.shifted_windows(canvas, base, frac, (0, 0), 16, 4)
    back = torch.zeros_like(canvas)
    ops.shifted_windows_adjoint(y, base, frac, (0, 0), 16, 4, back)
    lhs, rhs = torch.vdot(windows.reshape(-1), y.reshape(-1)), torch.vdot(canvas.reshape(-1), back.reshape(-1))
    assert abs(complex(lhs - rhs)) < 1e-10 * abs(complex(lhs))


@pytest.mark.parametrize("likelihood", ["poisson", "gaussian"])
@pytest.mark.parametrize("with_d2", [False, True])
def test_path_polynomial_gives_the_nll_of_the_moved_far_field(likelihood, with_d2):
    """§3: the step-length search's NLL and derivatives along Psi + a d1 + a^2 d2 are those of nll_terms of
    |Psi(a)| (the value exactly, the derivatives against central differences)."""
    gen = torch.Generator().manual_seed(1)
    shape = (3, 8, 8)
    psi, d1, d2 = (torch.complex(torch.randn(*shape, generator=gen, dtype=torch.float64),
                                 torch.randn(*shape, generator=gen, dtype=torch.float64)) for _ in range(3))
    d2 = d2 * 0.3 if with_d2 else None
    measured = torch.rand(*shape, generator=gen, dtype=torch.float64) * 2
    coeffs = step_length.path_intensity(psi, d1, d2)

    def direct(a):
        z = psi + a * d1 + (a * a * d2 if d2 is not None else 0)
        return float(nll_terms(z.abs(), measured, 1.7, likelihood).sum())

    a, h = 0.37, 1e-5
    value, grad, curv = step_length.path_nll(coeffs, measured, a, 1.7, likelihood)
    assert value == pytest.approx(direct(a), rel=1e-12)
    assert grad == pytest.approx((direct(a + h) - direct(a - h)) / (2 * h), rel=1e-6)
    assert curv == pytest.approx((direct(a + h) - 2 * direct(a) + direct(a - h)) / h ** 2, rel=1e-4)


def test_batch_schedule_doubles_to_the_cap():
    """§5: batch_start * 2**t up to batch_size (None: the cap given, the whole scan)."""
    opts = RefineOptions(batch_start=16, batch_size=None)
    assert [opts.batch_for(t, 100) for t in range(5)] == [16, 32, 64, 100, 100]
    assert [RefineOptions(batch_start=16, batch_size=48).batch_for(t, 100) for t in range(3)] == [16, 32, 48]
    assert RefineOptions(batch_start=None, batch_size=64).batch_for(0, 100) == 64
    with pytest.raises(ValueError, match="RefineOptions.batch_start: expected None or an integer >= 1, found 0"):
        RefineOptions(batch_start=0).validate()
    with pytest.raises(ValueError, match="RefineOptions.tolerance"):
        RefineOptions(tolerance=-1.0).validate()


def test_conjugate_directions_beat_steepest_descent_on_the_full_scan(scan, monkeypatch):
    """§5: from the same start, full-scan passes with PR+ conjugate directions reach a lower NLL than the same
    passes with the conjugacy removed (beta = 0, same step-length search), and than plain gradient passes."""
    from ptycho_torch.refine.conjugate import ConjugateDirections

    args = (scan["diffraction"], scan["positions"], scan["probeGuess"])
    common = dict(iterations=25, batch_start=None, batch_size=None, tolerance=0.0, dtype="float64")
    cg = refine(*args, scale=scan["s"], options=RefineOptions(conjugate=True, **common))
    plain = refine(*args, scale=scan["s"], options=RefineOptions(conjugate=False, **common))
    monkeypatch.setattr(ConjugateDirections, "direction", lambda self, grads, precond: [-z for z in precond])
    steepest = refine(*args, scale=scan["s"], options=RefineOptions(conjugate=True, **common))
    assert cg.final_nll < steepest.final_nll
    assert cg.final_nll < plain.final_nll
    assert len(cg.history) == 25


@pytest.mark.parametrize("patience", [1, 3])
def test_stopping_rule_ends_when_the_object_stops_changing(scan, patience):
    """§5: the run stops after the patience-th pass in a row whose relative object change is below the tolerance."""
    args = (scan["diffraction"], scan["positions"], scan["probeGuess"])
    res = refine(*args, scale=scan["s"], options=RefineOptions(iterations=60, tolerance=0.01, patience=patience))
    changes = [row["change"] for row in res.history]
    assert len(changes) < 60
    assert all(c < 0.01 for c in changes[-patience:])
    runs, quiet = [], 0
    for c in changes[:-1]:
        quiet = quiet + 1 if c < 0.01 else 0
        runs.append(quiet)
    assert max(runs, default=0) < patience  # it did not stop later than the rule says
    full = refine(*args, scale=scan["s"], options=RefineOptions(iterations=len(changes), tolerance=0.0))
    np.testing.assert_array_equal(full.object, res.object)  # the rule only stops; it changes no pass


def test_default_run_fits_the_data_and_restores_the_denormal_mode(scan):
    """§5: the default schedule reaches the noise (NLL at most the true object's) and leaves the caller's
    denormal mode as it found it."""
    torch.set_flush_denormal(False)
    res = refine(scan["diffraction"], scan["positions"], scan["probeGuess"], scale=scan["s"])
    assert not flush_denormals_enabled()
    s = scan["s"]
    true_amp = far_field_amplitude(extract_patches(scan["objectGuess"], scan["positions"], 32, "fourier")
                                   * scan["probeGuess"])
    d = scan["diffraction"].astype(np.float64)
    true_nll = float(np.mean(s * s * (true_amp ** 2 - d ** 2 * np.log(np.maximum(true_amp ** 2, 1e-12 / s / s)))))
    true_nll += float(np.mean(-(s * d) ** 2 * np.log(s * s)))
    assert res.final_nll <= true_nll
    assert res.final_nll < res.initial_nll
    assert dataclasses.asdict(RefineOptions())["subpixel"] == "probe"


def test_position_refinement_keeps_mini_batches(scan, monkeypatch):
    """§5: with refine_positions the growing batch stops at POSITION_BATCH_CAP and no step is a conjugate one."""
    seen = []
    real = S._batch_update

    def spy(problem, idx, it, conjugate=None):
        seen.append((int(idx.shape[0]), conjugate is not None))
        return real(problem, idx, it, conjugate)

    monkeypatch.setattr(S, "_batch_update", spy)
    monkeypatch.setattr(S, "POSITION_BATCH_CAP", 40)
    refine(scan["diffraction"], scan["positions"], scan["probeGuess"], scale=scan["s"],
           options=RefineOptions(iterations=4, refine_positions=True, tolerance=0.0))
    assert max(size for size, _ in seen) == 40 and not any(cg for _, cg in seen)
    seen.clear()
    refine(scan["diffraction"], scan["positions"], scan["probeGuess"], scale=scan["s"],
           options=RefineOptions(iterations=4, tolerance=0.0))
    assert (100, True) in seen
