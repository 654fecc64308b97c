"""A small random scan in the data contract's keys (specs/data-contract.md §2), shared by the loader and the
contract-error tests."""

from __future__ import annotations

import numpy as np

__all__ = ["N", "random_scan"]

#: diffraction pattern side of :func:`random_scan`
N = 64


def random_scan(m: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """``m`` patterns (m, N, N) float32 in [0, 1), positions and start positions uniform in [40, 80) px, a random
    (N, N) complex64 probe and a random (140, 150) complex64 object, all drawn from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return {
        "diffraction": rng.random((m, N, N)).astype(np.float32),
        "xcoords": rng.uniform(40, 80, m),
        "ycoords": rng.uniform(40, 80, m),
        "xcoords_start": rng.uniform(40, 80, m),
        "ycoords_start": rng.uniform(40, 80, m),
        "probeGuess": (rng.random((N, N)) + 1j * rng.random((N, N))).astype(np.complex64),
        "objectGuess": (rng.random((140, 150)) * np.exp(1j * rng.random((140, 150)))).astype(np.complex64),
    }
