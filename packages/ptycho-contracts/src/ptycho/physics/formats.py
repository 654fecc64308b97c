"""Conversions between the channel, flat and grid layouts of grouped arrays (specs/physics.md §1.2).

* channel: (B, N, N, C), C = gridsize**2, channel c = group member c;
* flat:    (B*C, N, N, 1), flat index ``b*C + c``;
* grid:    (B, gs, gs, N, N, 1), channel c at (row = c // gs, col = c % gs);
* offsets: channel (B, 1, 2, C) with axis 2 = [x, y]; flat (B*C, 2) rows [x, y].
"""

from __future__ import annotations

import numpy as np

from .checks import grid_shape, square_gridsize

__all__ = [
    "channel_to_flat",
    "flat_to_channel",
    "channel_to_grid",
    "grid_to_channel",
    "offsets_channel_to_flat",
    "offsets_flat_to_channel",
]


def _ndarray(value: object, name: str, func: str, ndim: int, layout: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.hasobject:
        raise TypeError(f"{func}: {name}: expected a numeric array, found dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{func}: {name}: expected shape {layout}, found shape {arr.shape}")
    return arr


def channel_to_flat(x: np.ndarray) -> np.ndarray:
    """(B, N, N, C) -> (B*C, N, N, 1) with flat index b*C + c (dtype kept)."""
    arr = _ndarray(x, "x", "channel_to_flat", 4, "(B, N, N, C)")
    b, h, w, c = arr.shape
    return np.transpose(arr, (0, 3, 1, 2)).reshape(b * c, h, w, 1)


def flat_to_channel(x: np.ndarray, C: int) -> np.ndarray:
    """(B*C, N, N, 1) -> (B, N, N, C); inverse of :func:`channel_to_flat`.

    Raises ValueError if the leading size is not a multiple of C.
    """
    func = "flat_to_channel"
    arr = _ndarray(x, "x", func, 4, "(B*C, N, N, 1)")
    if arr.shape[-1] != 1:
        raise ValueError(f"{func}: x: expected shape (B*C, N, N, 1), found shape {arr.shape}")
    if isinstance(C, bool) or not isinstance(C, (int, np.integer)) or C < 1 or arr.shape[0] % C:
        raise ValueError(f"{func}: C: expected a positive divisor of {arr.shape[0]}, found {C!r}")
    bc, h, w, _ = arr.shape
    return np.transpose(arr[..., 0].reshape(bc // C, C, h, w), (0, 2, 3, 1))


def channel_to_grid(x: np.ndarray) -> np.ndarray:
    """(B, N, N, C) -> (B, gs, gs, N, N, 1), channel c at (row = c // gs, col = c % gs)."""
    func = "channel_to_grid"
    arr = _ndarray(x, "x", func, 4, "(B, N, N, C)")
    b, h, w, c = arr.shape
    gs = square_gridsize(c, func)
    return np.transpose(arr, (0, 3, 1, 2)).reshape(b, gs, gs, h, w, 1)


def grid_to_channel(x: np.ndarray) -> np.ndarray:
    """(B, gs, gs, N, N, 1) -> (B, N, N, gs*gs); inverse of :func:`channel_to_grid`."""
    func = "grid_to_channel"
    arr = _ndarray(x, "x", func, 6, "(B, gs, gs, N, N, 1)")
    b, gs, h, w = grid_shape(arr.shape, func)
    return np.transpose(arr.reshape(b, gs * gs, h, w), (0, 2, 3, 1))


def offsets_channel_to_flat(offsets: np.ndarray) -> np.ndarray:
    """(B, 1, 2, C) offsets ([x; y] rows) -> (B*C, 2) rows [x, y], flat index b*C + c."""
    func = "offsets_channel_to_flat"
    arr = _ndarray(offsets, "offsets", func, 4, "(B, 1, 2, C)")
    if arr.shape[1:3] != (1, 2):
        raise ValueError(f"{func}: offsets: expected shape (B, 1, 2, C), found shape {arr.shape}")
    b, _, _, c = arr.shape
    return np.transpose(arr[:, 0], (0, 2, 1)).reshape(b * c, 2)


def offsets_flat_to_channel(offsets: np.ndarray, C: int) -> np.ndarray:
    """(B*C, 2) rows [x, y] -> (B, 1, 2, C); inverse of :func:`offsets_channel_to_flat`."""
    func = "offsets_flat_to_channel"
    arr = _ndarray(offsets, "offsets", func, 2, "(B*C, 2)")
    if arr.shape[1] != 2:
        raise ValueError(f"{func}: offsets: expected shape (B*C, 2), found shape {arr.shape}")
    if isinstance(C, bool) or not isinstance(C, (int, np.integer)) or C < 1 or arr.shape[0] % C:
        raise ValueError(f"{func}: C: expected a positive divisor of {arr.shape[0]}, found {C!r}")
    return np.transpose(arr.reshape(arr.shape[0] // C, C, 2), (0, 2, 1))[:, None]
