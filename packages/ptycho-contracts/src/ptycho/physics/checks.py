"""Scalar argument checks of the physics functions, shared by the numpy reference and the torch mirror
(``ptycho_torch.physics``) so both fail with the same one line naming the function and the argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check_positive_float", "check_positive_int", "square_gridsize"]


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


def square_gridsize(channels: int, func: str) -> int:
    """Return gridsize = sqrt(channels), raising ``ValueError`` unless ``channels`` is a square number."""
    gs = math.isqrt(channels)
    if gs * gs != channels:
        raise ValueError(f"{func}: x: expected a square number of channels C = gridsize**2, found C={channels}")
    return gs
