"""Pins specs/simulation.md §7: partially coherent scans, K orthogonal incoherent probe modes."""

from __future__ import annotations

import numpy as np
import pytest

from ptycho.data_contract import validate_arrays
from ptycho.physics import incoherent_amplitude
from ptycho.simulation import default_mode_powers, make_probe, make_probe_modes, simulate


@pytest.mark.parametrize("kind", ["disk", "zoneplate", "fresnel"])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_modes_are_orthogonal_with_the_asked_powers_and_the_probe_power(kind, k):
    p = make_probe(kind, 64)
    powers = np.arange(k, 0, -1, dtype=float)
    modes = make_probe_modes(p, k, powers)
    total = float(np.vdot(p, p).real)
    gram = np.einsum("kxy,jxy->kj", modes.conj().astype(np.complex128), modes.astype(np.complex128)) / total
    np.testing.assert_allclose(gram, np.diag(powers / powers.sum()), atol=2e-6)
    # mode 0 is the primary probe, scaled
    np.testing.assert_allclose(modes[0], np.sqrt(powers[0] / powers.sum()) * p, rtol=1e-5, atol=1e-6 * abs(p).max())


def test_default_powers_are_geometric_and_bad_powers_are_refused():
    np.testing.assert_allclose(default_mode_powers(3), np.array([1, 0.3, 0.09]) / 1.39)
    with pytest.raises(ValueError, match=r"make_probe_modes: mode_powers: expected 3 finite positive numbers"):
        make_probe_modes(make_probe("disk", 64), 3, [0.5, -0.1, 0.6])
    with pytest.raises(ValueError, match=r"simulate: probe_modes: expected an integer between 1 and 32, found 0"):
        simulate(N=64, n_positions=4, probe_modes=0)


def test_one_mode_is_bit_identical_to_the_coherent_scan():
    a = simulate(N=64, n_positions=8, seed=3, interpolation="finegrid", probe_kind="zoneplate")
    b = simulate(N=64, n_positions=8, seed=3, interpolation="finegrid", probe_kind="zoneplate", probe_modes=1)
    for key in ("diffraction", "probeGuess", "objectGuess", "xcoords"):
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("interpolation", ["fourier", "finegrid"])
def test_patterns_are_the_summed_mode_intensities(interpolation):
    """At 1e12 photons the stored amplitudes are sqrt(sum_k |F[P_k Y]|^2) of the stored modes and patches
    (the truth Y; 'finegrid' with oversample 1 rounds the positions to whole pixels, where Y is exact)."""
    out = simulate(N=64, n_positions=12, seed=2, nphotons=1e12, scan="grid", interpolation=interpolation,
                   probe_kind="zoneplate", probe_modes=3, mode_powers=[0.7, 0.2, 0.1], object_kind="grf",
                   oversample=1)
    modes = out["probeGuess"]
    assert modes.shape == (3, 64, 64) and validate_arrays(out)["probeGuess"].shape == (3, 64, 64)
    if interpolation == "finegrid":
        assert np.all(out["xcoords"] == np.round(out["xcoords"])) and np.all(out["ycoords"] == np.round(out["ycoords"]))
    want = incoherent_amplitude(out["Y"].astype(np.complex128)[:, None] * modes[None].astype(np.complex128))
    err = np.linalg.norm(out["diffraction"] - want) / np.linalg.norm(want)
    assert err < 2e-3, err
    # and clearly not the one-mode scan of the primary mode alone
    one = incoherent_amplitude(out["Y"].astype(np.complex128)[:, None] * modes[:1].astype(np.complex128))
    assert np.linalg.norm(out["diffraction"] - one) / np.linalg.norm(want) > 0.05
    meta = str(out["_metadata"])
    assert '"probe_modes": 3' in meta and '"mode_powers": [0.7' in meta
