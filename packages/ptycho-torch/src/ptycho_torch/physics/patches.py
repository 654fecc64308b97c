"""Patch extraction, per-group reassembly and inference stitching in torch (specs/physics.md §3-§6).

Mirror of ``ptycho.physics.patches`` (same names, argument order and channel-last layouts), built on
the exact separable bilinear resampling of :mod:`.translation`: every operator is a pair of banded
(n_out, n_in) matrices, so a batch is two batched matmuls (no Python loop over groups), gradients flow
to patches, canvases and coordinates, and float64/complex128 stay float64/complex128.

Coordinates: object pixels, x = column, y = row; a patch for (x, y) has its centre index (N//2, N//2)
on (row=y, col=x). ``coords_relative`` (B, 1, 2, C), axis 2 = [x, y], sign -1.

The ``*_cf`` helpers take channels-first (B, C, N, N) tensors (what the network emits) and are what
:class:`ptycho_torch.forward_model.ForwardModel` calls; the public functions permute views around them.
"""

from __future__ import annotations

import math

import torch

from ptycho.physics import checks
from ptycho.physics.patches import canvas_size as reference_canvas_size

from ._validation import as_tensor, check_ndim, check_positive_int, complex_dtype, real_dtype
from .translation import resample_separable, shift_matrix

__all__ = [
    "extract_patches",
    "reassemble_groups",
    "extract_from_canvas",
    "canvas_size",
    "reassemble_position",
    "accumulate_crops",
    "normalise_canvas",
    "reassemble_groups_cf",
    "extract_from_canvas_cf",
]

_COUNT_FLOOR = 1e-6
_POSITION_CHUNK = 1024


def _square(t: torch.Tensor, dims: tuple[int, int], name: str, func: str, layout: str) -> int:
    a, b = t.shape[dims[0]], t.shape[dims[1]]
    if a != b or a == 0:
        raise ValueError(f"{func}: {name}: expected square non-empty patches {layout}, found shape {tuple(t.shape)}")
    return int(a)


def _coords(coords, like: torch.Tensor, batch: int, channels: int | None, func: str) -> torch.Tensor:
    rel = as_tensor(coords, "coords_relative", func, allow_complex=False, like=like)
    checks.coords_channels(tuple(rel.shape), func, batch, channels)
    return rel.to(device=like.device, dtype=real_dtype(like))


def extract_patches(obj: torch.Tensor, positions: torch.Tensor, N: int) -> torch.Tensor:
    """Cut N x N patches centred on scan positions out of a 2-D object (specs/physics.md §3).

    Args:
        obj: (H, W) float or complex object.
        positions: (K, 2) rows ``[x, y]`` (x = column, y = row), object pixels.
        N: patch side.
    Returns:
        (K, N, N), object dtype: ``patch[k, i, j] = obj(y_k - N//2 + i, x_k - N//2 + j)``, bilinear,
        zero outside the object.
    """
    func = "extract_patches"
    o = as_tensor(obj, "obj", func)
    check_ndim(o, (2,), "obj", func, "(H, W)")
    n = check_positive_int(N, "N", func)
    pos = as_tensor(positions, "positions", func, allow_complex=False, like=o)
    if pos.dim() != 2 or pos.shape[1] != 2:
        raise ValueError(f"{func}: positions: expected shape (K, 2) rows [x, y], found shape {tuple(pos.shape)}")
    pos = pos.to(device=o.device, dtype=real_dtype(o))
    h, w = o.shape
    sy = shift_matrix(n, h, pos[:, 1] - n // 2)
    sx = shift_matrix(n, w, pos[:, 0] - n // 2)
    return resample_separable(o.unsqueeze(0), sy, sx)


def canvas_size(N: int, gridsize: int, coords_relative=None, offset: int = 4, max_position_jitter: int = 10) -> int:
    """Side M of the per-group canvas (specs/physics.md §5): ``ptycho.physics.canvas_size`` applied to
    ``coords_relative`` (B, 1, 2, C) tensor or array (detached, read on the host). Python int."""
    rel = None
    if coords_relative is not None:
        rel = as_tensor(coords_relative, "coords_relative", "canvas_size", allow_complex=False).detach().cpu().numpy()
    return reference_canvas_size(N, gridsize, rel, offset, max_position_jitter)


def reassemble_groups_cf(patches: torch.Tensor, rel: torch.Tensor, M: int) -> torch.Tensor:
    """Channels-first core of :func:`reassemble_groups` (no validation).

    patches (B, C, N, N) real/complex; rel (B, 1, 2, C) real of the patches' precision; returns (B, M, M).
    """
    n = patches.shape[-1]
    start = (M - n) // 2
    ry = rel[:, 0, 1, :] - start  # (B, C): canvas row Y reads patch row Y + rel_y - start
    rx = rel[:, 0, 0, :] - start
    sy = shift_matrix(M, n, ry)  # (B, C, M, N)
    sx = shift_matrix(M, n, rx)
    total = resample_separable(patches, sy, sx).sum(dim=1)
    count = (sy.sum(-1).unsqueeze(-1) * sx.sum(-1).unsqueeze(-2)).sum(dim=1)  # merge of ones
    return total / torch.clamp(count, min=1.0)


def extract_from_canvas_cf(canvas: torch.Tensor, rel: torch.Tensor, N: int) -> torch.Tensor:
    """Channels-first core of :func:`extract_from_canvas`: canvas (B, M, M) -> (B, C, N, N)."""
    m = canvas.shape[-1]
    start = (m - N) // 2
    sy = shift_matrix(N, m, start - rel[:, 0, 1, :])  # (B, C, N, M)
    sx = shift_matrix(N, m, start - rel[:, 0, 0, :])
    return resample_separable(canvas.unsqueeze(1), sy, sx)


def reassemble_groups(patches: torch.Tensor, coords_relative: torch.Tensor, M: int) -> torch.Tensor:
    """Merge each group's C patches onto its own M x M canvas (specs/physics.md §4).

    Args:
        patches: (B, N, N, C) complex or real, channel c = group member c.
        coords_relative: (B, 1, 2, C) ``[x; y]`` = group centre - member position (sign -1).
        M: canvas side >= N.
    Returns:
        (B, M, M), patches' dtype: each patch zero-padded to M (``(M-N)//2`` before), translated by
        ``-coords_relative``, summed over C and divided by ``max(count, 1)`` (count = same merge of ones).
        Groups are never mixed.
    """
    func = "reassemble_groups"
    p = as_tensor(patches, "patches", func)
    n = checks.channel_patch_side(tuple(p.shape), "patches", func)
    rel = _coords(coords_relative, p, p.shape[0], p.shape[3], func)
    m = checks.check_canvas_side(check_positive_int(M, "M", func), n, func)
    return reassemble_groups_cf(p.permute(0, 3, 1, 2), rel, m)


def extract_from_canvas(canvas: torch.Tensor, coords_relative: torch.Tensor, N: int) -> torch.Tensor:
    """Re-extract each member's N x N patch from its group canvas (specs/physics.md §4).

    Args:
        canvas: (B, M, M) float or complex.
        coords_relative: (B, 1, 2, C) sign -1 offsets ``[x; y]``.
        N: patch side <= M.
    Returns:
        (B, N, N, C): canvas translated by ``+coords_relative[b, 0, :, c]`` and centre-cropped
        (window starting at ``(M-N)//2``).
    """
    func = "extract_from_canvas"
    cv = as_tensor(canvas, "canvas", func)
    check_ndim(cv, (3,), "canvas", func, "(B, M, M)")
    m = _square(cv, (1, 2), "canvas", func, "(B, M, M)")
    n = checks.check_patch_side(check_positive_int(N, "N", func), m, func)
    rel = _coords(coords_relative, cv, cv.shape[0], None, func)
    return extract_from_canvas_cf(cv, rel, n).permute(0, 2, 3, 1)


def _position_offsets(global_offsets, like: torch.Tensor, count: int, func: str) -> torch.Tensor:
    offs = as_tensor(global_offsets, "global_offsets", func, allow_complex=False, like=like)
    if tuple(offs.shape) == (count, 1, 2, 1):
        offs = offs[:, 0, :, 0]
    elif tuple(offs.shape) != (count, 2):
        raise ValueError(f"{func}: global_offsets: expected shape ({count}, 1, 2, 1) or ({count}, 2) rows [x, y], "
                         f"found shape {tuple(offs.shape)}")
    # float64 for the positions: absolute scan coordinates can be large
    return offs.to(device=like.device, dtype=torch.float64)


def reassemble_position(
    patches: torch.Tensor, global_offsets: torch.Tensor, M: int = 20, interpolation: str = "bilinear"
) -> torch.Tensor:
    """Stitch one reconstructed patch per scan point into a full object (specs/physics.md §6).

    Args:
        patches: (P, N, N) or (P, N, N, 1) complex or real.
        global_offsets: (P, 1, 2, 1) or (P, 2) positions ``[x, y]`` (object pixels, positive sense).
        M: central crop side kept from every patch, 1 <= M <= N (workflows use 20).
        interpolation: 'bilinear' (default) or 'fourier': offsets centred on the rounded mean,
            each whole patch shifted by the fractional part of its offset with a Fourier phase
            ramp, its central M x M crop added at the integer part (specs/physics.md §6.2; same
            arithmetic as ``ptycho.physics.reassemble_position``).
    Returns:
        (Hc, Wc) tensor, patches' dtype, ``Hc = Wc = M + 2*pad``, ``pad = ceil(max |offset - mean|)``
        rounded up to even. Crop of patch p (rows ``N//2 - M//2`` ...) placed at (pad, pad), translated
        by ``+(offset_p - mean)``, summed, divided by the summed translated ones where count > 1e-6,
        0 elsewhere. Runs in chunks of patches; one (side, P*M) x (P*M, side) matmul per chunk.
    """
    func = "reassemble_position"
    p = as_tensor(patches, "patches", func)
    if p.dim() == 4 and p.shape[-1] == 1:
        p = p[..., 0]
    check_ndim(p, (3,), "patches", func, "(P, N, N) or (P, N, N, 1)")
    n = _square(p, (1, 2), "patches", func, "(P, N, N)")
    count_p = p.shape[0]
    m = check_positive_int(M, "M", func)
    if m > n:
        raise ValueError(f"{func}: M: expected a crop side <= N={n}, found {m}")
    if interpolation not in ("bilinear", "fourier"):
        raise ValueError(f"{func}: interpolation: expected 'bilinear' or 'fourier', found {interpolation!r}")
    offs = _position_offsets(global_offsets, p, count_p, func)
    if interpolation == "fourier":
        offs = offs - torch.floor(offs.mean(dim=0, keepdim=True) + 0.5)
    else:
        offs = offs - offs.mean(dim=0, keepdim=True)
    pad = math.ceil(float(offs.detach().abs().max()))
    pad += pad % 2
    side = m + 2 * pad
    lo_c = n // 2 - m // 2
    if interpolation == "fourier":
        return _reassemble_fourier(p, offs.detach(), m, pad, side, lo_c)
    crops = p[:, lo_c:lo_c + m, lo_c:lo_c + m]
    total = torch.zeros(side * side, dtype=p.dtype, device=p.device)
    count = torch.zeros(side * side, dtype=real_dtype(p), device=p.device)
    for lo in range(0, count_p, _POSITION_CHUNK):
        hi = min(lo + _POSITION_CHUNK, count_p)
        index, values, weights = accumulate_crops(crops[lo:hi], offs[lo:hi], side, pad)
        # out of place: the stitch stays differentiable with respect to the patches and offsets
        total = total.index_add(0, index, values)
        count = count.index_add(0, index, weights)
    return normalise_canvas(total.view(side, side), count.view(side, side)).to(p.dtype)


def accumulate_crops(
    crops: torch.Tensor, offs: torch.Tensor, side: int, pad: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One chunk of the bilinear shift-and-sum of :func:`reassemble_position` (also the step of a streamed stitch),
    as a scatter onto the flattened (side, side) canvas.

    Crop pixel (r, c) of a crop with offset (dx, dy) lands at canvas position (pad + dy + r, pad + dx + c) and is
    split bilinearly over the four pixels around it — the same weights as reading canvas row Y from crop row
    Y - pad - dy by linear interpolation. The cost is 4·k·m² additions whatever the canvas size and the crops'
    order, so a streamed stitch of a long scan is linear in the number of patches (specs/scaling.md §3).

    Args:
        crops: (k, m, m) central crops, real or complex.
        offs: (k, 2) float64 offsets [x, y] relative to the canvas centre (object pixels), |offset| <= pad.
        side, pad: canvas side and the margin around the centred crop (``side = m + 2*pad``).
    Returns:
        (index (4·k·m²,) int64 flat canvas indices row * side + column; values (4·k·m²,) crops' dtype, the
        weighted crop pixels; weights (4·k·m²,) real, the bilinear weights (the translated ones)), for
        ``canvas.view(-1).index_add_(0, index, values)`` and the same for the overlap count.
    """
    k, m = crops.shape[0], crops.shape[-1]
    rdt = real_dtype(crops)
    start = pad + offs
    base = torch.floor(start.detach())
    frac = (start - base).to(rdt)  # (k, 2) [x, y], in [0, 1)
    r = torch.arange(m, device=crops.device)
    cols = base[:, 0].to(torch.int64)[:, None] + r  # (k, m)
    rows = base[:, 1].to(torch.int64)[:, None] + r
    tx, ty = frac[:, 0], frac[:, 1]
    index, weights = [], []
    for dy, wy in ((0, 1 - ty), (1, ty)):
        for dx, wx in ((0, 1 - tx), (1, tx)):
            # the +1 neighbour can leave the canvas only with weight 0 (|offset| = pad exactly): clamp it in
            flat = (rows + dy).clamp(max=side - 1)[:, :, None] * side + (cols + dx).clamp(max=side - 1)[:, None, :]
            index.append(flat)
            weights.append((wy * wx)[:, None, None].expand(k, m, m))
    w = torch.stack(weights)  # (4, k, m, m)
    return torch.stack(index).reshape(-1), (crops[None] * w).reshape(-1), w.reshape(-1)


def normalise_canvas(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``total / count`` where count > 1e-6, 0 elsewhere (the overlap normalisation of a stitched canvas)."""
    covered = count > _COUNT_FLOOR
    safe = torch.where(covered, count, torch.ones_like(count))
    return torch.where(covered, total / safe, torch.zeros((), dtype=total.dtype, device=total.device))


def _reassemble_fourier(p: torch.Tensor, offs: torch.Tensor, m: int, pad: int, side: int, lo_c: int) -> torch.Tensor:
    """'fourier' branch of :func:`reassemble_position`; offs (P, 2) float64, already centred."""
    n = p.shape[-1]
    cdt = complex_dtype(p)
    whole = torch.floor(offs + 0.5)
    frac = (offs - whole).to(real_dtype(p))  # in [-1/2, 1/2)
    k = whole.to(torch.int64) + pad  # canvas top-left of every crop
    freq = torch.fft.fftfreq(n, dtype=real_dtype(p), device=p.device)
    ar = torch.arange(m, device=p.device)
    total = torch.zeros(side * side, dtype=cdt, device=p.device)
    count = torch.zeros(side * side, dtype=real_dtype(p), device=p.device)
    for lo in range(0, p.shape[0], _POSITION_CHUNK):
        hi = min(lo + _POSITION_CHUNK, p.shape[0])
        ey = frac[lo:hi, 1, None, None]
        ex = frac[lo:hi, 0, None, None]
        ramp = torch.polar(torch.ones((), dtype=frac.dtype, device=p.device),
                           -2 * math.pi * (ey * freq[None, :, None] + ex * freq[None, None, :]))
        shifted = torch.fft.ifft2(torch.fft.fft2(p[lo:hi].to(cdt)) * ramp)
        crops = shifted[:, lo_c:lo_c + m, lo_c:lo_c + m]
        rows = k[lo:hi, 1, None] + ar[None, :]
        cols = k[lo:hi, 0, None] + ar[None, :]
        idx = (rows[:, :, None] * side + cols[:, None, :]).reshape(-1)
        total = total.index_add(0, idx, crops.reshape(-1))
        count = count.index_add(0, idx, torch.ones(idx.shape, dtype=count.dtype, device=p.device))
    total = total.reshape(side, side)
    count = count.reshape(side, side)
    out = normalise_canvas(total, count)
    if not p.is_complex():
        out = out.real
    return out.to(p.dtype)
