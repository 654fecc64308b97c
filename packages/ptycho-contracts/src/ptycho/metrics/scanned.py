"""The scanned region of a reconstruction canvas: where scores mean something (specs/metrics.md §5).

A reconstruction also holds pixels the scan never constrained: the corners of a round (Fermat-spiral) scan's
bounding box, a refinement canvas's margin. Their values are whatever the start object held there, so scoring
them mixes the start into SSIM, PSNR and FRC (seen: SSIM up, PSNR down, phase FRC50 0 for one refined object).
Every metric is therefore computed on one window inside the scanned region: the union over scan positions of the
``2·half``-pixel square centred on each position, ``half`` = 10 = half the stitching crop M = 20 (the region a
network's stitched canvas covers, specs/physics.md §6).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCANNED_HALF_WIDTH", "scanned_mask"]

#: Half the side of the square each scan position contributes (px): half the stitching crop M = 20.
SCANNED_HALF_WIDTH = 10


def scanned_mask(positions_xy: np.ndarray, shape: tuple[int, int], origin_xy: np.ndarray,
                 half: int = SCANNED_HALF_WIDTH) -> np.ndarray:
    """Boolean (H, W) mask of the canvas pixels inside the scanned region.

    Args:
        positions_xy: (K, 2) scan positions [x, y] in object pixels (``xcoords``, ``ycoords``).
        shape: (H, W) of the canvas.
        origin_xy: object coordinates [x, y] of canvas pixel (0, 0) (a reconstruction's ``origin_xy``).
        half: half side of each position's square, px (default :data:`SCANNED_HALF_WIDTH`).
    Returns:
        mask with True at pixel (r, c) when ``|x_k - (origin_x + c)| < half`` and ``|y_k - (origin_y + r)| < half``
        for some position k, i.e. pixel centres strictly inside a ``2·half`` square around a position.
    """
    pos = np.asarray(positions_xy, dtype=np.float64).reshape(-1, 2)
    h, w = int(shape[0]), int(shape[1])
    mask = np.zeros((h, w), dtype=bool)
    ox, oy = float(origin_xy[0]), float(origin_xy[1])
    # canvas columns c with |x - (ox + c)| < half: c in (x - ox - half, x - ox + half)
    lo_c = np.floor(pos[:, 0] - ox - half).astype(np.int64) + 1
    hi_c = np.ceil(pos[:, 0] - ox + half).astype(np.int64)
    lo_r = np.floor(pos[:, 1] - oy - half).astype(np.int64) + 1
    hi_r = np.ceil(pos[:, 1] - oy + half).astype(np.int64)
    rows, cols = (np.clip(lo_r, 0, h), np.clip(hi_r, 0, h)), (np.clip(lo_c, 0, w), np.clip(hi_c, 0, w))
    for r0, r1, c0, c1 in zip(*rows, *cols, strict=True):
        mask[r0:r1, c0:c1] = True
    return mask
