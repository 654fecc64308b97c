"""Pins specs/simulation.md §1 (objects), §2 (scans), §3 (dataset) and §4 (writing)."""

import numpy as np
import pytest

from ptycho.data_contract import validate_arrays, validate_npz
from ptycho.physics import extract_patches
from ptycho.simulation import (
    OBJECT_KINDS,
    make_object,
    scan_bounds,
    scan_positions,
    simulate,
    write_simulation,
)


@pytest.mark.parametrize("kind", OBJECT_KINDS)
def test_objects_ranges_and_non_trivial_phase(kind):
    """specs/simulation.md §1: complex64, amplitude in [0.5, 1], phase in [-pi/2, pi/2], both vary."""
    obj = make_object(kind, 64, np.random.default_rng(0))
    assert obj.shape == (64, 64) and obj.dtype == np.complex64
    amp, ph = np.abs(obj), np.angle(obj)
    assert amp.min() >= 0.5 - 1e-6 and amp.max() <= 1.0 + 1e-6
    assert ph.min() >= -np.pi / 2 - 1e-6 and ph.max() <= np.pi / 2 + 1e-6
    assert amp.std() > 0.02 and ph.std() > 0.05


@pytest.mark.parametrize("kind", ["grid", "random", "fermat"])
def test_scans_inside_bounds(kind):
    """specs/simulation.md §2: every patch lies inside the object (no zero fill in extracted patches)."""
    size, n = 80, 16
    x, y = scan_positions(kind, 30, size, n, np.random.default_rng(1))
    assert x.dtype == y.dtype == np.float64 and x.shape == y.shape == (30,)
    lo, hi = scan_bounds(size, n)
    assert (lo, hi) == (8.0, 72.0)
    assert np.all((x >= lo) & (x <= hi) & (y >= lo) & (y <= hi))
    patches = extract_patches(np.ones((size, size)), np.stack([x, y], axis=1), n)
    np.testing.assert_allclose(patches, 1.0, atol=1e-12)
    assert len({(a, b) for a, b in zip(x, y, strict=True)}) == 30  # distinct positions


def test_scan_step_too_large_raises():
    """specs/simulation.md §2: a step that cannot fit the positions is refused."""
    with pytest.raises(ValueError, match="scan_positions: step"):
        scan_positions("grid", 100, 80, 16, np.random.default_rng(0), step=20.0)
    with pytest.raises(ValueError, match="scan_positions: step"):
        scan_positions("fermat", 100, 80, 16, np.random.default_rng(0), step=20.0)


def _small(**kw):
    args = dict(N=32, n_positions=40, object_size=80, nphotons=1e6, seed=7)
    args.update(kw)
    return simulate(**args)


def test_dataset_arrays_dtypes_and_truth():
    """specs/simulation.md §3: contract keys, dtypes, Y = object patches at the positions."""
    d = _small(object_kind="siemens", scan="grid")
    assert d["diffraction"].shape == (40, 32, 32) and d["diffraction"].dtype == np.float32
    for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start"):
        assert d[key].dtype == np.float64 and d[key].shape == (40,)
    assert d["probeGuess"].dtype == d["objectGuess"].dtype == d["Y"].dtype == np.complex64
    assert d["scan_index"].dtype == np.int64 and not d["scan_index"].any()
    assert all(v.dtype != object for v in d.values())
    assert str(d["object_kind"]) == "siemens" and str(d["scan_kind"]) == "grid" and int(d["seed"]) == 7
    pos = np.stack([d["xcoords"], d["ycoords"]], axis=1)
    np.testing.assert_allclose(d["Y"], extract_patches(d["objectGuess"], pos, 32), atol=1e-6)


@pytest.mark.parametrize("kind", OBJECT_KINDS)
def test_photon_count_matches_nphotons(kind):
    """specs/simulation.md §3: counts = (diffraction * s)^2 are integers with mean total ~ nphotons."""
    d = _small(object_kind=kind, nphotons=1e5)
    counts = (d["diffraction"].astype(np.float64) * float(d["sim_intensity_scale"])) ** 2
    np.testing.assert_allclose(counts, np.round(counts), atol=2e-2)
    assert counts.sum(axis=(1, 2)).mean() == pytest.approx(1e5, rel=0.02)


def test_noise_is_poisson_distributed():
    """specs/simulation.md §3: the noise around the noiseless counts has Poisson variance."""
    d = _small(nphotons=1e5)
    from ptycho.physics import far_field_amplitude

    s = float(d["sim_intensity_scale"])
    expected = (
        s * far_field_amplitude(d["Y"].astype(np.complex128) * d["probeGuess"].astype(np.complex128))
    ) ** 2
    counts = (d["diffraction"].astype(np.float64) * s) ** 2
    sel = expected > 20
    z = (counts[sel] - expected[sel]) / np.sqrt(expected[sel])
    assert abs(z.mean()) < 0.1 and z.std() == pytest.approx(1.0, abs=0.1)


def test_determinism_and_seed_sensitivity():
    """specs/simulation.md §3: same seed -> bit-identical arrays; another seed differs."""
    a, b, c = _small(), _small(), _small(seed=8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["diffraction"], c["diffraction"])


def test_contract_valid_and_written_atomically(tmp_path):
    """specs/simulation.md §4: write_simulation output passes the data contract, no pickle needed."""
    path = write_simulation(tmp_path / "sim.npz", N=64, n_positions=12, object_size=128, nphotons=1e6, seed=3)
    assert path == tmp_path / "sim.npz" and [p.name for p in tmp_path.iterdir()] == ["sim.npz"]
    checked = validate_npz(path)
    assert checked["N"] == 64 and checked["M"] == 12
    assert checked["metadata"]["physics_parameters"]["nphotons"] == 1e6
    with np.load(path, allow_pickle=False) as f:
        np.testing.assert_array_equal(
            f["diffraction"],
            simulate(N=64, n_positions=12, object_size=128, nphotons=1e6, seed=3)["diffraction"],
        )
    validate_arrays(_small(N=64, object_size=128))


def test_bad_arguments_raise_one_line():
    """specs/simulation.md §3: clear errors for bad kinds and sizes."""
    with pytest.raises(ValueError, match="simulate: object_kind"):
        simulate(object_kind="cats")
    with pytest.raises(ValueError, match="simulate: object_size"):
        simulate(N=64, object_size=32)
