"""Scalar argument checks of the physics functions, shared by the numpy reference and the torch mirror
(``ptycho_torch.physics``) so both fail with the same one line naming the function and the argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_positive_float", "square_gridsize"]


def check_positive_float(value: Any, name: str, func: str) -> float:
    """Return ``value`` as float, raising ``ValueError`` unless it is finite and > 0."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{func}: {name}: expected a positive number, found {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise ValueError(f"{func}: {name}: expected a finite positive number, found {value!r}")
    return out


def square_gridsize(channels: int, func: str) -> int:
    """Return gridsize = sqrt(channels), raising ``ValueError`` unless ``channels`` is a square number."""
    gs = math.isqrt(channels)
    if gs * gs != channels:
        raise ValueError(f"{func}: x: expected a square number of channels C = gridsize**2, found C={channels}")
    return gs
