"""Patch extraction, per-group reassembly and inference stitching (specs/physics.md §3-§6).

Coordinates are object pixels with x = column and y = row. A patch of side N for the scan point
(x, y) is the N x N region whose centre index (N//2, N//2) sits on (row=y, col=x). Groups are
channel-last: patches (B, N, N, C), relative offsets ``coords_relative`` (B, 1, 2, C) with axis 2 =
[x, y] and sign -1 (group centre minus position).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import checks
from ._validation import as_array, check_ndim, check_positive_int, check_square
from .translation import bilinear_sample

__all__ = [
    "extract_patches",
    "reassemble_groups",
    "extract_from_canvas",
    "canvas_size",
    "reassemble_position",
    "STITCH_M",
    "canvas_origin",
]

#: The central crop M that the workflows, ``ptycho infer``/``train``/``refine`` and the demo keep of every patch when
#: they stitch with :func:`reassemble_position` (specs/physics.md §6).
STITCH_M = 20

# Groups processed per vectorised step in reassemble_groups / extract_from_canvas (bounds memory).
_GROUP_CHUNK = 256
# Patches scattered per vectorised step in reassemble_position.
_POSITION_CHUNK = 2048
# Overlap counts at or below this are treated as "not covered" by reassemble_position.
_COUNT_FLOOR = 1e-6


def _check_coords_relative(coords: object, batch: int, channels: int, func: str) -> np.ndarray:
    arr = as_array(coords, "coords_relative", func, allow_complex=False).astype(np.float64)
    checks.coords_channels(arr.shape, func, batch, channels)
    return arr


def extract_patches(obj: np.ndarray, positions: np.ndarray, N: int, interpolation: str = "bilinear") -> np.ndarray:
    """Cut N x N patches centred on scan positions out of a 2-D object (specs/physics.md §3).

    Args:
        obj: (H, W) float or complex object.
        positions: (K, 2) rows ``[x, y]`` in object pixels (x = column, y = row), float.
        N: patch side in pixels.
        interpolation: 'bilinear' (the training chain's interpolation) or 'fourier' (band-limited:
            an (N + 32)-pixel crop at the integer part is shifted by the fractional part with a
            Fourier phase ramp and its centre kept; sub-pixel positions are not blurred, which is
            what a real scan measures).

    Returns:
        (K, N, N) array of the object's dtype with
        ``patch[k, i, j] = obj(y_k - N//2 + i, x_k - N//2 + j)``, zero outside the object. Integer
        positions copy pixels exactly with either interpolation.
    """
    func = "extract_patches"
    arr = as_array(obj, "obj", func)
    check_ndim(arr, (2,), "obj", func, "(H, W)")
    n = check_positive_int(N, "N", func)
    pos = as_array(positions, "positions", func, allow_complex=False).astype(np.float64)
    if pos.ndim != 2 or pos.shape[1] != 2:
        raise ValueError(f"{func}: positions: expected shape (K, 2) rows [x, y], found shape {pos.shape}")
    if interpolation not in ("bilinear", "fourier"):
        raise ValueError(f"{func}: interpolation: expected 'bilinear' or 'fourier', found {interpolation!r}")
    if interpolation == "fourier" and pos.shape[0]:
        return _extract_fourier(arr, pos, n)
    grid = np.arange(n, dtype=np.float64) - n // 2
    rows = pos[:, 1, None, None] + grid[None, :, None] + np.zeros((1, 1, n))
    cols = pos[:, 0, None, None] + grid[None, None, :] + np.zeros((1, n, 1))
    if pos.shape[0] == 0:
        return np.zeros((0, n, n), dtype=arr.dtype)
    return bilinear_sample(arr[None], rows, cols).astype(arr.dtype, copy=False)


def _extract_fourier(arr: np.ndarray, pos: np.ndarray, n: int, margin: int = 16) -> np.ndarray:
    """Band-limited sub-pixel extraction (see :func:`extract_patches`), (K, N, N) of arr's dtype."""
    side = n + 2 * margin
    base = np.floor(pos)
    frac = pos - base
    padded = np.pad(arr, side)
    freq = np.fft.fftfreq(side)
    out = np.empty((pos.shape[0], n, n), dtype=np.result_type(arr.dtype, np.complex64))
    for k in range(pos.shape[0]):
        r0 = int(base[k, 1]) - n // 2 - margin + side
        c0 = int(base[k, 0]) - n // 2 - margin + side
        crop = padded[r0 : r0 + side, c0 : c0 + side]
        if frac[k, 0] or frac[k, 1]:
            ramp = np.exp(2j * np.pi * (frac[k, 1] * freq[:, None] + frac[k, 0] * freq[None, :]))
            crop = np.fft.ifft2(np.fft.fft2(crop) * ramp)
        out[k] = crop[margin : margin + n, margin : margin + n]
    if not np.iscomplexobj(arr):
        return out.real.astype(arr.dtype)
    return out.astype(arr.dtype, copy=False)


def canvas_size(
    N: int,
    gridsize: int,
    coords_relative: np.ndarray | None = None,
    offset: int = 4,
    max_position_jitter: int = 10,
) -> int:
    """Side M of the per-group canvas used by the in-model merge (specs/physics.md §5).

    ``M = N + (gridsize - 1) * offset + max_position_jitter`` (the TensorFlow network's padded size). When
    ``coords_relative`` (B, 1, 2, C) is given, M is raised if needed to ``N + 2 * ceil(max |offset|)``
    so that every translated patch fits on the canvas without being clipped. M is rounded up to
    an even number. Returns a Python int >= N.
    """
    func = "canvas_size"
    n = check_positive_int(N, "N", func)
    gs = check_positive_int(gridsize, "gridsize", func)
    off = check_positive_int(offset, "offset", func, minimum=0)
    jit = check_positive_int(max_position_jitter, "max_position_jitter", func, minimum=0)
    size = n + (gs - 1) * off + jit
    if coords_relative is not None:
        rel = as_array(coords_relative, "coords_relative", func, allow_complex=False)
        checks.coords_channels(rel.shape, func)
        if rel.size:
            size = max(size, n + 2 * math.ceil(float(np.max(np.abs(rel)))))
    return size + (size % 2)


def reassemble_groups(patches: np.ndarray, coords_relative: np.ndarray, M: int) -> np.ndarray:
    """Merge each group's C patches onto its own M x M canvas (specs/physics.md §4).

    Args:
        patches: (B, N, N, C) complex (or real) patches, channel c = group member c.
        coords_relative: (B, 1, 2, C) float, ``[x; y]`` = group centre - member position (sign -1).
        M: canvas side, M >= N.

    Returns:
        (B, M, M) array of the patches' dtype. Each patch is zero-padded to M x M (``(M-N)//2``
        before, the rest after), translated by ``-coords_relative`` (so it lands at its true place
        relative to the group centre, which is the canvas index (M//2, M//2) for even M, N),
        the C translated patches are summed and the sum is divided by ``max(count, 1)``, where
        ``count`` is the same merge of N x N patches of ones. Overlaps are averaged; nothing is
        amplified. Groups are never mixed.
    """
    func = "reassemble_groups"
    arr = as_array(patches, "patches", func)
    n = checks.channel_patch_side(arr.shape, "patches", func)
    batch, _, _, channels = arr.shape
    rel = _check_coords_relative(coords_relative, batch, channels, func)
    m = checks.check_canvas_side(check_positive_int(M, "M", func), n, func)
    start = (m - n) // 2
    grid = np.arange(m, dtype=np.float64) - start
    out = np.empty((batch, m, m), dtype=arr.dtype)
    ones = np.ones((1, n, n), dtype=np.float64)
    for lo in range(0, batch, _GROUP_CHUNK):
        hi = min(lo + _GROUP_CHUNK, batch)
        # translate by -rel: out[Y, X] = padded[Y + rel_y, X + rel_x] = patch[Y + rel_y - start, ...]
        dx = rel[lo:hi, 0, 0, :].reshape(-1)
        dy = rel[lo:hi, 0, 1, :].reshape(-1)
        rows = grid[None, :, None] + dy[:, None, None] + np.zeros((1, 1, m))
        cols = grid[None, None, :] + dx[:, None, None] + np.zeros((1, m, 1))
        flat = np.moveaxis(arr[lo:hi], -1, 1).reshape(-1, n, n)
        total = bilinear_sample(flat, rows, cols).reshape(hi - lo, channels, m, m).sum(axis=1)
        count = bilinear_sample(ones, rows, cols).reshape(hi - lo, channels, m, m).sum(axis=1)
        out[lo:hi] = total / np.maximum(count, 1.0)
    return out


def extract_from_canvas(canvas: np.ndarray, coords_relative: np.ndarray, N: int) -> np.ndarray:
    """Re-extract each member's N x N patch from its group canvas (specs/physics.md §4).

    Args:
        canvas: (B, M, M) float or complex, one canvas per group.
        coords_relative: (B, 1, 2, C) float, sign -1 relative offsets ``[x; y]``.
        N: patch side, N <= M.

    Returns:
        (B, N, N, C) array of the canvas dtype: channel c is the canvas translated by
        ``+coords_relative[b, 0, :, c]`` (bilinear, zero fill), cropped to the centred N x N window
        starting at ``(M-N)//2``. Inverse of :func:`reassemble_groups` wherever the patches agree on
        their overlaps.
    """
    func = "extract_from_canvas"
    arr = as_array(canvas, "canvas", func)
    check_ndim(arr, (3,), "canvas", func, "(B, M, M)")
    m = check_square(arr, (1, 2), "canvas", func, "(B, M, M)")
    n = checks.check_patch_side(check_positive_int(N, "N", func), m, func)
    batch = arr.shape[0]
    rel = as_array(coords_relative, "coords_relative", func, allow_complex=False).astype(np.float64)
    channels = checks.coords_channels(rel.shape, func, batch)
    start = (m - n) // 2
    grid = np.arange(n, dtype=np.float64) + start
    out = np.empty((batch, n, n, channels), dtype=arr.dtype)
    for lo in range(0, batch, _GROUP_CHUNK):
        hi = min(lo + _GROUP_CHUNK, batch)
        # translate by +rel then crop: out[i, j] = canvas[start + i - rel_y, start + j - rel_x]
        dx = rel[lo:hi, 0, 0, :]  # (b, C)
        dy = rel[lo:hi, 0, 1, :]
        rows = grid[None, None, :, None] - dy[:, :, None, None] + np.zeros((1, 1, 1, n))
        cols = grid[None, None, None, :] - dx[:, :, None, None] + np.zeros((1, 1, n, 1))
        sampled = bilinear_sample(
            arr[lo:hi], rows.reshape(hi - lo, channels * n, n), cols.reshape(hi - lo, channels * n, n)
        )
        out[lo:hi] = np.moveaxis(sampled.reshape(hi - lo, channels, n, n), 1, -1)
    return out


def _position_offsets(global_offsets: object, count: int, func: str) -> np.ndarray:
    offs = as_array(global_offsets, "global_offsets", func, allow_complex=False).astype(np.float64)
    if offs.shape == (count, 1, 2, 1):
        return offs[:, 0, :, 0]
    if offs.shape == (count, 2):
        return offs
    raise ValueError(
        f"{func}: global_offsets: expected shape ({count}, 1, 2, 1) or ({count}, 2) rows [x, y], "
        f"found shape {offs.shape}"
    )


def patch_stack(patches: object, M: object, func: str) -> tuple[np.ndarray, int]:
    """Check a stack of patches with a central crop side: returns ((P, N, N) array, M).

    Accepts (P, N, N) or (P, N, N, 1) with P >= 1 and 1 <= M <= N; otherwise a one-line ValueError from ``func``.
    """
    arr = as_array(patches, "patches", func)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    check_ndim(arr, (3,), "patches", func, "(P, N, N) or (P, N, N, 1)")
    n = check_square(arr, (1, 2), "patches", func, "(P, N, N)")
    if arr.shape[0] == 0:
        raise ValueError(f"{func}: patches: expected at least one patch, found shape {arr.shape}")
    m = check_positive_int(M, "M", func)
    if m > n:
        raise ValueError(f"{func}: M: expected a crop side <= N={n}, found {m}")
    return arr, m


def canvas_origin(global_offsets: Any, side: int | Sequence[int], M: int) -> np.ndarray:
    """Object coordinates [x, y] (float64, (2,)) of pixel (0, 0) of a :func:`reassemble_position` canvas.

    Args:
        global_offsets: (P, 1, 2, 1) or (P, 2) positions ``[x, y]`` the canvas was stitched from (object pixels).
        side: the canvas side Hc, or its shape (Hc, Wc) (square).
        M: the central crop the canvas was stitched with.

    The stitcher puts the mean offset at canvas index ``pad + M//2`` with ``pad = (side - M) // 2``
    (specs/physics.md §6), so the origin is ``mean - (pad + M//2)``: what places a stitched object in the
    scan's frame (the written ``origin_xy``, refinement's start).
    """
    n = int(side) if isinstance(side, (int, np.integer)) else int(side[0])
    off = np.asarray(global_offsets, dtype=np.float64).reshape(-1, 2)
    return off.mean(axis=0) - float((n - int(M)) // 2 + int(M) // 2)


def reassemble_position(
    patches: np.ndarray, global_offsets: np.ndarray, M: int = STITCH_M, interpolation: str = "bilinear"
) -> np.ndarray:
    """Stitch one reconstructed patch per scan point into a full object (specs/physics.md §6).

    Args:
        patches: (P, N, N) or (P, N, N, 1) complex (or real) patches.
        global_offsets: (P, 1, 2, 1) or (P, 2) positions ``[x, y]`` (positive sense, object pixels).
        M: side of the central crop kept from every patch, 1 <= M <= N (workflows use 20).
        interpolation: 'bilinear' (default; what the workflows and ptychodus use) or 'fourier'
            (band-limited: every whole N x N patch is shifted by the fractional part of its offset
            with a Fourier phase ramp, then its central M x M crop is placed at the integer part;
            sharp objects are not blurred, integer offsets are copied exactly). See below and §6.2.

    Returns:
        (Hc, Wc) array (complex for complex patches, real for real ones, input precision) with
        ``Hc = Wc = M + 2 * pad``, ``pad = ceil(max |offset - mean offset|)`` rounded up to even.
        The central M x M crop of patch p (rows ``N//2 - M//2`` ...) is placed with its top-left
        at canvas index (pad, pad) and translated by ``+(offset_p - mean offset)`` (bilinear);
        crops are summed and divided by the summed translated masks of ones wherever that count
        is > 1e-6, and set to 0 elsewhere. The canvas is centred on the scan's mean position:
        the object point at ``mean offset`` lands at canvas index ``(pad + M//2, pad + M//2)``
        (row, col) for even M.

        With ``interpolation='fourier'`` the offsets are centred on the *rounded* mean,
        ``d_p = offset_p - round(mean offset)`` (round half up), so that integer positions stay
        integer; pad is computed from these d_p the same way. Each patch is shifted by
        ``e_p = d_p - round(d_p)`` (in [-1/2, 1/2)) as ``ifft2(fft2(patch) * exp(-2 pi i (e_y f_y +
        e_x f_x)))`` over the whole N x N patch (the ramp treats the patch as periodic: a jump
        between opposite edges, or inside the patch, rings into the crop with amplitude about
        jump * sin(pi e) / (pi * distance); small for M well below N); its central M x M crop is added at
        top-left ``(pad + round(d_y), pad + round(d_x))`` and the count is the same placement of
        integer masks of ones. The object point at ``round(mean offset)`` lands at
        ``(pad + M//2, pad + M//2)``. Real patches give the real part.

    Vectorised as a scatter-add (``np.bincount``) in chunks; 10k patches take well under a second.
    """
    func = "reassemble_position"
    arr, m = patch_stack(patches, M, func)
    n = arr.shape[-1]
    count_p = arr.shape[0]
    if interpolation not in ("bilinear", "fourier"):
        raise ValueError(f"{func}: interpolation: expected 'bilinear' or 'fourier', found {interpolation!r}")
    offs = _position_offsets(global_offsets, count_p, func)
    if interpolation == "fourier":
        offs = offs - np.floor(offs.mean(axis=0, keepdims=True) + 0.5)
    else:
        offs = offs - offs.mean(axis=0, keepdims=True)
    pad = math.ceil(float(np.max(np.abs(offs))))
    pad += pad % 2
    side = m + 2 * pad
    lo_c = n // 2 - m // 2
    if interpolation == "fourier":
        return _reassemble_fourier(arr, offs, m, pad, side, lo_c)
    crops = arr[:, lo_c : lo_c + m, lo_c : lo_c + m]
    is_complex = np.iscomplexobj(crops)

    # Translation by d = k + e (k = floor(d), 0 <= e < 1) sends input pixel r to r + k with weight
    # (1 - e) and to r + k + 1 with weight e: the scatter form of out[y] = in(y - d), bilinear.
    base = np.arange(m, dtype=np.int64) + pad
    total_re = np.zeros(side * side)
    total_im = np.zeros(side * side)
    count = np.zeros(side * side)
    for lo in range(0, count_p, _POSITION_CHUNK):
        hi = min(lo + _POSITION_CHUNK, count_p)
        kx = np.floor(offs[lo:hi, 0])
        ky = np.floor(offs[lo:hi, 1])
        ex = offs[lo:hi, 0] - kx
        ey = offs[lo:hi, 1] - ky
        kx = kx.astype(np.int64)
        ky = ky.astype(np.int64)
        chunk = crops[lo:hi]
        for dr, wr in ((0, 1.0 - ey), (1, ey)):
            rr = base[None, :] + ky[:, None] + dr  # (p, m)
            for dc, wc in ((0, 1.0 - ex), (1, ex)):
                cc = base[None, :] + kx[:, None] + dc
                ok = (
                    (rr[:, :, None] >= 0)
                    & (rr[:, :, None] < side)
                    & (cc[:, None, :] >= 0)
                    & (cc[:, None, :] < side)
                )
                idx = (rr[:, :, None] * side + cc[:, None, :])[ok]
                weight = np.broadcast_to((wr * wc)[:, None, None], ok.shape)[ok]
                count += np.bincount(idx, weights=weight, minlength=side * side)
                vals = chunk[ok] * weight
                if is_complex:
                    total_re += np.bincount(idx, weights=vals.real, minlength=side * side)
                    total_im += np.bincount(idx, weights=vals.imag, minlength=side * side)
                else:
                    total_re += np.bincount(idx, weights=vals, minlength=side * side)
    covered = count > _COUNT_FLOOR
    safe = np.where(covered, count, 1.0)
    if is_complex:
        result = np.where(covered, (total_re + 1j * total_im) / safe, 0.0)
    else:
        result = np.where(covered, total_re / safe, 0.0)
    return result.reshape(side, side).astype(arr.dtype, copy=False)


def _reassemble_fourier(arr: np.ndarray, offs: np.ndarray, m: int, pad: int, side: int, lo_c: int) -> np.ndarray:
    """'fourier' branch of :func:`reassemble_position`: offs (P, 2) already centred, canvas (side, side)."""
    n = arr.shape[-1]
    whole = np.floor(offs + 0.5)
    frac = offs - whole  # in [-1/2, 1/2)
    k = whole.astype(np.int64) + pad  # top-left of each crop on the canvas
    freq = np.fft.fftfreq(n)
    total = np.zeros((side, side), dtype=np.complex128)
    count = np.zeros((side, side), dtype=np.float64)
    chunk_size = max(1, _POSITION_CHUNK // 8)
    for lo in range(0, arr.shape[0], chunk_size):
        hi = min(lo + chunk_size, arr.shape[0])
        ey = frac[lo:hi, 1, None, None]
        ex = frac[lo:hi, 0, None, None]
        ramp = np.exp(-2j * np.pi * (ey * freq[None, :, None] + ex * freq[None, None, :]))
        shifted = np.fft.ifft2(np.fft.fft2(arr[lo:hi].astype(np.complex128), axes=(-2, -1)) * ramp, axes=(-2, -1))
        crops = shifted[:, lo_c : lo_c + m, lo_c : lo_c + m]
        rows = k[lo:hi, 1, None] + np.arange(m)[None, :]  # (p, m), all inside [0, side) by construction of pad
        cols = k[lo:hi, 0, None] + np.arange(m)[None, :]
        idx = (rows[:, :, None] * side + cols[:, None, :]).ravel()
        vals = crops.ravel()
        total.ravel()[:] += np.bincount(idx, weights=vals.real, minlength=side * side) + 1j * np.bincount(
            idx, weights=vals.imag, minlength=side * side
        )
        count.ravel()[:] += np.bincount(idx, minlength=side * side)
    covered = count > _COUNT_FLOOR
    result = np.where(covered, total / np.where(covered, count, 1.0), 0.0)
    if not np.iscomplexobj(arr):
        return result.real.astype(arr.dtype, copy=False)
    return result.astype(arr.dtype, copy=False)
