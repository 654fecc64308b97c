"""Channel / flat / grid layouts of grouped tensors (specs/physics.md §1.2), torch mirror of
``ptycho.physics.formats``. All are views/reshapes (dtype and device kept, autograd-friendly).

channel (B, N, N, C); flat (B*C, N, N, 1), index b*C + c; grid (B, gs, gs, N, N, 1), channel c at
(row c // gs, col c % gs); offsets channel (B, 1, 2, C) [x; y] <-> flat (B*C, 2) rows [x, y].
"""

from __future__ import annotations

import torch

from ptycho.physics.checks import grid_shape, square_gridsize

__all__ = ["channel_to_flat", "flat_to_channel", "channel_to_grid", "grid_to_channel",
           "offsets_channel_to_flat", "offsets_flat_to_channel"]


def _tensor(x, name: str, func: str, ndim: int, layout: str) -> torch.Tensor:
    t = x if torch.is_tensor(x) else torch.as_tensor(x)
    if t.dim() != ndim:
        raise ValueError(f"{func}: {name}: expected shape {layout}, found shape {tuple(t.shape)}")
    return t


def _divisor(C, total: int, func: str) -> int:
    if isinstance(C, bool) or not isinstance(C, int) or C < 1 or total % C:
        raise ValueError(f"{func}: C: expected a positive divisor of {total}, found {C!r}")
    return C


def channel_to_flat(x: torch.Tensor) -> torch.Tensor:
    """(B, N, N, C) -> (B*C, N, N, 1)."""
    t = _tensor(x, "x", "channel_to_flat", 4, "(B, N, N, C)")
    b, h, w, c = t.shape
    return t.permute(0, 3, 1, 2).reshape(b * c, h, w, 1)


def flat_to_channel(x: torch.Tensor, C: int) -> torch.Tensor:
    """(B*C, N, N, 1) -> (B, N, N, C)."""
    func = "flat_to_channel"
    t = _tensor(x, "x", func, 4, "(B*C, N, N, 1)")
    if t.shape[-1] != 1:
        raise ValueError(f"{func}: x: expected shape (B*C, N, N, 1), found shape {tuple(t.shape)}")
    c = _divisor(C, t.shape[0], func)
    bc, h, w, _ = t.shape
    return t[..., 0].reshape(bc // c, c, h, w).permute(0, 2, 3, 1)


def channel_to_grid(x: torch.Tensor) -> torch.Tensor:
    """(B, N, N, C) -> (B, gs, gs, N, N, 1)."""
    func = "channel_to_grid"
    t = _tensor(x, "x", func, 4, "(B, N, N, C)")
    b, h, w, c = t.shape
    gs = square_gridsize(c, func)
    return t.permute(0, 3, 1, 2).reshape(b, gs, gs, h, w, 1)


def grid_to_channel(x: torch.Tensor) -> torch.Tensor:
    """(B, gs, gs, N, N, 1) -> (B, N, N, gs*gs)."""
    func = "grid_to_channel"
    t = _tensor(x, "x", func, 6, "(B, gs, gs, N, N, 1)")
    b, gs, h, w = grid_shape(tuple(t.shape), func)
    return t.reshape(b, gs * gs, h, w).permute(0, 2, 3, 1)


def offsets_channel_to_flat(offsets: torch.Tensor) -> torch.Tensor:
    """(B, 1, 2, C) -> (B*C, 2) rows [x, y]."""
    func = "offsets_channel_to_flat"
    t = _tensor(offsets, "offsets", func, 4, "(B, 1, 2, C)")
    if tuple(t.shape[1:3]) != (1, 2):
        raise ValueError(f"{func}: offsets: expected shape (B, 1, 2, C), found shape {tuple(t.shape)}")
    b, _, _, c = t.shape
    return t[:, 0].permute(0, 2, 1).reshape(b * c, 2)


def offsets_flat_to_channel(offsets: torch.Tensor, C: int) -> torch.Tensor:
    """(B*C, 2) rows [x, y] -> (B, 1, 2, C)."""
    func = "offsets_flat_to_channel"
    t = _tensor(offsets, "offsets", func, 2, "(B*C, 2)")
    if t.shape[1] != 2:
        raise ValueError(f"{func}: offsets: expected shape (B*C, 2), found shape {tuple(t.shape)}")
    c = _divisor(C, t.shape[0], func)
    return t.reshape(t.shape[0] // c, c, 2).permute(0, 2, 1)[:, None]
