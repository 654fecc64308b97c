"""Phase synchronisation of reconstructed patches before stitching (specs/physics.md §6.1).

A far-field pattern cannot tell an object patch ``O`` from ``O·exp(iφ)``: ``|F(P·O·e^{iφ})| = |F(P·O)|``.
A network that reconstructs one pattern (or one group) at a time therefore returns each patch with a
phase constant of its own, and averaging overlapping patches with unrelated constants destroys the
phase. Overlapping patches show the same object, so the constants can be recovered from the overlaps:
choose unit factors ``z_k`` maximising the agreement

    Σ_{k,j overlapping} Re( conj(z_k) · H_kj · z_j ),   H_kj = Σ_{overlap pixels} conj(c_k) · c_j,

(``c_k`` the central M × M crop of patch k placed at its rounded position), i.e. the leading eigenvector
of the sparse Hermitian matrix H (the "phase synchronisation" problem on the overlap graph), solved with
Lanczos iterations (``scipy.sparse.linalg.eigsh``). The result is defined up to one global phase, which
no measurement fixes either.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_array
from .patches import patch_stack

__all__ = ["phase_sync_factors"]


def phase_sync_factors(patches: np.ndarray, positions: np.ndarray, M: int = 32) -> np.ndarray:
    """Unit phase factors that make overlapping patches agree (see module docstring).

    Args:
        patches: (P, N, N) or (P, N, N, 1) complex patches, one per scan position.
        positions: (P, 2) rows ``[x, y]`` in object pixels (or (P, 1, 2, 1)).
        M: side of the central crop compared between patches (1 <= M <= N); use the region the probe
            illuminates (32 for N = 64).

    Returns:
        (P,) complex128 with |z| = 1: multiply patch k by ``z[k]`` before stitching. Patches that overlap
        no other get the factor of the eigenvector as found (isolated; any constant is as good). With one
        patch the result is ``[1]``.
    """
    func = "phase_sync_factors"
    arr, m = patch_stack(patches, M, func)
    n = arr.shape[-1]
    pos = as_array(positions, "positions", func, allow_complex=False).astype(np.float64)
    if pos.ndim == 4 and pos.shape[1:] == (1, 2, 1):
        pos = pos.reshape(-1, 2)
    if pos.shape != (arr.shape[0], 2):
        raise ValueError(f"{func}: positions: expected shape ({arr.shape[0]}, 2) rows [x, y], found shape {pos.shape}")
    count = arr.shape[0]
    if count == 1:
        return np.ones(1, dtype=np.complex128)

    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import eigsh
    from scipy.spatial import cKDTree

    lo = n // 2 - m // 2
    crops = arr[:, lo : lo + m, lo : lo + m].astype(np.complex128)
    rounded = np.round(pos).astype(np.int64)
    pairs = cKDTree(pos).query_pairs(r=float(m) - 1.0, output_type="ndarray")
    if len(pairs) == 0:
        return np.ones(count, dtype=np.complex128)
    values = np.zeros(len(pairs), dtype=np.complex128)
    for t, (k, j) in enumerate(pairs):
        dx, dy = rounded[j] - rounded[k]
        r0, r1 = max(0, dy), min(m, m + dy)
        c0, c1 = max(0, dx), min(m, m + dx)
        if r1 <= r0 or c1 <= c0:
            continue
        values[t] = np.vdot(crops[k, r0:r1, c0:c1], crops[j, r0 - dy : r1 - dy, c0 - dx : c1 - dx])
    upper = coo_matrix((values, (pairs[:, 0], pairs[:, 1])), shape=(count, count)).tocsr()
    hermitian = upper + upper.conj().T
    if count <= 3:
        _, vectors = np.linalg.eigh(hermitian.toarray())
        lead = vectors[:, -1]
    else:
        _, vectors = eigsh(hermitian, k=1, which="LA", v0=np.ones(count, dtype=np.complex128))
        lead = vectors[:, 0]
    mag = np.abs(lead)
    z = np.where(mag > 1e-300, lead / np.where(mag > 1e-300, mag, 1.0), 1.0)
    # fix the free global phase so that the result is deterministic: the mean factor is real positive
    mean = z.sum()
    if abs(mean) > 0:
        z = z * (np.conj(mean) / abs(mean))
    return z.astype(np.complex128)
