"""Start objects and output windows for refinement (specs/refinement.md §5).

A network's stitched object covers the scanned area only (``reassemble_position`` keeps the central M x M
of each patch) and sits at a fractional origin; refinement needs every probe window covered at integer
pixels. :func:`embed_start` resamples the stitched canvas onto the integer grid of the refinement canvas
(cubic spline, by the origin's fractional part) and fills the rest with the stitched canvas's median
amplitude at phase 0 (the flat start's value there). :func:`output_window` is the part of the refined
canvas a reconstruction file keeps; :func:`output_object` cuts it out with its origin.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .options import object_canvas_geometry

__all__ = ["embed_start", "output_window", "crop", "output_object"]


def embed_start(canvas: np.ndarray, origin_xy, positions: np.ndarray, n: int,
                margin: int = 20) -> tuple[np.ndarray, tuple[int, int]]:
    """Place a stitched (H, W) complex ``canvas`` whose pixel (0, 0) is at object coordinates ``origin_xy``.

    Returns (start canvas (H', W') complex64, integer origin (x0, y0)) holding every N x N window of
    ``positions`` plus ``margin`` px (default 20: the 16 px sub-pixel margin of ``RefineOptions`` plus 4).
    Raises ValueError for a non-2-D or non-finite canvas.
    """
    img = np.asarray(canvas)
    if img.ndim != 2 or not np.all(np.isfinite(img)):
        raise ValueError(f"refine: start object: expected a finite 2-D canvas, found shape {img.shape}")
    ox, oy = (float(v) for v in np.asarray(origin_xy, dtype=np.float64).reshape(2))
    base = (math.floor(ox), math.floor(oy))
    frac = (ox - base[0], oy - base[1])
    # content at canvas index (r, c) sits at object (oy + r, ox + c); moving it by +frac lands it on integers
    moved = np.zeros((img.shape[0] + 1, img.shape[1] + 1), dtype=np.complex128)
    moved[:-1, :-1] = img
    covered = np.zeros(moved.shape)
    covered[:-1, :-1] = 1.0
    shift = (frac[1], frac[0])
    moved = (ndimage.shift(moved.real, shift, order=3, mode="nearest")
             + 1j * ndimage.shift(moved.imag, shift, order=3, mode="nearest"))
    covered = ndimage.shift(covered, shift, order=1, mode="constant") > 0.999
    pos = np.asarray(positions, dtype=np.float64)
    (gx0, gy0), (h, w) = object_canvas_geometry(pos, n, margin)
    lo = (min(gx0, base[0]), min(gy0, base[1]))
    hi = (max(gx0 + w, base[0] + moved.shape[1]), max(gy0 + h, base[1] + moved.shape[0]))
    fill = float(np.median(np.abs(img[np.abs(img) > 0]))) if np.any(np.abs(img) > 0) else 1.0
    out = np.full((hi[1] - lo[1], hi[0] - lo[0]), fill, dtype=np.complex128)
    r0, c0 = base[1] - lo[1], base[0] - lo[0]
    region = out[r0:r0 + moved.shape[0], c0:c0 + moved.shape[1]]
    region[covered] = moved[covered]
    return out.astype(np.complex64), lo


def output_window(positions: np.ndarray, pad: int = 10) -> tuple[tuple[int, int], tuple[int, int]]:
    """(integer origin (x0, y0), shape (H, W)) of the box of ``positions`` grown by ``pad`` px.

    ``pad`` 10 = half the stitching crop M = 20, so a refined file covers what a network's stitched one does.
    """
    pos = np.asarray(positions, dtype=np.float64)
    lo = np.floor(pos.min(axis=0)).astype(int) - pad
    hi = np.ceil(pos.max(axis=0)).astype(int) + pad
    return (int(lo[0]), int(lo[1])), (int(hi[1] - lo[1]), int(hi[0] - lo[0]))


def crop(obj: np.ndarray, origin_xy: tuple[int, int], window_origin: tuple[int, int],
         shape: tuple[int, int]) -> np.ndarray:
    """The ``shape`` window at object coordinates ``window_origin`` of ``obj`` (origin ``origin_xy``), clipped to obj."""
    r0 = max(window_origin[1] - origin_xy[1], 0)
    c0 = max(window_origin[0] - origin_xy[0], 0)
    r1 = min(window_origin[1] - origin_xy[1] + shape[0], obj.shape[0])
    c1 = min(window_origin[0] - origin_xy[0] + shape[1], obj.shape[1])
    return obj[r0:r1, c0:c1]


def output_object(canvas: np.ndarray, origin_xy: tuple[int, int], positions: np.ndarray,
                  pad: int = 10) -> tuple[np.ndarray, tuple[int, int]]:
    """What a reconstruction file keeps of a refined ``canvas`` (a ``RefineResult``'s ``object`` and integer
    ``origin_xy``): the :func:`output_window` of ``positions`` (pad px around their box), clipped to the canvas.

    Returns (object (H, W) complex64, object coordinates (x0, y0) in pixels of its pixel (0, 0)): the window's
    corner, or the canvas's where the canvas starts inside the window.
    """
    window, shape = output_window(positions, pad)
    obj = crop(np.asarray(canvas), origin_xy, window, shape).astype(np.complex64)
    return obj, (max(window[0], int(origin_xy[0])), max(window[1], int(origin_xy[1])))
