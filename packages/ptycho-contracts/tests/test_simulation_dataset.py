"""Pins specs/simulation.md §1 (objects), §2 (scans), §3 (dataset) and §4 (writing)."""

import json

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


# --- realistic scans: probes with phase, jittered positions, band-limited extraction (specs/simulation.md §3, §5)

def test_probe_kinds_have_phase_structure_and_stay_centred():
    """specs/simulation.md §5: 'fresnel', 'zoneplate' and 'phasescreen' probes are complex with a curved
    phase; 'disk' is real."""
    from ptycho.simulation import PROBE_KINDS, make_probe

    assert PROBE_KINDS == ("disk", "fresnel", "zoneplate", "phasescreen")
    n = 64
    r = np.hypot(*np.meshgrid(np.arange(n) - n / 2 + 0.5, np.arange(n) - n / 2 + 0.5))
    assert np.abs(make_probe("disk", n).imag).max() == 0
    for kind in ("fresnel", "zoneplate", "phasescreen"):
        p = make_probe(kind, n)
        assert p.shape == (n, n) and p.dtype == np.complex64
        power = np.abs(p) ** 2
        assert power[r < 16].sum() / power.sum() > 0.9  # centred, inside the network's central region
        # a probe that is real up to a constant phase has no quadrature energy; these have a curved
        # wavefront (measured fractions: fresnel 0.16, zoneplate 0.54)
        q = p.astype(np.complex128) * np.exp(-1j * np.angle(p[n // 2, n // 2]))
        assert (q.imag**2).sum() / (np.abs(q) ** 2).sum() > 0.1, kind


def test_probe_arguments_are_checked():
    """specs/simulation.md §5: bad kinds and sizes are one-line ValueErrors naming the argument."""
    from ptycho.simulation import make_probe, zone_plate_probe

    with pytest.raises(ValueError, match="kind"):
        make_probe("gauss", 64)
    with pytest.raises(ValueError, match="inner"):
        zone_plate_probe(64, outer=10, inner=12)
    with pytest.raises(ValueError, match="N"):
        make_probe("fresnel", 4)


def test_jitter_moves_positions_within_bounds_and_is_seeded():
    """specs/simulation.md §3 step 2: Gaussian jitter of the given std, clipped to the scan bounds, seeded."""
    from ptycho.simulation import scan_bounds

    kw = dict(N=64, n_positions=200, nphotons=1e5, seed=4, probe_kind="zoneplate")
    plain = simulate("lines", **kw)
    a = simulate("lines", jitter=1.0, **kw)
    b = simulate("lines", jitter=1.0, **kw)
    np.testing.assert_array_equal(a["xcoords"], b["xcoords"])
    dx = np.concatenate([a["xcoords"] - plain["xcoords"], a["ycoords"] - plain["ycoords"]])
    assert 0.8 < np.std(dx) < 1.2
    lo, hi = scan_bounds(224, 64)
    assert a["xcoords"].min() >= lo and a["ycoords"].max() <= hi
    meta = json.loads(str(a["_metadata"]))["simulation"]
    assert meta["probe_kind"] == "zoneplate" and meta["jitter"] == 1.0 and meta["interpolation"] == "bilinear"
    with pytest.raises(ValueError, match="jitter"):
        simulate("lines", jitter=-1.0, **kw)


def test_fourier_extraction_is_exact_at_integers_and_band_limited_between():
    """specs/physics.md §3: 'fourier' equals bilinear at integer positions and samples a sinusoid at
    sub-pixel positions without the bilinear blur."""
    from ptycho.physics import extract_patches

    rng = np.random.default_rng(0)
    obj = (rng.random((100, 100)) + 1j * rng.random((100, 100))).astype(np.complex64)
    ints = np.array([[40.0, 50.0], [41.0, 52.0], [8.0, 90.0]])
    np.testing.assert_allclose(extract_patches(obj, ints, 16, "fourier"), extract_patches(obj, ints, 16), atol=1e-6)
    yy, xx = np.mgrid[:100, :100]
    wave = np.cos(2 * np.pi * (0.2 * xx + 0.1 * yy))
    pos = np.array([[40.5, 50.5]])
    ii, jj = np.mgrid[:16, :16]
    exact = np.cos(2 * np.pi * (0.2 * (40.5 - 8 + jj) + 0.1 * (50.5 - 8 + ii)))
    fourier = extract_patches(wave, pos, 16, "fourier")[0]
    bilinear = extract_patches(wave, pos, 16)[0]
    assert np.abs(fourier - exact).max() < 0.03
    assert np.abs(bilinear - exact).max() > 0.15  # bilinear attenuates this frequency
    with pytest.raises(ValueError, match="interpolation"):
        extract_patches(wave, pos, 16, "cubic")


def test_natural_object_is_in_range_and_seeded():
    """specs/simulation.md §1 'natural': amplitude in [0.5, 1], phase in [-pi/2, pi/2], random crops per seed."""
    from ptycho.simulation import make_object

    a = make_object("natural", 96, np.random.default_rng(1))
    b = make_object("natural", 96, np.random.default_rng(1))
    c = make_object("natural", 96, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a).min() >= 0.5 - 1e-6 and np.abs(a).max() <= 1 + 1e-6
    assert np.abs(np.angle(a)).max() <= np.pi / 2 + 1e-6
    assert np.std(np.abs(a)) > 0.05 and np.std(np.angle(a)) > 0.1
