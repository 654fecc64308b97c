"""HDF5 scans (specs/scaling.md §2): the NPZ contract's keys as HDF5 datasets, diffraction read on demand."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest

from ptycho.data_contract import ContractError, read_npz, validate_arrays, validate_npz
from ptycho.raw_data import RawData
from ptycho.scan_hdf5 import LazyDiffraction, is_hdf5, write_scan_hdf5

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "minimal_dataset_v1.npz"


@pytest.fixture(scope="module")
def npz_arrays():
    return validate_arrays(read_npz(FIXTURE), source=str(FIXTURE))


@pytest.fixture()
def h5_scan(tmp_path, npz_arrays):
    path = tmp_path / "scan.h5"
    write_scan_hdf5(path, npz_arrays, chunk_patterns=16)
    return path


def test_hdf5_scan_reads_like_its_npz_with_diffraction_left_on_disk(h5_scan, npz_arrays):
    assert is_hdf5(h5_scan) and not is_hdf5(FIXTURE)
    with h5py.File(h5_scan) as fh:
        assert fh["diffraction"].chunks == (16, *npz_arrays["diffraction"].shape[1:])
    raw = RawData.from_file(h5_scan)
    assert isinstance(raw.diff3d, LazyDiffraction)
    assert raw.diff3d.shape == npz_arrays["diffraction"].shape
    np.testing.assert_array_equal(np.asarray(raw.diff3d), npz_arrays["diffraction"])
    for key in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "probeGuess", "objectGuess"):
        np.testing.assert_array_equal(getattr(raw, key), npz_arrays[key])
    assert validate_npz(h5_scan)["M"] == npz_arrays["M"]


def test_lazy_indexing_matches_numpy_fancy_indexing_and_survives_pickle(h5_scan, npz_arrays):
    lazy = RawData.from_file(h5_scan).diff3d
    ref = npz_arrays["diffraction"]
    idx = np.array([[5, 3, 3, 60], [0, 63, 7, 5]])
    np.testing.assert_array_equal(lazy[idx], ref[idx])
    np.testing.assert_array_equal(lazy[-1], ref[-1])
    np.testing.assert_array_equal(lazy[2:9], ref[2:9])
    again = pickle.loads(pickle.dumps(lazy))  # DataLoader workers / spawned processes reopen the file
    np.testing.assert_array_equal(again[idx], ref[idx])
    np.testing.assert_allclose(lazy.pattern_power(), np.sum(ref.astype(np.float64) ** 2, axis=(1, 2)), rtol=1e-12)


def test_lazy_grouping_gives_the_in_memory_normalisation(h5_scan):
    """specs/scaling.md §2: the streamed factor equals normalize_diffraction's over the grouped patterns."""
    lazy, mem = RawData.from_file(h5_scan), RawData.from_file(FIXTURE)
    a = lazy.generate_grouped_data(64, K=4, nsamples=40, seed=3, gridsize=2, materialize=False)
    b = mem.generate_grouped_data(64, K=4, nsamples=40, seed=3, gridsize=2, materialize=False)
    assert a["X_full"] is None and a["diffraction"] is None and b["X_full"] is not None
    np.testing.assert_array_equal(a["nn_indices"], b["nn_indices"])
    assert a["X_full_norm"] == pytest.approx(b["X_full_norm"], rel=1e-12)
    full = lazy.generate_grouped_data(64, K=4, nsamples=40, seed=3, gridsize=2)  # default: materialised
    np.testing.assert_array_equal(full["X_full"], b["X_full"])


@pytest.mark.parametrize("damage, key, message", [
    (lambda d: d.__setitem__((3, 0, 0), -1.0), "diffraction", "non-negative amplitudes sqrt(counts), found minimum -1 in pattern 3"),
    (lambda d: d.__setitem__((40, 1, 1), np.nan), "diffraction", "NaN, inf or overflow in pattern 40"),
])
def test_damaged_diffraction_is_one_line_naming_file_and_key(tmp_path, npz_arrays, damage, key, message):
    arrays = dict(npz_arrays)
    arrays["diffraction"] = npz_arrays["diffraction"].copy()
    damage(arrays["diffraction"])
    path = tmp_path / "bad.h5"
    write_scan_hdf5(path, arrays, chunk_patterns=8)
    with pytest.raises(ContractError) as err:
        validate_npz(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: key '{key}'") and message in text


def test_wrong_shapes_and_missing_keys_are_refused(tmp_path, npz_arrays):
    path = tmp_path / "flat.h5"
    with h5py.File(path, "w") as fh:
        fh["diffraction"] = np.zeros((4, 64 * 64), np.float32)
        fh["xcoords"] = np.zeros(4)
    with pytest.raises(ContractError, match=r"key 'diffraction': expected an \(M, N, N\) dataset"):
        validate_npz(path)
    path2 = tmp_path / "noprobe.h5"
    arrays = {k: v for k, v in npz_arrays.items() if k != "probeGuess"}
    write_scan_hdf5(path2, arrays)
    with pytest.raises(ContractError, match="key 'probeGuess': expected the key to be present"):
        RawData.from_file(path2)
    path3 = tmp_path / "short.h5"
    arrays = dict(npz_arrays, xcoords=npz_arrays["xcoords"][:10], ycoords=npz_arrays["ycoords"][:10])
    write_scan_hdf5(path3, {k: v for k, v in arrays.items() if not k.endswith("_start") and k != "scan_index"})
    with pytest.raises(ContractError, match="key 'diffraction': expected 10 patterns"):
        validate_npz(path3)


def test_block_writer_never_needs_the_whole_stack_and_checks_the_count(tmp_path, npz_arrays):
    d = npz_arrays["diffraction"]
    path = tmp_path / "blocks.h5"
    write_scan_hdf5(path, {k: v for k, v in npz_arrays.items() if k != "diffraction"},
                    diffraction=(d[i:i + 10] for i in range(0, len(d), 10)))
    np.testing.assert_array_equal(np.asarray(RawData.from_file(path).diff3d), d)
    with pytest.raises(ValueError, match="expected 64 patterns"):
        write_scan_hdf5(tmp_path / "short_blocks.h5", {k: v for k, v in npz_arrays.items() if k != "diffraction"},
                        diffraction=[d[:10]])
    assert not (tmp_path / "short_blocks.h5").exists()  # atomic: nothing half-written


def test_multimode_probe_round_trips_through_hdf5(tmp_path, npz_arrays):
    """specs/data-contract.md §2.4: a (K, N, N) probe is an HDF5 scan's dataset like any other key, kept whole."""
    p = npz_arrays["probeGuess"]
    modes = np.stack([p, 0.5 * np.roll(p, 3, axis=0), 0.2j * p.conj()]).astype(np.complex64)
    write_scan_hdf5(tmp_path / "modes.h5", {**npz_arrays, "probeGuess": modes})
    raw = RawData.from_file(tmp_path / "modes.h5")
    assert raw.probeGuess.shape == modes.shape and raw.probeGuess.dtype == np.complex64
    np.testing.assert_array_equal(raw.probeGuess, modes)
