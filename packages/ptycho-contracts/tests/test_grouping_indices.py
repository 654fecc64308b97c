"""Index selection of ptycho.grouping (specs/grouping.md §1-§5), checked against brute-force numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptycho.grouping import choose_members, group_indices, nearest_neighbors, select_seeds


def _positions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 200, n), rng.uniform(0, 200, n)


def _kth_other_distance(x: np.ndarray, y: np.ndarray, s: int, k: int) -> float:
    """Distance from position s to its k-th nearest *other* position (brute force)."""
    d = np.hypot(x - x[s], y - y[s])
    d = np.delete(d, s)
    return float(np.sort(d)[min(k, d.size) - 1])


@given(
    n=st.integers(1, 60),
    gridsize=st.integers(1, 3),
    extra_k=st.integers(0, 5),
    nsamples=st.integers(1, 80),
    seed=st.integers(0, 2**31 - 1),
    sequential=st.booleans(),
)
def test_group_properties(n: int, gridsize: int, extra_k: int, nsamples: int, seed: int, sequential: bool) -> None:
    """§2-§3: shape (B, C), B = min(nsamples, n); distinct members; the seed is excluded whenever
    at least C other positions exist; members are among the seed's K nearest others."""
    c = gridsize * gridsize
    k = c + extra_k
    x, y = _positions(n, seed)
    if n < c:
        with pytest.raises(ValueError, match="expected at least C"):
            group_indices(x, y, gridsize, k, nsamples, np.random.default_rng(seed))
        return
    if c > 1 and nsamples > n:
        with pytest.raises(ValueError, match="enable_oversampling"):
            group_indices(x, y, gridsize, k, nsamples, np.random.default_rng(seed))
        return
    groups, seeds = group_indices(
        x, y, gridsize, k, nsamples, np.random.default_rng(seed), sequential_sampling=sequential, return_seeds=True
    )
    b = min(nsamples, n)
    assert groups.shape == (b, c) and groups.dtype == np.int32
    assert seeds.shape == (b,)
    assert len(set(seeds.tolist())) == b  # seeds are distinct positions
    if sequential or nsamples >= n:
        np.testing.assert_array_equal(seeds, np.arange(b))
    assert groups.min() >= 0 and groups.max() < n
    for row, s in zip(groups, seeds, strict=True):
        assert len(set(row.tolist())) == c
        if c == 1:
            assert row[0] == s
            continue
        if n - 1 >= c:
            assert s not in row
        limit = _kth_other_distance(x, y, s, k)
        d = np.hypot(x[row] - x[s], y[row] - y[s])
        assert np.all(d <= limit + 1e-9)


def test_reproducible_for_a_seed_and_different_across_seeds() -> None:
    """§2: the same seed gives identical groups; other seeds give other groups."""
    x, y = _positions(50, 1)
    for gs in (1, 2):
        a = group_indices(x, y, gs, 7, 20, np.random.default_rng(123))
        b = group_indices(x, y, gs, 7, 20, np.random.default_rng(123))
        c = group_indices(x, y, gs, 7, 20, np.random.default_rng(124))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_global_rng_untouched() -> None:
    """§2: grouping never reads or advances numpy's global RNG."""
    x, y = _positions(30, 2)
    np.random.seed(77)  # noqa: NPY002 - the legacy global RNG is what must stay untouched
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    group_indices(x, y, 2, 6, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_sequential_seeds_and_gridsize1_groups() -> None:
    """§2: sequential sampling seeds are the first B positions; gridsize 1 groups are the seeds."""
    x, y = _positions(25, 3)
    g = group_indices(x, y, 1, 4, 10, np.random.default_rng(0), sequential_sampling=True)
    np.testing.assert_array_equal(g[:, 0], np.arange(10))
    g = group_indices(x, y, 1, 4, 100, np.random.default_rng(0))
    np.testing.assert_array_equal(g[:, 0], np.arange(25))
    g = group_indices(x, y, 1, 4, 10, np.random.default_rng(9))
    np.testing.assert_array_equal(np.sort(g[:, 0]), np.sort(np.random.default_rng(9).choice(25, 10, replace=False)))


def test_errors_n_lt_c_and_k_lt_c() -> None:
    """§5: fewer positions than C, or K < C, are refused with the numbers in the message."""
    x, y = _positions(3, 4)
    with pytest.raises(ValueError, match=r"expected at least C = gridsize² = 4, found n = 3"):
        group_indices(x, y, 2, 4, 1, np.random.default_rng(0))
    x, y = _positions(20, 4)
    with pytest.raises(ValueError, match=r"K: expected K >= C = gridsize² = 4 neighbours, found K = 3"):
        group_indices(x, y, 2, 3, 5, np.random.default_rng(0))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="gridsize: expected a positive integer"):
            group_indices(x, y, bad, 4, 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="equal length"):
        group_indices(x, y[:-1], 1, 4, 5)


def test_nearest_neighbors_excludes_seed_by_index_with_duplicates() -> None:
    """§3: a position duplicated at the seed's coordinates is a neighbour; the seed itself is not."""
    x = np.array([0.0, 0.0, 0.0, 5.0, 9.0])
    y = np.zeros(5)
    pts = np.stack([x, y], axis=1)
    nb = nearest_neighbors(pts, np.array([0, 1, 2, 4]), 2)
    assert nb.shape == (4, 2)
    for s, row in zip([0, 1, 2, 4], nb, strict=True):
        assert s not in row
    assert set(nb[0]) == {1, 2} and set(nb[1]) == {0, 2} and set(nb[2]) == {0, 1}
    np.testing.assert_array_equal(nb[3], [3, 0] if nb[3][1] == 0 else nb[3])
    assert nb[3][0] == 3


def test_choose_members_is_uniform() -> None:
    """§3: each of P candidates is chosen with probability C/P (binomial 5-sigma bound)."""
    b, p, c = 20000, 7, 4
    cand = np.tile(np.arange(p), (b, 1))
    chosen = choose_members(cand, c, np.random.default_rng(5))
    assert all(len(set(r)) == c for r in chosen[:200].tolist())
    freq = np.bincount(chosen.ravel(), minlength=p) / b
    sigma = np.sqrt((c / p) * (1 - c / p) / b)
    assert np.all(np.abs(freq - c / p) < 5 * sigma)
    first = np.bincount(chosen[:, 0], minlength=p) / b  # order is random too
    assert np.all(np.abs(first - 1 / p) < 5 * np.sqrt((1 / p) * (1 - 1 / p) / b))


def test_too_few_others_uses_seed_as_candidate() -> None:
    """§3: with n == C the only possible group is all positions, the seed included."""
    x, y = _positions(4, 6)
    g, s = group_indices(x, y, 2, 4, 4, np.random.default_rng(0), return_seeds=True)
    assert g.shape == (4, 4)
    assert all(sorted(r) == [0, 1, 2, 3] for r in g.tolist())


def test_oversampling() -> None:
    """§4: more groups than positions only with opt-in and a pool > C; rows are distinct
    combinations of the seed's nearest others."""
    x, y = _positions(30, 7)
    with pytest.raises(ValueError, match="enable_oversampling=True"):
        group_indices(x, y, 2, 7, 90, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"neighbor_pool_size: expected > C = 4"):
        group_indices(x, y, 2, 7, 90, np.random.default_rng(0), enable_oversampling=True, neighbor_pool_size=4)
    g, seeds = group_indices(
        x, y, 2, 4, 90, np.random.default_rng(0), enable_oversampling=True, neighbor_pool_size=7, return_seeds=True
    )
    assert g.shape == (90, 4) and g.dtype == np.int32
    pairs = {(int(s), *r) for s, r in zip(seeds, g.tolist(), strict=True)}
    assert len(pairs) == 90  # drawn without replacement from distinct (seed, combination) rows
    for row, s in zip(g, seeds, strict=True):
        assert s not in row and len(set(row.tolist())) == 4
        limit = _kth_other_distance(x, y, s, 7)
        assert np.all(np.hypot(x[row] - x[s], y[row] - y[s]) <= limit + 1e-9)
    again = group_indices(x, y, 2, 4, 90, np.random.default_rng(0), enable_oversampling=True, neighbor_pool_size=7)
    np.testing.assert_array_equal(g, again)
    # gridsize 1 never oversamples: B = n
    assert group_indices(x, y, 1, 4, 90, np.random.default_rng(0), enable_oversampling=True).shape == (30, 1)


def test_select_seeds_direct() -> None:
    rng = np.random.default_rng(0)
    assert select_seeds(5, 3, rng, sequential=True).tolist() == [0, 1, 2]
    s = select_seeds(100, 10, np.random.default_rng(1))
    assert len(set(s.tolist())) == 10 and s.dtype == np.int64
