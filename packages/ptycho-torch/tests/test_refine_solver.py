"""Refinement runs on a small simulated scan (specs/refinement.md §3-§6).

Scan: ``ptycho.simulation.simulate`` Siemens star, N = 32, 120 jittered positions, defocused zone-plate
probe, band-limited (Fourier) sub-pixel extraction, 1e6 photons: the physics a real scan has, not the
solver's own model. Every check compares with the ground truth the simulation kept.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch
from refine_scans import covered_ssim, siemens_scan

from ptycho_torch.refine import RefineOptions, refine


@pytest.fixture(scope="module")
def scan():
    return siemens_scan(n_positions=120, interpolation="fourier", nphotons=1e6, seed=5)


def _corr(a, b):
    return abs(np.vdot(a, b)) / np.linalg.norm(a) / np.linalg.norm(b)


def test_flat_start_converges(scan):
    """specs/refinement.md §3, §5: from flat the NLL falls and the object approaches the truth in 15 passes."""
    seen = []
    res = refine(scan["diffraction"], scan["positions"], scan["probeGuess"], scale=scan["s"],
                 options=RefineOptions(iterations=15, batch_size=32), on_result=seen.append)
    nll = [row["nll"] for row in res.history]
    assert [len(r.history) for r in seen] == list(range(1, 16))
    np.testing.assert_array_equal(seen[-1].object, res.object)  # the last preview is the result
    assert len(nll) == 15 and [row["iteration"] for row in res.history] == list(range(1, 16))
    assert nll[0] < res.initial_nll and nll[-1] < nll[4] < nll[0]
    assert res.final_nll < nll[4]
    amp, phase = covered_ssim(res, scan)
    assert amp > 0.85 and phase > 0.8, (amp, phase)
    flat = refine(scan["diffraction"], scan["positions"], scan["probeGuess"], scale=scan["s"],
                  options=RefineOptions(iterations=0))
    assert max(covered_ssim(flat, scan)) < 0.1  # the start is far from the answer


def test_position_refinement_recovers_a_known_shift(scan):
    """specs/refinement.md §4: 30 positions moved 0.8 px in x are moved back to within 0.3 px."""
    pos = scan["positions"]
    rng = np.random.default_rng(0)
    moved = rng.choice(len(pos), 30, replace=False)
    err = np.zeros_like(pos)
    err[moved, 0] = 0.8
    err -= err.mean(0)
    given = pos + err
    res = refine(scan["diffraction"], given, scan["probeGuess"], scale=scan["s"],
                 options=RefineOptions(iterations=25, batch_size=32, refine_positions=True))
    np.testing.assert_array_equal(given, pos + err)  # the caller's array is not updated in place
    left = res.positions - pos
    left -= left.mean(0)
    assert np.abs(left[moved, 0]).max() < 0.3
    assert np.sqrt((left ** 2).sum(1).mean()) < 0.5 * np.sqrt((err ** 2).sum(1).mean())
    fixed = refine(scan["diffraction"], pos + err, scan["probeGuess"], scale=scan["s"],
                   options=RefineOptions(iterations=3, batch_size=32))
    np.testing.assert_array_equal(fixed.positions, pos + err)  # positions move only when asked


def test_probe_refinement_improves_a_wrong_probe(scan):
    """specs/refinement.md §3: a probe 20 % too wide is corrected to correlation > 0.9 with the true one."""
    true = scan["probeGuess"]
    n = true.shape[0]
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    src = [c + (yy - c) / 1.2, c + (xx - c) / 1.2]
    wide = ndi.map_coordinates(true.real, src, order=3) + 1j * ndi.map_coordinates(true.imag, src, order=3)
    assert _corr(wide, true) < 0.6
    res = refine(scan["diffraction"], scan["positions"], wide, scale=scan["s"],
                 options=RefineOptions(iterations=30, batch_size=32, refine_probe=True))
    assert _corr(res.probe, true) > 0.9


@pytest.mark.parametrize("subpixel", ["object", "probe"])
def test_chunk_size_changes_memory_not_the_update(scan, subpixel):
    """specs/refinement.md §3-§5: evaluating a batch in chunks of 1, 7 or all its patterns gives the same
    object, probe and positions (float64, round-off), with probe and position refinement on. One pass (two
    updates): over several passes from a flat start, round-off can flip the step-length search's choice
    between two nearly equal candidates, after which the runs differ by more than round-off."""
    pos = scan["positions"] + np.random.default_rng(2).normal(0, 0.3, scan["positions"].shape)
    # start from the true object: from a flat one the first position step is 0/0 (a flat window has no shift
    # derivative), which round-off resolves differently for each chunking
    pad = scan["probeGuess"].shape[0]
    start = np.pad(scan["objectGuess"], pad, constant_values=1.0)
    results = [refine(scan["diffraction"][:40], pos[:40], scan["probeGuess"], start, (-pad, -pad), scale=scan["s"],
                      options=RefineOptions(iterations=1, batch_size=20, chunk_size=c, refine_probe=True,
                                            refine_positions=True, probe_start=0, position_start=0,
                                            dtype="float64", subpixel=subpixel))
               for c in (20, 7, 1)]
    for other in results[1:]:
        np.testing.assert_allclose(other.object, results[0].object, rtol=0, atol=1e-5)
        np.testing.assert_allclose(other.probe, results[0].probe, rtol=0, atol=1e-5 * np.abs(results[0].probe).max())
        np.testing.assert_allclose(other.positions, results[0].positions, rtol=0, atol=1e-8)
        assert other.history[0]["nll"] == pytest.approx(results[0].history[0]["nll"], rel=1e-9)
        assert other.final_nll == pytest.approx(results[0].final_nll, rel=1e-9)
    assert not np.allclose(results[0].positions, pos[:40])  # the positions did move


def test_same_seed_same_result_and_seed_matters(scan):
    """specs/refinement.md §5: deterministic for a seed (the batch order is the only randomness)."""
    args = (scan["diffraction"], scan["positions"], scan["probeGuess"])
    a = refine(*args, scale=scan["s"], options=RefineOptions(iterations=2, batch_size=32, seed=3))
    b = refine(*args, scale=scan["s"], options=RefineOptions(iterations=2, batch_size=32, seed=3))
    c = refine(*args, scale=scan["s"], options=RefineOptions(iterations=2, batch_size=32, seed=4))
    np.testing.assert_array_equal(a.object, b.object)
    assert not np.array_equal(a.object, c.object)


@pytest.mark.parametrize("field,value,message", [
    ("iterations", -1, "RefineOptions.iterations: expected an integer >= 0, found -1"),
    ("batch_size", 0, "RefineOptions.batch_size: expected None or an integer >= 1, found 0"),
    ("chunk_size", 0, "RefineOptions.chunk_size: expected an integer >= 1, found 0"),
    ("likelihood", "l2", "RefineOptions.likelihood: expected one of ('poisson', 'gaussian'), found 'l2'"),
    ("delta", 0.0, "RefineOptions.delta: expected a finite number > 0, found 0.0"),
])
def test_bad_options_are_one_line(scan, field, value, message):
    """specs/refinement.md §6."""
    with pytest.raises(ValueError) as info:
        refine(scan["diffraction"], scan["positions"], scan["probeGuess"],
               options=RefineOptions(**{field: value}))
    assert str(info.value) == message


def test_bad_arrays_are_one_line(scan):
    """specs/refinement.md §6: shapes and finiteness of the inputs."""
    d = scan["diffraction"]
    with pytest.raises(ValueError, match=r"^refine: positions: expected shape \(120, 2\)"):
        refine(d, scan["positions"][:5], scan["probeGuess"])
    bad = d.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^refine: diffraction: expected finite values"):
        refine(bad, scan["positions"], scan["probeGuess"])
    with pytest.raises(ValueError, match=r"^refine: origin_xy: expected"):
        refine(d, scan["positions"], scan["probeGuess"], obj=np.ones((96, 96), np.complex64))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(scan):
    """specs/refinement.md §5: the same run on CUDA agrees with CPU (float64, same batch order)."""
    args = (scan["diffraction"], scan["positions"], scan["probeGuess"])
    kw = dict(iterations=3, batch_size=32, dtype="float64", refine_probe=True, refine_positions=True,
              position_start=1)
    a = refine(*args, scale=scan["s"], options=RefineOptions(device="cpu", **kw))
    b = refine(*args, scale=scan["s"], options=RefineOptions(device="cuda", **kw))
    np.testing.assert_allclose(b.object, a.object, atol=1e-4 * np.abs(a.object).max())
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-4)
