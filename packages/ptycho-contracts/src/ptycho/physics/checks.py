"""Argument checks of the physics functions, shared by the numpy reference and the torch mirror
(``ptycho_torch.physics``) so both fail with the same one line naming the function and the argument.

They read Python scalars and shapes (tuples of ints), never arrays or tensors, so one rule serves both
frameworks: the caller converts its input and passes ``tuple(x.shape)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "check_positive_float",
    "check_positive_int",
    "image_side",
    "coords_channels",
    "channel_patch_side",
    "square_gridsize",
    "check_canvas_side",
    "check_patch_side",
    "grid_shape",
    "mode_axis",
    "is_mode_stack",
    "patch_gridsize",
]


def check_positive_float(value: Any, name: str, func: str) -> float:
    """Return ``value`` as float, raising ``ValueError`` unless it is finite and > 0."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{func}: {name}: expected a positive number, found {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise ValueError(f"{func}: {name}: expected a finite positive number, found {value!r}")
    return out


def check_positive_int(value: Any, name: str, func: str, minimum: int = 1) -> int:
    """Return ``value`` as int, raising ``ValueError`` unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{func}: {name}: expected an integer >= {minimum}, found {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name}: expected an integer >= {minimum}, found {value}")
    return int(value)


def image_side(shape: tuple[int, ...], name: str, func: str, *, square: bool = True) -> int:
    """N of a stack of images ``shape`` (..., N, N): ``ValueError`` naming ``func`` and ``name`` unless it has two
    trailing axes (square and non-empty when ``square``)."""
    if len(shape) < 2 or (square and (shape[-1] != shape[-2] or shape[-1] == 0)):
        raise ValueError(f"{func}: {name}: expected shape (..., N, N), found shape {tuple(shape)}")
    return int(shape[-1])


def channel_patch_side(shape: tuple[int, ...], name: str, func: str) -> int:
    """N of channel-last patches ``shape`` (B, N, N, C): ``ValueError`` naming ``func`` and ``name`` unless it has
    four axes and square, non-empty patches."""
    if len(shape) != 4:
        raise ValueError(f"{func}: {name}: expected shape (B, N, N, C), found shape {tuple(shape)}")
    if shape[1] != shape[2] or shape[1] == 0:
        raise ValueError(f"{func}: {name}: expected square non-empty patches (B, N, N, C), found shape {tuple(shape)}")
    return int(shape[1])


def coords_channels(shape: tuple[int, ...], func: str, batch: int | None = None, channels: int | None = None) -> int:
    """C of relative offsets ``coords_relative`` of ``shape`` (B, 1, 2, C), rows [x; y]: ``ValueError`` naming
    ``func`` unless the shape is that, with C >= 1 and B = ``batch`` / C = ``channels`` where given."""
    ok = (len(shape) == 4 and tuple(shape[1:3]) == (1, 2) and shape[3] >= 1 and batch in (None, shape[0])
          and channels in (None, shape[3]))
    if not ok:
        b, c = ("B" if batch is None else batch), ("C" if channels is None else channels)
        raise ValueError(f"{func}: coords_relative: expected shape ({b}, 1, 2, {c}) ([x; y] rows), "
                         f"found shape {tuple(shape)}")
    return int(shape[3])


def square_gridsize(channels: int, func: str) -> int:
    """Return gridsize = sqrt(channels), raising ``ValueError`` unless ``channels`` is a square number."""
    gs = math.isqrt(channels)
    if gs * gs != channels:
        raise ValueError(f"{func}: x: expected a square number of channels C = gridsize**2, found C={channels}")
    return gs


def check_canvas_side(m: int, n: int, func: str) -> int:
    """Return the canvas side ``m`` (an int, already checked), raising ``ValueError`` when it is below the patch
    side ``n`` (a canvas must hold one patch)."""
    if m < n:
        raise ValueError(f"{func}: M: expected a canvas side >= N={n}, found {m}")
    return m


def check_patch_side(n: int, m: int, func: str) -> int:
    """Return the patch side ``n`` (an int, already checked), raising ``ValueError`` when it exceeds the canvas
    side ``m``."""
    if n > m:
        raise ValueError(f"{func}: N: expected a patch side <= canvas side M={m}, found {n}")
    return n


def grid_shape(shape: tuple[int, ...], func: str) -> tuple[int, int, int, int]:
    """(B, gs, N, N') of a grid-layout shape (B, gs, gs, N, N', 1), raising ``ValueError`` unless the two grid
    axes are equal and the last axis is 1 (the rank is checked by the caller)."""
    b, g1, g2, h, w, one = shape
    if g1 != g2 or one != 1:
        raise ValueError(f"{func}: x: expected shape (B, gs, gs, N, N, 1), found shape {shape}")
    return b, g1, h, w


def mode_axis(shape: tuple[int, ...], axis: int, func: str) -> int:
    """The non-negative index of the probe-mode axis ``axis`` of exit waves of ``shape`` (..., K, N, N),
    raising ``ValueError`` unless the rank is at least 3 and the axis lies before the last two."""
    ndim = len(shape)
    found = axis % ndim if ndim >= 3 else -1
    if ndim < 3 or found >= ndim - 2:
        raise ValueError(f"{func}: exit_waves: expected shape (..., K, N, N) with the modes on an axis before the "
                         f"last two, found shape {shape} (mode_axis={axis})")
    return found


def is_mode_stack(shape: tuple[int, ...], n: int, func: str) -> bool:
    """True for a probe of K incoherent modes (K, n, n), False for one mode (n, n) or (n, n, 1); raises
    ``ValueError`` for a 3-d probe whose mode planes are not n x n (specs/physics.md §12.1)."""
    if len(shape) != 3 or shape[-1] == 1:
        return False
    if shape[1:] != (n, n) or shape[0] < 1:
        raise ValueError(f"{func}: probe: expected shape ({n}, {n}) or (K, {n}, {n}) matching the patches, "
                         f"found shape {shape}")
    return True


def patch_gridsize(shape: tuple[int, ...], channels: int, object_big: bool, func: str) -> int:
    """The gridsize of ``forward_model``: object patches of ``shape`` (B, N, N, C or 1) against the ``channels``
    of ``coords_relative`` (C = gridsize**2). With ``object_big`` the patches carry C channels, without it one
    (specs/physics.md §12); anything else raises ``ValueError``."""
    if object_big and shape[3] != channels:
        raise ValueError(f"{func}: object_patches: expected {channels} channels like coords_relative "
                         f"(object_big=True), found shape {shape}")
    if not object_big and shape[3] != 1:
        raise ValueError(f"{func}: object_patches: expected shape ({shape[0]}, {shape[1]}, {shape[2]}, 1) when "
                         f"object_big=False, found shape {shape}")
    gs = math.isqrt(channels)
    if gs * gs != channels:
        raise ValueError(f"{func}: coords_relative: expected C = gridsize**2 channels, found C={channels}")
    return gs
