"""Scan trajectories in object pixel coordinates (specs/simulation.md §2).

A position (x, y) is valid when its whole N x N patch lies inside the object: the patch covers
columns x - N//2 ... x - N//2 + N - 1 (rows likewise), so x and y must lie in
[lo, hi] = [N//2, size - N + N//2] (for even N: [N/2, size - N/2]).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["scan_positions", "scan_bounds", "SCAN_KINDS"]

SCAN_KINDS = ("grid", "random", "fermat")
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def scan_bounds(object_size: int, N: int) -> tuple[float, float]:
    """Inclusive range [lo, hi] allowed for x and for y (specs/simulation.md §2)."""
    return float(N // 2), float(object_size - N + N // 2)


def _int_arg(value: object, name: str, minimum: int, func: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{func}: {name}: expected an integer >= {minimum}, found {value!r}")
    return int(value)


def scan_positions(
    kind: str,
    n_positions: int,
    object_size: int,
    N: int,
    rng: np.random.Generator,
    step: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scan positions (x, y), two float64 arrays of length n_positions (specs/simulation.md §2).

    Args:
        kind: 'grid' (raster, row by row), 'random' (uniform) or 'fermat' (Fermat spiral).
        n_positions: number of positions (>= 1).
        object_size: object side in pixels (>= N).
        N: patch side in pixels.
        rng: numpy Generator, used only by 'random'.
        step: grid pitch (pixels) for 'grid'; spiral constant c (r_k = c * sqrt(k), pixels) for
            'fermat'; ignored by 'random'. None picks the value that spreads the positions over
            the whole allowed square ('grid') or its inscribed disk ('fermat').

    Returns:
        ``(x, y)``: x = column, y = row, every value in :func:`scan_bounds`.

    Raises:
        ValueError: unknown kind, too small an object, or a ``step`` that cannot fit n_positions.
    """
    func = "scan_positions"
    if kind not in SCAN_KINDS:
        raise ValueError(f"{func}: kind: expected one of {SCAN_KINDS}, found {kind!r}")
    n = _int_arg(n_positions, "n_positions", 1, func)
    patch = _int_arg(N, "N", 1, func)
    size = _int_arg(object_size, "object_size", patch, func)
    if step is not None and (not np.isfinite(step) or step <= 0):
        raise ValueError(f"{func}: step: expected a positive number of pixels or None, found {step!r}")
    lo, hi = scan_bounds(size, patch)
    span = hi - lo
    if kind == "random":
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{func}: rng: expected a numpy.random.Generator, found {type(rng).__name__}")
        xy = rng.uniform(lo, hi, size=(n, 2))
        return xy[:, 0].copy(), xy[:, 1].copy()
    if kind == "grid":
        if step is None:
            side = math.ceil(math.sqrt(n))
            axis = np.linspace(lo, hi, side) if side > 1 else np.array([(lo + hi) / 2.0])
        else:
            side = int(math.floor(span / step + 1e-9)) + 1
            if side * side < n:
                raise ValueError(
                    f"{func}: step: expected a pitch that fits {n} grid points in [{lo}, {hi}]^2, "
                    f"found step {step} (only {side * side} fit)"
                )
            margin = (span - (side - 1) * step) / 2.0
            axis = lo + margin + step * np.arange(side, dtype=np.float64)
        yy, xx = np.meshgrid(axis, axis, indexing="ij")
        return xx.reshape(-1)[:n].astype(np.float64), yy.reshape(-1)[:n].astype(np.float64)
    # Fermat spiral around the centre of the allowed square.
    radius = span / 2.0
    centre = (lo + hi) / 2.0
    k = np.arange(n, dtype=np.float64)
    if step is None:
        c = radius / math.sqrt(n - 1) if n > 1 else 0.0
    else:
        c = float(step)
        if c * math.sqrt(n - 1) > radius + 1e-9:
            raise ValueError(
                f"{func}: step: expected a spiral constant <= {radius / math.sqrt(max(n - 1, 1)):.4g} "
                f"so {n} points fit in radius {radius}, found {step}"
            )
    r = c * np.sqrt(k)
    theta = k * _GOLDEN_ANGLE
    x = np.clip(centre + r * np.cos(theta), lo, hi)
    y = np.clip(centre + r * np.sin(theta), lo, hi)
    return x, y
