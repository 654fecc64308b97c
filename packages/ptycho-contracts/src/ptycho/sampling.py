"""The order in which a training epoch visits the groups, shared by both backends (specs/grouping.md §8).

One function of (n, seed, epoch), with no hidden generator state: a run resumed from a checkpoint replays
exactly the batches an uninterrupted run would have seen, and the TensorFlow and PyTorch trainers, given one
seed, visit the groups in the same order (so the same scan and config train on the same batches).
"""

from __future__ import annotations

import numpy as np

__all__ = ["epoch_order"]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """(n,) int64 permutation of ``range(n)`` for ``epoch``: ``default_rng([seed mod 2**32, epoch]).permutation(n)``.

    Args:
        n: number of training groups (>= 0).
        seed: the run's seed (any integer; reduced modulo 2**32).
        epoch: 0-based epoch index (>= 0).
    """
    if int(n) < 0 or int(epoch) < 0:
        raise ValueError(f"epoch_order: expected n >= 0 and epoch >= 0, found n={n}, epoch={epoch}")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(epoch)])
    return rng.permutation(int(n)).astype(np.int64)
