"""Vectorised selection of which scan positions form each training/inference group.

Normative text: specs/grouping.md. These are pure index functions (positions in, integer index
arrays out); :meth:`ptycho.raw_data.RawData.generate_grouped_data` turns the indices into arrays.

A group has C = gridsize² members. With C = 1 every group is a single *seed* position. With C > 1
each seed's K nearest neighbours (the seed itself excluded) are found with one batched
``scipy.spatial.cKDTree.query`` and C of them are picked uniformly at random without replacement,
using one row of random keys per group and ``argsort`` (no Python loop over groups), so 100,000
positions group in well under a second of index work. All randomness comes from a
``numpy.random.Generator`` passed in by the caller; the global numpy RNG is never touched.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

__all__ = [
    "choose_members",
    "group_indices",
    "nearest_neighbors",
    "oversample_groups",
    "select_seeds",
]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"grouping: {name}: expected a positive integer, found {value!r}")
    return int(value)


def select_seeds(n: int, nsamples: int, rng: np.random.Generator, sequential: bool = False) -> np.ndarray:
    """Pick the seed position of each group (specs/grouping.md §2).

    Args:
        n: number of positions. nsamples: groups wanted.
        rng: random generator (unused when sequential or when nsamples >= n).
        sequential: take the first ``min(nsamples, n)`` positions.

    Returns:
        (B,) int64 indices, B = min(nsamples, n): ``arange(B)`` when sequential or nsamples >= n,
        else B distinct indices drawn uniformly without replacement, in draw order.
    """
    b = min(nsamples, n)
    if sequential or nsamples >= n:
        return np.arange(b, dtype=np.int64)
    return rng.choice(n, size=b, replace=False).astype(np.int64)


def nearest_neighbors(points: np.ndarray, seeds: np.ndarray, k: int, tree: cKDTree | None = None) -> np.ndarray:
    """K nearest neighbours of each seed, the seed itself excluded (specs/grouping.md §3).

    Args:
        points: (n, 2) float positions [x, y] in object pixels.
        seeds: (B,) int indices into ``points``.
        k: neighbours wanted per seed.
        tree: optional prebuilt ``cKDTree(points)``.

    Returns:
        (B, P) int64, P = min(k, n − 1), nearest first. The seed is removed by *index*, not by
        rank, so a position duplicated at the same coordinates still counts as a neighbour.
    """
    n = points.shape[0]
    kq = min(k + 1, n)
    if kq <= 1:
        return np.zeros((seeds.shape[0], 0), dtype=np.int64)
    tree = cKDTree(points) if tree is None else tree
    _, idx = tree.query(points[seeds], k=kq)
    idx = np.asarray(idx, dtype=np.int64).reshape(seeds.shape[0], kq)
    keep = idx != seeds[:, None]
    # rows where ties hid the seed beyond the k+1 returned: drop the farthest hit instead
    no_seed = keep.all(axis=1)
    keep[no_seed, -1] = False
    return idx[keep].reshape(seeds.shape[0], kq - 1)


def choose_members(candidates: np.ndarray, c: int, rng: np.random.Generator) -> np.ndarray:
    """Choose ``c`` distinct entries of each row uniformly at random (specs/grouping.md §3).

    Args:
        candidates: (B, P) int indices, P >= c.
        c: members per group.

    Returns:
        (B, c) int64 in random order; each row a uniform random c-subset of its row.
    """
    b, p = candidates.shape
    if p < c:
        raise ValueError(f"grouping: candidates: expected at least {c} per row, found {p}")
    keys = rng.random((b, p))
    order = np.argsort(keys, axis=1)[:, :c]
    return np.take_along_axis(candidates, order, axis=1)


def oversample_groups(
    points: np.ndarray, nsamples: int, c: int, pool: int, rng: np.random.Generator, tree: cKDTree | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """More groups than positions by enumerating neighbour combinations (specs/grouping.md §4).

    Each seed contributes all C-combinations of its ``pool`` nearest neighbours (self excluded).
    Just enough random seeds are drawn to yield about twice ``nsamples`` combinations; the
    enumerated list is cut at 2·nsamples and ``nsamples`` rows are drawn from it without
    replacement (with replacement only if the list is still shorter than nsamples).

    Returns:
        (nsamples, c) int64 indices and the (nsamples,) int64 seed each row came from.
    """
    n = points.shape[0]
    p = min(pool, n - 1)
    if p < c:
        raise ValueError(
            f"grouping: oversampling needs at least {c} neighbours per seed, found {p} "
            f"(n={n} positions, neighbor pool {pool})"
        )
    # never more than 2·nsamples combinations are kept, so enumerate at most that many per seed
    combos = np.array(list(itertools.islice(itertools.combinations(range(p), c), 2 * nsamples)), dtype=np.int64)
    per_seed = combos.shape[0]
    n_seeds = min(2 * math.ceil(nsamples / per_seed), n)
    seeds = rng.choice(n, size=n_seeds, replace=False).astype(np.int64)
    nbrs = nearest_neighbors(points, seeds, p, tree)  # (S, p)
    rows = nbrs[:, combos].reshape(-1, c)[: 2 * nsamples]
    row_seeds = np.repeat(seeds, combos.shape[0])[: 2 * nsamples]
    pick = rng.choice(rows.shape[0], size=nsamples, replace=rows.shape[0] < nsamples)
    return rows[pick], row_seeds[pick]


def group_indices(
    xcoords: np.ndarray,
    ycoords: np.ndarray,
    gridsize: int = 1,
    K: int = 4,
    nsamples: int = 1,
    rng: np.random.Generator | None = None,
    sequential_sampling: bool = False,
    enable_oversampling: bool = False,
    neighbor_pool_size: int | None = None,
    return_seeds: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Indices of the positions forming each group (specs/grouping.md §1-§5).

    Args:
        xcoords, ycoords: (n,) positions in object pixels (x = column, y = row).
        gridsize: groups have C = gridsize² members.
        K: nearest neighbours considered per seed (C > 1 only); must be >= C.
        nsamples: groups wanted; B = min(nsamples, n) unless oversampling.
        rng: random generator; ``np.random.default_rng()`` (fresh entropy) when None.
        sequential_sampling: seeds are the first B positions.
        enable_oversampling: allow nsamples > n when C > 1 (neighbour combinations).
        neighbor_pool_size: neighbours enumerated when oversampling (default K); must be > C.
        return_seeds: also return the seed of each group.

    Returns:
        (B, C) int32 indices into the coordinate arrays; with ``return_seeds`` also the (B,)
        int64 seed of each group (for C = 1 the seed is the member; when oversampling, the seed
        whose neighbour combination the group is).

    Raises:
        ValueError: n < C, K < C (for C > 1), nsamples > n with C > 1 without opt-in, bad sizes.
    """
    x = np.asarray(xcoords, dtype=np.float64)
    y = np.asarray(ycoords, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"grouping: coordinates: expected two 1-D arrays of equal length, found {x.shape} and {y.shape}")
    gs = _positive_int(gridsize, "gridsize")
    k = _positive_int(K, "K")
    ns = _positive_int(nsamples, "nsamples")
    rng = np.random.default_rng() if rng is None else rng
    n = x.shape[0]
    c = gs * gs
    if n < c:
        raise ValueError(f"grouping: positions: expected at least C = gridsize² = {c}, found n = {n}")
    if c > 1 and k < c:
        raise ValueError(f"grouping: K: expected K >= C = gridsize² = {c} neighbours, found K = {k}")
    if c == 1:
        seeds = select_seeds(n, ns, rng, sequential_sampling)
        groups = seeds[:, None].astype(np.int32)
        return (groups, seeds) if return_seeds else groups
    points = np.stack([x, y], axis=1)
    tree = cKDTree(points)
    if ns > n:
        pool = k if neighbor_pool_size is None else _positive_int(neighbor_pool_size, "neighbor_pool_size")
        if not enable_oversampling:
            raise ValueError(
                f"grouping: nsamples: expected at most n = {n} groups, found {ns}; "
                f"more groups than positions needs enable_oversampling=True and a neighbour pool > C = {c}"
            )
        if pool <= c:
            raise ValueError(f"grouping: neighbor_pool_size: expected > C = {c} for oversampling, found {pool}")
        groups, seeds = oversample_groups(points, ns, c, pool, rng, tree)
        groups = groups.astype(np.int32)
        return (groups, seeds) if return_seeds else groups
    seeds = select_seeds(n, ns, rng, sequential_sampling)
    nbrs = nearest_neighbors(points, seeds, k, tree)
    if nbrs.shape[1] < c:  # too few other positions: the seed itself becomes a candidate
        nbrs = np.concatenate([seeds[:, None], nbrs], axis=1)
    groups = choose_members(nbrs, c, rng).astype(np.int32)
    return (groups, seeds) if return_seeds else groups
