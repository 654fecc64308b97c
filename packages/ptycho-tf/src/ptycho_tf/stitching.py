"""Stitching one predicted patch per scan position into an object (specs/physics.md §6, specs/ptychodus.md §3).

The TensorFlow counterpart of ``ptycho_torch.stitching``; the legacy name is ``ptycho.tf_helper.reassemble_position``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from . import ops

__all__ = ["reassemble_position"]


def reassemble_position(obj_tensor, global_offsets, M: int = 10, chunk_size: int = 256, interpolation: str = "bilinear",
                        object_shape: tuple[int, int] | None = None):
    """Stitch one patch per scan position: (P,N,N,1) or (P,N,N) complex patches, offsets (P,1,2,1) or
    (P,2) [x, y] -> (H, H, 1) complex tensor (H = M + 2 pad, centred on the mean offset; see ops.reassemble_position).
    ``interpolation``: 'bilinear' (default) or 'fourier' (band-limited sub-pixel shifts, specs/physics.md §6.2).

    ``object_shape`` (H, W): return the canvas in the frame of that object instead, (H, W, 1) with canvas
    pixel (row, col) = object pixel (row, col). It defaults to the ``object_shape`` the offsets carry: the
    ``global_offsets`` of a :class:`ptycho_tf.data.PtychoDataContainer` built from a scan with an ``objectGuess``
    remember its shape, so ptychodus, which labels the result with the input object's geometry, gets the input
    object's frame (specs/ptychodus.md §3)."""
    x = tf.convert_to_tensor(obj_tensor)
    if x.shape.rank == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if object_shape is None and interpolation == "bilinear":  # the object frame is a bilinear canvas
        object_shape = getattr(global_offsets, "object_shape", None)
    off = np.asarray(global_offsets, np.float64)
    p = int(x.shape[0])
    if off.shape == (p, 1, 2, 1):
        off = off[:, 0, :, 0]
    elif off.shape != (p, 2):
        raise ValueError(f"reassemble_position: global_offsets: expected shape ({p}, 1, 2, 1) or ({p}, 2), "
                         f"found {off.shape}")
    return ops.reassemble_position(x, off, int(M), chunk=int(chunk_size), interpolation=interpolation,
                                   frame=None if object_shape is None else tuple(object_shape))[..., None]
