"""Reading layouts, round trips and load_data subsampling (specs/data-contract.md §2, §4, §7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scan_arrays import N, random_scan

from ptycho.data_contract import ContractError, DiffractionCountsWarning, validate_npz
from ptycho.raw_data import RawData, load_data


def test_legacy_hwm_diff3d_loads_transposed(tmp_path: Path) -> None:
    """§2.3: a diff3d stored (H, W, M) is detected by len(xcoords) and transposed to (M, H, W)."""
    a = random_scan(5)
    stack = a.pop("diffraction")
    a["diff3d"] = np.transpose(stack, (1, 2, 0)).copy()  # (64, 64, 5)
    path = tmp_path / "legacy.npz"
    np.savez(path, **a)
    raw = RawData.from_file(path)
    assert raw.diff3d.shape == (5, N, N)
    np.testing.assert_array_equal(raw.diff3d, stack)
    assert raw.diffraction is raw.diff3d
    np.testing.assert_array_equal(validate_npz(path)["diffraction"], stack)


def test_square_legacy_ambiguity_keeps_leading_axis(tmp_path: Path) -> None:
    """§2.3: with M == N the leading axis already matches, so nothing is transposed."""
    a = random_scan(N)
    path = tmp_path / "m_eq_n.npz"
    np.savez(path, **a)
    np.testing.assert_array_equal(RawData.from_file(path).diff3d, a["diffraction"])


def test_trailing_singleton_and_dtype_casts(tmp_path: Path) -> None:
    """§2.2-§2.3: (M,N,N,1) is squeezed; integer diffraction is read as detector counts and becomes
    float32 amplitudes sqrt(counts), with a DiffractionCountsWarning naming the file and key."""
    a = random_scan(4)
    counts = np.random.default_rng(1).integers(0, 60000, size=(4, N, N, 1)).astype(np.uint16)
    a["diffraction"] = counts
    a["probeGuess"] = np.ones((N, N))  # real float64 probe -> complex64
    path = tmp_path / "ints.npz"
    np.savez(path, **a)
    with pytest.warns(DiffractionCountsWarning, match=r"ints\.npz: key 'diffraction': integer detector counts"):
        raw = RawData.from_file(path)
    assert raw.diff3d.dtype == np.float32 and raw.diff3d.shape == (4, N, N)
    np.testing.assert_allclose(raw.diff3d, np.sqrt(counts[..., 0].astype(np.float64)), rtol=1e-6)
    assert raw.probeGuess.dtype == np.complex64
    assert raw.xcoords.dtype == np.float64 and raw.scan_index.dtype == np.int64
    np.testing.assert_array_equal(raw.scan_index, np.zeros(4))


def test_defaults_without_start_coords(tmp_path: Path) -> None:
    """§2.1: missing start coordinates default to the coordinates; labels build Y."""
    a = random_scan(3)
    del a["xcoords_start"], a["ycoords_start"]
    amp = np.random.default_rng(2).random((3, N, N)).astype(np.float32)
    ph = np.random.default_rng(3).uniform(-3, 3, (3, N, N)).astype(np.float32)
    path = tmp_path / "nostart.npz"
    np.savez(path, label_amp=amp, label_phase=ph, **a)
    raw = RawData.from_file(path)
    np.testing.assert_array_equal(raw.xcoords_start, a["xcoords"])
    np.testing.assert_array_equal(raw.ycoords_start, a["ycoords"])
    assert raw.xcoords_start is not raw.xcoords
    assert raw.Y is not None
    np.testing.assert_allclose(np.abs(raw.Y), amp, rtol=1e-6)
    np.testing.assert_allclose(np.angle(raw.Y), ph, atol=1e-5)


def test_to_file_round_trip(tmp_path: Path) -> None:
    """§4: to_file writes an atomic NPZ that from_file reads back unchanged; metadata is JSON text."""
    a = random_scan(5, 7)
    meta = {"nphotons": 1e9, "source": "test"}
    raw = RawData(
        a["xcoords"], a["ycoords"], a["xcoords_start"], a["ycoords_start"], a["diffraction"],
        a["probeGuess"], np.arange(5), a["objectGuess"], Y=np.ones((5, N, N, 1), np.complex64),
        norm_Y_I=2.5, metadata=meta,
    )
    path = tmp_path / "out" / "rt.npz"
    raw.to_file(path)
    with np.load(path, allow_pickle=False) as z:
        assert z["_metadata"].dtype.kind == "U"
        assert json.loads(str(z["_metadata"])) == meta
    back = RawData.from_file(path)
    for name in ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "diff3d", "probeGuess", "scan_index", "objectGuess"):
        np.testing.assert_array_equal(getattr(back, name), getattr(raw, name))
    assert back.Y is not None and back.Y.shape == (5, N, N)
    assert back.norm_Y_I == 2.5 and back.metadata == meta
    assert len(back) == 5
    with pytest.raises(ContractError, match="key 'metadata'"):
        RawData(a["xcoords"], a["ycoords"], None, None, a["diffraction"], a["probeGuess"], None, metadata=[1])  # type: ignore[arg-type]


def test_from_coords_without_pc() -> None:
    a = random_scan(4)
    raw = RawData.from_coords_without_pc(a["xcoords"], a["ycoords"], a["diffraction"], a["probeGuess"], np.zeros(4, int))
    np.testing.assert_array_equal(raw.xcoords_start, raw.xcoords)
    assert raw.objectGuess is None and raw.sample_indices is None and raw.subsample_seed is None


# ------------------------------------------------------------------ load_data (§7)


@pytest.fixture()
def scan_file(tmp_path: Path) -> Path:
    path = tmp_path / "scan.npz"
    np.savez(path, **random_scan(40, 11))
    return path


def test_load_data_subsample_records_and_persists(scan_file: Path, tmp_path: Path) -> None:
    """§7.2/§7.4: sorted indices from default_rng(seed), recorded and written one per line."""
    full = RawData.from_file(scan_file)
    out = tmp_path / "run"
    raw = load_data(scan_file, n_subsample=12, subsample_seed=5, output_dir=out)
    expected = np.sort(np.random.default_rng(5).choice(40, size=12, replace=False))
    np.testing.assert_array_equal(raw.sample_indices, expected)
    assert raw.subsample_seed == 5 and len(raw) == 12
    np.testing.assert_array_equal(raw.diff3d, full.diff3d[expected])
    np.testing.assert_array_equal(raw.xcoords, full.xcoords[expected])
    np.testing.assert_array_equal(raw.ycoords_start, full.ycoords_start[expected])
    written = (out / "tmp" / "subsample_seed5_indices.txt").read_text()
    assert written == "".join(f"{i}\n" for i in expected)
    assert np.loadtxt(out / "tmp" / "subsample_seed5_indices.txt", dtype=int).tolist() == expected.tolist()
    again = load_data(scan_file, n_images=12, subsample_seed=5)
    np.testing.assert_array_equal(again.sample_indices, expected)  # n_images works the same way
    other = load_data(scan_file, n_subsample=12, subsample_seed=6)
    assert not np.array_equal(other.sample_indices, expected)
    # n_subsample wins over n_images
    assert len(load_data(scan_file, n_images=30, n_subsample=10, subsample_seed=1)) == 10


def test_load_data_seed_none_is_recorded_and_reproducible(scan_file: Path, tmp_path: Path) -> None:
    """§7.2: without a seed one is drawn and recorded, and it reproduces the subset."""
    raw = load_data(scan_file, n_subsample=9, output_dir=tmp_path)
    assert isinstance(raw.subsample_seed, int)
    expected = np.sort(np.random.default_rng(raw.subsample_seed).choice(40, size=9, replace=False))
    np.testing.assert_array_equal(raw.sample_indices, expected)
    assert (tmp_path / "tmp" / f"subsample_seed{raw.subsample_seed}_indices.txt").exists()


def test_load_data_no_subsample(scan_file: Path, tmp_path: Path) -> None:
    """§7.2: k >= M keeps every position; nothing is recorded or written."""
    raw = load_data(scan_file, n_images=40, subsample_seed=3, output_dir=tmp_path)
    assert len(raw) == 40 and raw.sample_indices is None and raw.subsample_seed is None
    assert not (tmp_path / "tmp").exists()
    assert len(load_data(scan_file)) == 40


def test_load_data_coordinate_transforms(scan_file: Path) -> None:
    """§7.3: negate, then swap, then scale; applied to coordinates and start coordinates alike."""
    base = RawData.from_file(scan_file)
    raw = load_data(scan_file, flip_x=True, coord_scale=2.0)
    np.testing.assert_array_equal(raw.xcoords, -2.0 * base.xcoords)
    np.testing.assert_array_equal(raw.ycoords, 2.0 * base.ycoords)
    np.testing.assert_array_equal(raw.xcoords_start, -2.0 * base.xcoords_start)
    raw = load_data(scan_file, flip_x=True, flip_y=False, swap_xy=True, coord_scale=0.5)
    np.testing.assert_array_equal(raw.xcoords, 0.5 * base.ycoords)
    np.testing.assert_array_equal(raw.ycoords, -0.5 * base.xcoords)
    np.testing.assert_array_equal(raw.ycoords_start, -0.5 * base.xcoords_start)
    raw = load_data(scan_file, flip_y=True)
    np.testing.assert_array_equal(raw.ycoords, -base.ycoords)
    np.testing.assert_array_equal(raw.diff3d, base.diff3d)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_subsample": 0}, "n_subsample"),
        ({"n_images": -3}, "n_images"),
        ({"n_images": 2.5}, "n_images"),
        ({"coord_scale": float("nan")}, "coord_scale"),
        ({"coord_scale": 0}, "coord_scale"),
        ({"flip_x": "yes"}, "flip_x"),
        ({"subsample_seed": -1}, "subsample_seed"),
        ({"n_samples": 0}, "n_samples"),
    ],
)
def test_load_data_bad_arguments(scan_file: Path, kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"load_data: {field}: expected"):
        load_data(scan_file, **kwargs)


def test_load_data_bad_file_is_contract_error(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no such file"):
        load_data(tmp_path / "missing.npz")
