"""Put a stitched canvas onto the object-pixel grid of the scan (specs/ptychodus-torch.md §3).

``stitch_patches`` returns a canvas centred on the mean group offset, whose pixel (0, 0) is the fractional
object coordinate :func:`ptycho_torch.stitching.canvas_origin`. ptychodus labels the returned array with the
geometry of its input object (pixel (r, c) = object pixel (r, c), centre = the array centre), so the canvas is
shifted by the fractional part of that origin (bilinear, as the stitching itself) and pasted at the integer
part into an array sized symmetric about the scan centre.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ptycho_torch.physics.translation import translate
from ptycho_torch.stitching import canvas_origin

__all__ = ["object_grid_shape", "place_on_object_grid"]


def object_grid_shape(xcoords: Any, ycoords: Any) -> tuple[int, int]:
    """(H, W) = (round(2·mid_y) + 1, round(2·mid_x) + 1), mid = (min + max)/2 of the scan positions in object
    pixels: the shape of an object whose centre pixel ((H-1)/2, (W-1)/2) is the scan centre."""
    xs, ys = np.asarray(xcoords, np.float64), np.asarray(ycoords, np.float64)
    mid_x, mid_y = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    if mid_x < 0 or mid_y < 0:
        raise ValueError(f"scan positions: expected object pixels >= 0 (x = column, y = row), found centre "
                         f"({mid_x:g}, {mid_y:g})")
    return int(round(2 * mid_y)) + 1, int(round(2 * mid_x)) + 1


def place_on_object_grid(canvas: Any, global_offsets: Any, M: int, xcoords: Any, ycoords: Any) -> np.ndarray:
    """(H, W) complex64: ``canvas`` (S, S) from ``stitch_patches(..., M)`` with offsets ``global_offsets``
    resampled so that out[r, c] is the canvas value at object pixel (row r, column c); 0 where no patch reached."""
    c = torch.as_tensor(np.asarray(canvas), dtype=torch.complex64)
    side = int(c.shape[-1])
    ox, oy = canvas_origin(global_offsets, side, M)
    fx, fy = ox - math.floor(ox), oy - math.floor(oy)
    shifted = translate(c[None], torch.tensor([[fx, fy]], dtype=torch.float32))[0].numpy()
    ix, iy = int(math.floor(ox)), int(math.floor(oy))
    h, w = object_grid_shape(xcoords, ycoords)
    out = np.zeros((h, w), dtype=np.complex64)
    r0, c0 = max(iy, 0), max(ix, 0)
    r1, c1 = min(iy + shifted.shape[0], h), min(ix + shifted.shape[1], w)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = shifted[r0 - iy:r1 - iy, c0 - ix:c1 - ix]
    return out
