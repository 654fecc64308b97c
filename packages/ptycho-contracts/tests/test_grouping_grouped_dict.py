"""The grouped dict of RawData.generate_grouped_data (specs/grouping.md §6), against numpy by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptycho.raw_data import RawData, get_relative_coords, load_data

N = 64


def _raw(m: int = 30, seed: int = 0, with_y: bool = False, integer_positions: bool = True) -> RawData:
    rng = np.random.default_rng(seed)
    if integer_positions:
        x = rng.integers(40, 120, m).astype(np.float64)
        y = rng.integers(40, 100, m).astype(np.float64)
    else:
        x, y = rng.uniform(40, 120, m), rng.uniform(40, 100, m)
    obj = (rng.random((150, 170)) * np.exp(1j * rng.uniform(-3, 3, (150, 170)))).astype(np.complex64)
    y_patches = rng.random((m, N, N)).astype(np.complex64) if with_y else None
    return RawData(
        x, y, x + rng.normal(0, 2, m), y + rng.normal(0, 2, m),
        rng.random((m, N, N)).astype(np.float32) * 3, np.ones((N, N), np.complex64),
        np.zeros(m, int), obj, Y=y_patches,
    )


@pytest.mark.parametrize("gridsize", [1, 2, 3])
def test_shapes_dtypes_and_gather(gridsize: int) -> None:
    """§6: channel-last shapes and dtypes; channel c of group b is position nn_indices[b, c]."""
    raw = _raw()
    c = gridsize * gridsize
    d = raw.generate_grouped_data(N, K=max(4, c + 1), nsamples=12, seed=3, gridsize=gridsize)
    b = 12
    shapes = {
        "diffraction": ((b, N, N, c), np.float32),
        "X_full": ((b, N, N, c), np.float32),
        "coords_nn": ((b, 1, 2, c), np.float64),
        "coords_offsets": ((b, 1, 2, 1), np.float64),
        "coords_relative": ((b, 1, 2, c), np.float64),
        "coords_start_nn": ((b, 1, 2, c), np.float64),
        "coords_start_offsets": ((b, 1, 2, 1), np.float64),
        "coords_start_relative": ((b, 1, 2, c), np.float64),
        "nn_indices": ((b, c), np.int32),
        "Y": ((b, N, N, c), np.complex64),
    }
    for key, (shape, dtype) in shapes.items():
        assert d[key].shape == shape, key
        assert d[key].dtype == dtype, key
    idx = d["nn_indices"]
    assert raw.group_indices is idx
    assert d["objectGuess"] is raw.objectGuess
    for bi in range(b):
        for ci in range(c):
            j = idx[bi, ci]
            np.testing.assert_array_equal(d["diffraction"][bi, :, :, ci], raw.diff3d[j])
            assert d["coords_nn"][bi, 0, 0, ci] == raw.xcoords[j]
            assert d["coords_nn"][bi, 0, 1, ci] == raw.ycoords[j]
            assert d["coords_start_nn"][bi, 0, 0, ci] == raw.xcoords_start[j]
            assert d["coords_start_nn"][bi, 0, 1, ci] == raw.ycoords_start[j]


def test_offsets_and_relative_sign() -> None:
    """§6.2: offsets = member mean [x, y]; relative = mean − position (sign −1); gs=1 gives zeros."""
    raw = _raw(seed=1, integer_positions=False)
    d = raw.generate_grouped_data(N, K=6, nsamples=8, seed=0, gridsize=2)
    idx = d["nn_indices"]
    for bi in range(8):
        cx, cy = raw.xcoords[idx[bi]].mean(), raw.ycoords[idx[bi]].mean()
        np.testing.assert_allclose(d["coords_offsets"][bi, 0, :, 0], [cx, cy], rtol=0, atol=1e-12)
        np.testing.assert_allclose(d["coords_relative"][bi, 0, 0], cx - raw.xcoords[idx[bi]], atol=1e-12)
        np.testing.assert_allclose(d["coords_relative"][bi, 0, 1], cy - raw.ycoords[idx[bi]], atol=1e-12)
        sx = raw.xcoords_start[idx[bi]]
        np.testing.assert_allclose(d["coords_start_relative"][bi, 0, 0], sx.mean() - sx, atol=1e-12)
    np.testing.assert_allclose(d["coords_relative"].sum(axis=3), 0, atol=1e-9)
    g1 = raw.generate_grouped_data(N, nsamples=5, seed=0)
    assert np.all(g1["coords_relative"] == 0)
    np.testing.assert_array_equal(g1["coords_offsets"], g1["coords_nn"])


def test_get_relative_coords_closed_form() -> None:
    coords = np.array([[[[1.0, 3.0], [10.0, 20.0]]]])  # B=1, C=2: x = 1, 3; y = 10, 20
    off, rel = get_relative_coords(coords)
    np.testing.assert_array_equal(off, [[[[2.0], [15.0]]]])
    np.testing.assert_array_equal(rel, [[[[1.0, -1.0], [5.0, -5.0]]]])
    with pytest.raises(ValueError, match=r"expected shape \(B, 1, 2, C\)"):
        get_relative_coords(np.zeros((2, 2, 4)))


def test_x_full_normalisation_over_whole_set() -> None:
    """§6.3: X_full = c·diffraction with one c for the whole set and mean Σ X² = (N/2)²."""
    raw = _raw(seed=2)
    d = raw.generate_grouped_data(N, K=5, nsamples=10, seed=1, gridsize=2)
    diff = d["diffraction"].astype(np.float64)
    c_ref = np.sqrt((N / 2) ** 2 / np.mean(np.sum(diff**2, axis=(1, 2))))
    assert d["X_full_norm"] == pytest.approx(c_ref, rel=1e-12)
    np.testing.assert_allclose(d["X_full"], (c_ref * diff).astype(np.float32), rtol=1e-6)
    assert np.mean(np.sum(d["X_full"].astype(np.float64) ** 2, axis=(1, 2))) == pytest.approx((N / 2) ** 2, rel=1e-5)


def test_y_cut_from_object_at_positions() -> None:
    """§6.4: without a Y array, ground truth is the N×N object window centred at (row=y, col=x)."""
    raw = _raw(seed=3)
    assert raw.objectGuess is not None
    d = raw.generate_grouped_data(N, K=4, nsamples=6, seed=2, gridsize=2)
    idx = d["nn_indices"]
    for bi in range(6):
        for ci in range(4):
            j = idx[bi, ci]
            r, c = int(raw.ycoords[j]), int(raw.xcoords[j])
            window = raw.objectGuess[r - N // 2 : r + N // 2, c - N // 2 : c + N // 2]
            np.testing.assert_allclose(d["Y"][bi, :, :, ci], window, rtol=1e-6, atol=1e-6)


def test_y_from_file_array_and_none() -> None:
    """§6.4: a per-position Y array is gathered like the patterns; no Y and no object -> None."""
    raw = _raw(seed=4, with_y=True)
    assert raw.Y is not None
    d = raw.generate_grouped_data(N, K=4, nsamples=5, seed=0, gridsize=2)
    for bi in range(5):
        for ci in range(4):
            np.testing.assert_array_equal(d["Y"][bi, :, :, ci], raw.Y[d["nn_indices"][bi, ci]])
    bare = RawData.from_coords_without_pc(raw.xcoords, raw.ycoords, raw.diff3d, raw.probeGuess, raw.scan_index)
    d = bare.generate_grouped_data(N, nsamples=3, seed=0)
    assert d["Y"] is None and d["objectGuess"] is None


def test_sequential_and_reproducible_dicts() -> None:
    """§2: sequential seeds are the first positions; a seed reproduces the whole dict."""
    raw = _raw(seed=5)
    d = raw.generate_grouped_data(N, nsamples=7, sequential_sampling=True)
    np.testing.assert_array_equal(d["nn_indices"][:, 0], np.arange(7))
    a = raw.generate_grouped_data(N, K=7, nsamples=9, seed=42, gridsize=2)
    b = raw.generate_grouped_data(N, K=7, nsamples=9, seed=42, gridsize=2)
    c = raw.generate_grouped_data(N, K=7, nsamples=9, seed=43, gridsize=2)
    np.testing.assert_array_equal(a["nn_indices"], b["nn_indices"])
    np.testing.assert_array_equal(a["X_full"], b["X_full"])
    assert not np.array_equal(a["nn_indices"], c["nn_indices"])
    s1 = raw.generate_grouped_data(N, K=7, nsamples=9, sequential_sampling=True, gridsize=2)
    s2 = raw.generate_grouped_data(N, K=7, nsamples=9, sequential_sampling=True, gridsize=2)
    np.testing.assert_array_equal(s1["nn_indices"], s2["nn_indices"])  # seed None -> 0 when sequential


def test_errors() -> None:
    """§5/§6: N must match the data; grouping errors propagate as ValueError."""
    raw = _raw(m=3, seed=6)
    with pytest.raises(ValueError, match="N: expected the data's pattern size 64, found 128"):
        raw.generate_grouped_data(128)
    with pytest.raises(ValueError, match="expected at least C"):
        raw.generate_grouped_data(N, K=4, gridsize=2)
    raw = _raw(m=10, seed=6)
    with pytest.raises(ValueError, match="K: expected K >= C"):
        raw.generate_grouped_data(N, K=3, gridsize=2)


def test_sample_indices_echoed(tmp_path: Path) -> None:
    """§6.5: indices of a subsampled load are echoed in the grouped dict."""
    path = tmp_path / "s.npz"
    _raw(m=20, seed=7).to_file(path)
    raw = load_data(path, n_subsample=8, subsample_seed=1)
    d = raw.generate_grouped_data(N, nsamples=4, seed=0)
    np.testing.assert_array_equal(d["sample_indices"], raw.sample_indices)
    assert "sample_indices" not in RawData.from_file(path).generate_grouped_data(N, nsamples=2, seed=0)
