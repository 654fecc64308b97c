"""ptycho_torch.refine.scan.load_scan: the arrays refinement takes and its photon scale (specs/refinement.md §7).

Scan: ``ptycho.simulation.write_simulation`` (N = 64, 12 positions, 1e5 photons), which records its intensity
scale in the metadata; the references are the NPZ's own arrays and that JSON text, read with numpy and json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptycho.simulation import write_simulation
from ptycho_torch.refine.scan import load_scan


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "scan.npz"
    write_simulation(path, object_kind="siemens", N=64, n_positions=12, object_size=128, nphotons=1e5, seed=2)
    return path


def test_arrays_and_the_recorded_scale(scan):
    data = load_scan(scan)
    with np.load(scan, allow_pickle=False) as z:
        meta = json.loads(str(z["_metadata"]))
        np.testing.assert_array_equal(data["diffraction"], z["diffraction"].astype(np.float32))
        np.testing.assert_array_equal(data["positions"], np.stack([z["xcoords"], z["ycoords"]], 1))
        np.testing.assert_array_equal(data["probe"], z["probeGuess"].astype(np.complex64))
    recorded = float(meta["physics_parameters"]["sim_intensity_scale"])
    assert recorded > 0 and recorded != 1.0
    assert data["scale"] == recorded and data["scale_known"] is True
    assert data["diffraction"].dtype == np.float32 and data["positions"].dtype == np.float64
    assert data["probe"].dtype == np.complex64


def test_a_scan_without_metadata_has_scale_one_and_says_so(scan, tmp_path):
    bare = tmp_path / "bare.npz"
    with np.load(scan, allow_pickle=False) as z:
        np.savez(bare, **{k: z[k] for k in z.files if k != "_metadata"})
    data = load_scan(bare)
    assert data["scale"] == 1.0 and data["scale_known"] is False
