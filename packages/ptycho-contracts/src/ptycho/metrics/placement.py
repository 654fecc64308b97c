"""Put a reconstruction on its ground truth's grid and score it (normative text: specs/cli.md §5, specs/metrics.md §5).

The stitched reconstruction covers only the scanned part of the object and is centred on the scan's mean
position, so before any metric it is *placed* on the ground truth:

1. Coverage: the window is the largest rectangle of pixels that are covered (stitching leaves exact zeros
   where no patch landed) and, when the scan's positions and the canvas origin are known, inside the scanned
   region (:func:`ptycho.metrics.scanned_mask`: a refinement canvas holds values outside it that no
   measurement constrained). SSIM, PSNR and FRC are all computed on this one window.
2. Placement: with ``origin_xy`` (object coordinates (x, y) of the canvas pixel (0, 0), in object pixels)
   the ground-truth window starts at the rounded origin; otherwise the window maximising the normalised
   cross-correlation of the amplitudes is searched (``skimage.feature.match_template``).
3. Metrics: :func:`ptycho.metrics.evaluate` on the two windows (sub-pixel registration unless
   ``register=False``, :data:`REGISTRATION_BORDER`-pixel border crop, amplitude scaled by one global factor,
   phase plane- or mean-aligned).

Bad input (an all-zero canvas, a window larger than or outside the ground truth, a window too small to score)
raises ``ValueError`` with a one-line message; the ``ptycho evaluate`` command reports it with exit code 2.
Framework-free: numpy and scikit-image only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from skimage.feature import match_template

from .alignment import crop_border, fourier_shift
from .evaluate import evaluate
from .scanned import scanned_mask

__all__ = ["REGISTRATION_BORDER", "covered_box", "place_on_ground_truth", "evaluate_arrays", "jsonable"]

#: Pixels cropped from every side after registration (:func:`ptycho.metrics.evaluate` ``border_crop``).
REGISTRATION_BORDER = 2


def covered_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """Largest axis-aligned rectangle with no uncovered (exactly zero) pixel -> (r0, r1, c0, c1), half-open.

    Classic maximal-rectangle search (per-row histogram of covered run lengths + monotonic stack),
    O(H*W). Ties keep the first rectangle found scanning rows top-down. Raises ValueError if no pixel is
    covered.
    """
    covered = np.asarray(image) != 0
    h, w = covered.shape
    heights = np.zeros(w + 1, dtype=np.int64)  # sentinel column of height 0
    best = (0, 0, 0, 0, 0)  # area, r0, r1, c0, c1
    for r in range(h):
        heights[:w] = np.where(covered[r], heights[:w] + 1, 0)
        stack: list[int] = []
        for c in range(w + 1):
            while stack and heights[stack[-1]] >= heights[c]:
                top = stack.pop()
                height = int(heights[top])
                left = stack[-1] + 1 if stack else 0
                area = height * (c - left)
                if area > best[0]:
                    best = (area, r - height + 1, r + 1, left, c)
            stack.append(c)
    if best[0] == 0:
        raise ValueError("reconstruction: expected a covered (non-zero) region, found an all-zero image")
    return best[1], best[2], best[3], best[4]


def place_on_ground_truth(recon: np.ndarray, gt: np.ndarray, origin_xy: np.ndarray | None = None,
                          positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Cut matching windows of reconstruction and ground truth (module docstring, steps 1-2).

    Args:
        recon: (h, w) complex reconstruction canvas.
        gt: (H, W) complex ground-truth object, H >= h', W >= w' after coverage trimming.
        origin_xy: object coordinates [x, y] of ``recon[0, 0]``, or None to search.
        positions: (K, 2) scan positions [x, y] (object pixels) or None; with ``origin_xy`` the window stays
            inside the scanned region.
    Returns:
        (recon window, gt window) complex128 of equal shape, and info: 'box' (r0, r1, c0, c1) in the
        reconstruction, 'gt_offset' (row, col) of the window in the ground truth, 'placement'
        ('origin' or 'search'), 'scanned_region' (whether the window was limited to it).
    """
    covered = np.asarray(recon) != 0
    limited = positions is not None and origin_xy is not None
    if positions is not None and origin_xy is not None:
        covered &= scanned_mask(positions, covered.shape, origin_xy)
    r0, r1, c0, c1 = covered_box(covered)
    win = recon[r0:r1, c0:c1]
    h, w = win.shape
    H, W = gt.shape
    if h > H or w > W:
        raise ValueError(f"reconstruction: expected a covered region no larger than the ground truth {gt.shape}, found {win.shape}")
    if origin_xy is not None:
        gr = int(round(float(origin_xy[1]) + r0))
        gc = int(round(float(origin_xy[0]) + c0))
        # clip the window to the object (a canvas may reach past the object's edge)
        top, left = max(0, -gr), max(0, -gc)
        bottom, right = max(0, gr + h - H), max(0, gc + w - W)
        if top + bottom >= h or left + right >= w:
            raise ValueError(f"reconstruction: origin_xy {list(origin_xy)} places it outside the ground truth {gt.shape}")
        win = win[top:h - bottom, left:w - right]
        gr, gc = gr + top, gc + left
        h, w = win.shape
        placement = "origin"
    else:
        score = match_template(np.abs(gt), np.abs(win))
        gr, gc = (int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))
        placement = "search"
    target = gt[gr:gr + h, gc:gc + w]
    if min(win.shape) < 7 + 2 * REGISTRATION_BORDER:
        raise ValueError(f"reconstruction: expected a covered region of at least {7 + 2 * REGISTRATION_BORDER} pixels "
                        f"per side, found {win.shape}")
    info = {"box": [r0, r1, c0, c1], "gt_offset": [gr, gc], "placement": placement, "scanned_region": limited}
    return np.asarray(win, np.complex128), np.asarray(target, np.complex128), info


def jsonable(value: Any) -> Any:
    """``value`` with numpy arrays/scalars turned into lists, floats, ints and bools (non-finite floats -> None),
    mappings and sequences converted recursively, so ``json.dump`` writes it as is."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if np.isfinite(v) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def evaluate_arrays(recon: np.ndarray, gt: np.ndarray, origin_xy: np.ndarray | None = None, *,
                    register: bool = True, phase_align: str = "plane",
                    positions: np.ndarray | None = None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Place, align and score a reconstruction against its ground truth (module docstring, steps 1-3).

    Args:
        recon: (h, w) complex reconstruction canvas (exact zeros where nothing was stitched).
        gt: (H, W) complex ground-truth object.
        origin_xy: object coordinates [x, y] (object pixels) of ``recon[0, 0]``, or None to search.
        register: sub-pixel registration before scoring.
        phase_align: 'plane' or 'mean' (:func:`ptycho.metrics.evaluate`).
        positions: the scan's (K, 2) [x, y] in object pixels, to keep the window in the scanned region.
    Returns:
        (JSON-ready metrics dict of ``ptycho.metrics.evaluate`` plus 'placement', the registered and
        border-cropped reconstruction window, the matching ground-truth window), windows complex128.
    """
    win, target, info = place_on_ground_truth(recon, gt, origin_xy, positions)
    result = evaluate(win, target, phase_align=phase_align, register=register, border_crop=REGISTRATION_BORDER)
    metrics = jsonable(dict(result))
    metrics["placement"] = info
    shift = result.get("registration_shift", [0.0, 0.0])
    shown = fourier_shift(win, (float(shift[0]), float(shift[1]))) if register else win
    return metrics, crop_border(shown, REGISTRATION_BORDER), crop_border(target, REGISTRATION_BORDER)
