"""Sub-pixel translation of image stacks (specs/physics.md §2).

Convention: ``translate(images, [dx, dy])`` moves image content by ``+dx`` columns and ``+dy`` rows:
``out[y, x] = in[y - dy, x - dx]``. Values between pixels are interpolated bilinearly from the four
neighbouring pixels; a neighbour outside the image contributes zero (zero fill), so the operator is
linear and complex images are translated exactly as their real and imaginary parts would be.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_array, check_ndim

__all__ = ["translate", "bilinear_sample"]


def bilinear_sample(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``images`` at fractional pixel coordinates with bilinear weights and zero fill.

    Args:
        images: (K, H, W) or (1, H, W) float/complex array. A leading size 1 is shared by all K.
        rows, cols: (K, h, w) float64 coordinates (row = y, col = x, in pixels of ``images``).

    Returns:
        (K, h, w) array in float64/complex128 (callers cast back to the input precision):
        ``sum over the 4 taps (r, c) of w_rc * images[k, r, c]`` where taps outside ``[0, H-1] x
        [0, W-1]`` contribute 0. Integer coordinates reproduce pixels exactly.

    Vectorised: one gather per tap over all K*h*w samples (no Python loop over K).
    """
    n_img, height, width = images.shape
    r0 = np.floor(rows)
    c0 = np.floor(cols)
    fr = rows - r0
    fc = cols - c0
    r0 = r0.astype(np.int64)
    c0 = c0.astype(np.int64)
    flat = images.reshape(-1)
    if n_img == 1:
        base = np.zeros((1, 1, 1), dtype=np.int64)
    else:
        base = (np.arange(rows.shape[0], dtype=np.int64) * (height * width))[:, None, None]
    acc_dtype = np.complex128 if np.iscomplexobj(images) else np.float64
    out = np.zeros(rows.shape, dtype=acc_dtype)
    for dr, wr in ((0, 1.0 - fr), (1, fr)):
        rr = r0 + dr
        row_ok = (rr >= 0) & (rr < height)
        rr_c = np.clip(rr, 0, height - 1)
        for dc, wc in ((0, 1.0 - fc), (1, fc)):
            cc = c0 + dc
            ok = row_ok & (cc >= 0) & (cc < width)
            cc_c = np.clip(cc, 0, width - 1)
            weight = np.where(ok, wr * wc, 0.0)
            out += weight * flat[base + rr_c * width + cc_c]
    return out


def translate(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Translate each image of a stack by its own sub-pixel offset (specs/physics.md §2).

    Args:
        images: (K, H, W) float32/float64/complex64/complex128 (integer input is promoted to float64).
        offsets: (K, 2) rows ``[dx, dy]`` in pixels (float): content moves ``+dx`` columns
            (x, to the right) and ``+dy`` rows (y, downwards).

    Returns:
        (K, H, W) array of the input dtype with ``out[k, y, x] = in[k, y - dy_k, x - dx_k]``
        (bilinear, zero outside the image).

    Raises:
        ValueError: wrong shapes or non-finite values; TypeError: non-numeric dtype.
    """
    func = "translate"
    imgs = as_array(images, "images", func)
    check_ndim(imgs, (3,), "images", func, "(K, H, W)")
    offs = as_array(offsets, "offsets", func, allow_complex=False).astype(np.float64)
    if offs.shape != (imgs.shape[0], 2):
        raise ValueError(
            f"{func}: offsets: expected shape ({imgs.shape[0]}, 2) rows [dx, dy], found shape {offs.shape}"
        )
    _, height, width = imgs.shape
    yy, xx = np.meshgrid(
        np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij"
    )
    rows = yy[None] - offs[:, 1, None, None]
    cols = xx[None] - offs[:, 0, None, None]
    if imgs.shape[0] == 0:
        return imgs.copy()
    return bilinear_sample(imgs, rows, cols).astype(imgs.dtype, copy=False)
