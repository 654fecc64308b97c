"""``ptycho.tf_helper``: legacy tensor helpers over :mod:`ptycho_tf.ops` (specs/tf-backend.md §2).

Legacy layouts: channel (B,N,N,C); flat (B*C,N,N,1) with flat index b*C + c; grid (B,gs,gs,N,N,1);
offsets channel format (B,1,2,C) rows [x, y].
"""

from __future__ import annotations

import tensorflow as tf

from ptycho import params
from ptycho_tf import ops
from ptycho_tf.stitching import reassemble_position

__all__ = ["translate", "extract_patches_position", "reassemble_position", "combine_complex",
           "pad_and_diffract", "trim_reconstruction", "_channel_to_flat", "_flat_to_channel", "_togrid",
           "_grid_to_channel", "flatten_offsets", "reassemble_groups", "extract_from_canvas"]


def _squeeze_last(x):
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 4 and x.shape[-1] == 1:
        return x[..., 0], True
    return x, False


def translate(imgs, offsets, **_ignored):
    """Translate (K,H,W) or (K,H,W,1) images by (K,2) [dx, dy] (content +dx cols, +dy rows; bilinear,
    zero fill). If K is a multiple of the number of offsets, offsets are reused cyclically."""
    x, had = _squeeze_last(imgs)
    off = tf.convert_to_tensor(offsets)
    k, ko = int(x.shape[0]), int(off.shape[0])
    if ko != k:
        if ko == 0 or k % ko:
            raise ValueError(f"translate: {k} images but {ko} offsets (expected equal or a divisor)")
        off = tf.tile(off, [k // ko, 1])
    out = ops.translate(x, off)
    return out[..., None] if had else out


def combine_complex(amp, phi):
    """amp * exp(i phi) (complex64 for float32 inputs)."""
    return ops.combine_complex(amp, phi)


def pad_and_diffract(x, h=None, w=None, pad: bool = False):
    """Far-field amplitude of (B,N,N,1) or (B,N,N) complex fields: |fftshift(fft2(x, ortho))|.
    ``pad=True`` first zero-pads N/4 on each side (the legacy option). Returns (x, amplitude)."""
    f, had = _squeeze_last(x)
    if pad:
        n = int(f.shape[-1])
        f = ops.pad_center(f, n + 2 * (n // 4))
    a = ops.far_field_amplitude(tf.cast(f, tf.complex64) if not f.dtype.is_complex else f)
    return x, (a[..., None] if had else a)


def extract_patches_position(imgs, offsets_xy, jitter: float = 0.0, N: int | None = None, gridsize=None):
    """Cut N x N patches from per-group canvases (B,M,M,1) at channel offsets (B,1,2,C):
    canvas translated by +offset, centre-cropped -> (B,N,N,C). ``jitter`` must be 0."""
    if jitter:
        raise ValueError(f"extract_patches_position: jitter is not supported, found {jitter}")
    canvas, _ = _squeeze_last(imgs)
    n = int(N) if N is not None else int(canvas.shape[-1])
    return ops.extract_from_canvas(canvas, offsets_xy, n)


def reassemble_groups(patches, coords_relative, M: int):
    """Per-group merge (B,N,N,C) -> (B,M,M) (see ptycho_tf.ops.reassemble_groups)."""
    return ops.reassemble_groups(patches, coords_relative, int(M))


def extract_from_canvas(canvas, coords_relative, N: int):
    """(B,M,M) canvases -> (B,N,N,C) patches (see ptycho_tf.ops.extract_from_canvas)."""
    return ops.extract_from_canvas(canvas, coords_relative, int(N))


def trim_reconstruction(x, N: int | None = None):
    """Central N/2 x N/2 region of (B,N,N,C) patches (the part the decoder predicts with pad_object)."""
    x = tf.convert_to_tensor(x)
    n = int(N) if N is not None else int(x.shape[1])
    s = n // 4
    return x[:, s : s + n // 2, s : s + n // 2, :]


def _channel_to_flat(img):
    """(B,N,N,C) -> (B*C,N,N,1)."""
    return ops.channel_to_flat(img)


def _flat_to_channel(img, N: int | None = None, gridsize: int | None = None):
    """(B*C,N,N,1) -> (B,N,N,C); gridsize defaults to params gridsize."""
    if gridsize is None:
        gridsize = int(params.get("gridsize"))
    return ops.flat_to_channel(img, int(gridsize))


def _togrid(img, gridsize: int | None = None, N: int | None = None):
    """(B,N,N,C) channel format or (B*C,N,N,1) flat -> (B,gs,gs,N,N,1)."""
    img = tf.convert_to_tensor(img)
    if gridsize is None:
        gridsize = int(params.get("gridsize"))
    if int(img.shape[-1]) == 1 and int(gridsize) > 1:
        img = ops.flat_to_channel(img, int(gridsize))
    return ops.channel_to_grid(img, int(gridsize))


def _grid_to_channel(grid):
    """(B,gs,gs,N,N,1) -> (B,N,N,gs*gs)."""
    return ops.grid_to_channel(grid)


def flatten_offsets(offsets):
    """(B,1,2,C) -> (B*C,2) rows [x, y]."""
    return ops.flat_offsets(offsets)
