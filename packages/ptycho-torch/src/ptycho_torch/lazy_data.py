"""Grouped model input read batch by batch from a scan larger than memory (specs/scaling.md §2).

A scan whose diffraction stays on disk (``ptycho.scan_hdf5.LazyDiffraction``) is grouped without assembling
the (B, N, N, C) input: :class:`LazyGroupedStack` keeps the group members ``nn_indices`` (B, C) and the
normalisation factor and, for a batch of group indices, reads those patterns and forms
``float32(factor * diff)`` - the arithmetic of ``ptycho.physics.normalize_diffraction``, so a batch equals the
in-memory container's batch up to the factor's float64 summation order (≤ 1 float32 ulp).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["LazyGroupedStack"]


class LazyGroupedStack:
    """(B, N, N, C) float32 normalised amplitudes materialised one batch at a time.

    Args:
        stack: (M, N, N) array-like read on demand (``stack[int_array]`` -> float32 ndarray).
        nn_indices: (B, C) int members of every group.
        factor: normalisation factor c (mean_b Σ (c·X)² = (N/2)² over the grouped patterns).
    """

    dtype = torch.float32
    ndim = 4

    def __init__(self, stack: Any, nn_indices: Any, factor: float) -> None:
        self.stack = stack
        self.nn_indices = np.ascontiguousarray(np.asarray(nn_indices, dtype=np.int64))
        if self.nn_indices.ndim != 2:
            raise ValueError(f"LazyGroupedStack: nn_indices: expected (B, C), found shape {self.nn_indices.shape}")
        self.factor = float(factor)
        b, c = self.nn_indices.shape
        n = int(stack.shape[1])
        self.shape = (b, n, n, c)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> torch.Tensor:
        idx = np.asarray(torch.as_tensor(index, dtype=torch.int64).numpy())
        rows = np.asarray(self.stack[self.nn_indices[idx]])  # (..., C, N, N)
        x = (rows.astype(np.float64) * self.factor).astype(np.float32)
        return torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -3, -1)))
