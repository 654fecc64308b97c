"""Sub-pixel translation and bilinear resampling (torch mirror of ``ptycho.physics.translation``).

Convention (specs/physics.md §2): ``translate(images, [dx, dy])`` moves content ``+dx`` columns and
``+dy`` rows, ``out[y, x] = in[y - dy, x - dx]``; bilinear, each of the four taps outside the image
contributes zero.

Implementation: bilinear interpolation with per-tap zero fill is separable for a pure translation
(the weight of tap (r, c) is ``tri(r - y') * tri(c - x')`` with ``tri(u) = max(0, 1 - |u|)``, and a tap is
inside the image iff its row AND its column are). So every resampling here is ``Sy @ img @ Sx^T`` with
banded (n_out, n_in) matrices ``S[i, j] = tri(j - (start + i))``. This is exact bilinear (not an
approximation), needs no gather/grid normalisation round-off, is vectorised over the batch, runs as two
batched matmuls, is differentiable in both the images and the offsets, and keeps float64/complex128.
"""

from __future__ import annotations

import torch

from ._validation import as_tensor, check_ndim, check_shape, real_dtype

__all__ = ["translate", "shift_matrix", "resample_separable"]


def shift_matrix(n_out: int, n_in: int, start: torch.Tensor) -> torch.Tensor:
    """Bilinear 1-D resampling matrices.

    Args:
        n_out, n_in: output / input length.
        start: (...) real tensor; output sample ``i`` reads input coordinate ``start + i``.
    Returns:
        (..., n_out, n_in) tensor of ``start``'s dtype with ``S[..., i, j] = max(0, 1 - |j - start - i|)``.
    """
    dt, dev = start.dtype, start.device
    i = torch.arange(n_out, dtype=dt, device=dev)
    j = torch.arange(n_in, dtype=dt, device=dev)
    # Split ``start`` into integer and fractional parts before combining with the (exact, integer)
    # index grids: ``start + i`` in float32 loses low bits of the fraction once coordinates exceed ~64 px.
    base = torch.floor(start)
    frac = start - base
    d = j - i[:, None] - base[..., None, None]  # (..., n_out, n_in), exact integers
    return torch.clamp(1.0 - torch.abs(d - frac[..., None, None]), min=0.0)


def resample_separable(images: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
    """``sy @ images @ sx^T`` for real or complex images (complex as a real/imag pair).

    Args:
        images: (..., H, W) real or complex.
        sy: (..., h, H) real; sx: (..., w, W) real (leading dims broadcast against ``images``).
    Returns:
        (..., h, w) of the images' dtype.
    """
    sxt = sx.transpose(-1, -2)
    if images.is_complex():
        pair = torch.stack((images.real, images.imag), dim=-3)  # (..., 2, H, W)
        out = sy.unsqueeze(-3) @ pair @ sxt.unsqueeze(-3)
        return torch.complex(out[..., 0, :, :], out[..., 1, :, :])
    return sy @ images @ sxt


def translate(images: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Translate each image of a stack by its own sub-pixel offset.

    Args:
        images: (K, H, W) float32/float64/complex64/complex128.
        offsets: (K, 2) rows ``[dx, dy]`` in pixels: content moves +dx columns, +dy rows.
    Returns:
        (K, H, W), the images' dtype and device: ``out[k, y, x] = in[k, y - dy_k, x - dx_k]``
        (bilinear, zero fill).
    Raises:
        ValueError on wrong shapes; TypeError on non-numeric dtypes.
    """
    func = "translate"
    imgs = as_tensor(images, "images", func)
    check_ndim(imgs, (3,), "images", func, "(K, H, W)")
    offs = as_tensor(offsets, "offsets", func, allow_complex=False, like=imgs)
    check_shape(offs, (imgs.shape[0], 2), "offsets", func, f"({imgs.shape[0]}, 2) rows [dx, dy]")
    offs = offs.to(device=imgs.device, dtype=real_dtype(imgs))
    _, height, width = imgs.shape
    sy = shift_matrix(height, height, -offs[:, 1])
    sx = shift_matrix(width, width, -offs[:, 0])
    return resample_separable(imgs, sy, sx)
