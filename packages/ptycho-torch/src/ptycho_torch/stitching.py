"""Inference stitching for the PyTorch backend (normative text: specs/torch-workflow.md §6).

Object patches (the workflow's: one trimmed patch per group at gridsize 1, every group member's own patch at
gridsize > 1) are placed on a canvas at their positions with ``ptycho_torch.physics.reassemble_position`` (central M×M crop,
shift-and-sum, overlap-count normalisation; the torch mirror of ``ptycho.physics``), after the
optional data-alignment transforms of the TensorFlow workflow:

* ``transpose``: swap the two spatial axes of every patch (rows <-> columns);
* ``flip_x``: negate the x (column) offsets;  ``flip_y``: negate the y (row) offsets.

``canvas_origin`` (the object coordinates of a canvas's pixel (0, 0)) is the reference's
``ptycho.physics.canvas_origin``, re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ptycho.physics.patches import canvas_origin


def as_group_patches(obj: Any) -> torch.Tensor:
    """Return model output as (P, N, N) complex64; accepts (P, N, N), (P, N, N, 1) or (P, 1, N, N)."""
    t = torch.as_tensor(obj)
    if t.ndim == 4 and t.shape[-1] == 1:
        t = t[..., 0]
    elif t.ndim == 4 and t.shape[1] == 1:
        t = t[:, 0]
    if t.ndim != 3 or t.shape[1] != t.shape[2]:
        raise ValueError(
            f"patches: expected one square patch per group, (P, N, N) / (P, N, N, 1) / (P, 1, N, N), found {tuple(t.shape)}"
        )
    if not t.is_complex():
        raise ValueError(f"patches: expected a complex dtype, found {t.dtype}")
    return t.to(torch.complex64)


def as_offsets(global_offsets: Any, n: int) -> torch.Tensor:
    """Return group offsets as (P, 2) float64 rows [x, y]; accepts (P, 1, 2, 1) or (P, 2)."""
    t = torch.as_tensor(global_offsets)
    if t.ndim == 4 and tuple(t.shape[1:]) == (1, 2, 1):
        t = t.reshape(-1, 2)
    if t.ndim != 2 or t.shape != (n, 2):
        raise ValueError(f"global_offsets: expected ({n}, 1, 2, 1) or ({n}, 2), found {tuple(t.shape)}")
    return t.to(torch.float64)


def apply_alignment(
    patches: torch.Tensor, offsets: torch.Tensor, *, flip_x: bool = False, flip_y: bool = False, transpose: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the transpose/flip transforms; returns new tensors (inputs untouched)."""
    if transpose:
        patches = patches.transpose(-2, -1)
    offsets = offsets.clone()
    if flip_x:
        offsets[:, 0] = -offsets[:, 0]
    if flip_y:
        offsets[:, 1] = -offsets[:, 1]
    return patches.contiguous(), offsets


def stitch_patches(
    patches: Any,
    global_offsets: Any,
    M: int = 20,
    *,
    flip_x: bool = False,
    flip_y: bool = False,
    transpose: bool = False,
    interpolation: str = "bilinear",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stitch P patches into a 2-D complex canvas.

    Args:
        patches: (P, N, N) complex (or (P, N, N, 1) / (P, 1, N, N)).
        global_offsets: (P, 1, 2, 1) or (P, 2) the patches' centres [x, y] in object pixels.
        M: side of the central crop of every patch used in the shift-and-sum (0 < M <= N).
        interpolation: 'bilinear' (default) or 'fourier', passed to ``reassemble_position``
            (specs/physics.md §6.2).

    Returns:
        (canvas (H, W) complex64, offsets actually used (P, 2) float64 after the transforms).
    """
    from ptycho_torch.physics import reassemble_position

    p = as_group_patches(patches)
    off = as_offsets(global_offsets, p.shape[0])
    N = p.shape[-1]
    if not isinstance(M, (int, np.integer)) or not 0 < int(M) <= N:
        raise ValueError(f"M: expected an integer with 0 < M <= N={N}, found {M!r}")
    p, off = apply_alignment(p, off, flip_x=flip_x, flip_y=flip_y, transpose=transpose)
    canvas = reassemble_position(p, off.to(p.device), M=int(M), interpolation=interpolation)
    return canvas, off


class StreamingStitcher:
    """:func:`stitch_patches` (bilinear) fed batch by batch: the canvas grows by addition, so memory is the
    canvas plus one batch, whatever the number of patches (specs/scaling.md §3).

    The canvas geometry comes from every group offset up front (cheap: (P, 2) float64); :meth:`add` places
    the central M×M crops of one batch of patches; :meth:`result` divides by the overlap count. Equals
    :func:`stitch_patches` up to the float32 summation order of the sums.

    Args:
        global_offsets: (P, 1, 2, 1) or (P, 2) group centres [x, y] of all patches to come.
        N: patch side; M: crop side (0 < M <= N); flip_x, flip_y, transpose: as :func:`stitch_patches`.
        device: where the canvas lives.
    """

    def __init__(self, global_offsets: Any, N: int, M: int = 20, *, flip_x: bool = False, flip_y: bool = False,
                 transpose: bool = False, device: Any = "cpu") -> None:
        if not isinstance(M, (int, np.integer)) or not 0 < int(M) <= int(N):
            raise ValueError(f"M: expected an integer with 0 < M <= N={N}, found {M!r}")
        off = as_offsets(global_offsets, int(np.asarray(global_offsets).reshape(-1, 2).shape[0]))
        _, self.offsets = apply_alignment(torch.zeros(0, 1, 1), off, flip_x=flip_x, flip_y=flip_y)
        self.transpose, self.N, self.M = bool(transpose), int(N), int(M)
        centred = self.offsets - self.offsets.mean(dim=0, keepdim=True)
        pad = math.ceil(float(centred.abs().max()))
        self.pad = pad + pad % 2
        self.side = self.M + 2 * self.pad
        self._centred = centred.to(device)
        self.total = torch.zeros(self.side, self.side, dtype=torch.complex64, device=device)
        self.count = torch.zeros(self.side, self.side, dtype=torch.float32, device=device)
        self.added = 0

    def add(self, patches: Any, index: Any) -> None:
        """Place patches (b, N, N) complex of the groups ``index`` (b,) ints."""
        from ptycho_torch.physics.patches import accumulate_crops

        p = as_group_patches(patches).to(self.total.device)
        if self.transpose:
            p = p.transpose(-2, -1)
        lo = self.N // 2 - self.M // 2
        idx = torch.as_tensor(index, dtype=torch.int64, device=self.total.device)
        index, values, weights = accumulate_crops(p[:, lo:lo + self.M, lo:lo + self.M], self._centred[idx],
                                                  self.side, self.pad)
        self.total.view(-1).index_add_(0, index, values.to(self.total.dtype))  # 4·B·M² additions, in place
        self.count.view(-1).index_add_(0, index, weights.to(self.count.dtype))
        self.added += int(idx.numel())

    def result(self) -> torch.Tensor:
        """(side, side) complex64 stitched object."""
        from ptycho_torch.physics.patches import normalise_canvas

        return normalise_canvas(self.total, self.count)


__all__ = ["StreamingStitcher", "apply_alignment", "as_group_patches", "as_offsets", "canvas_origin", "stitch_patches"]
