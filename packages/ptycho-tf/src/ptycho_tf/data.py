"""The grouped-data container the TensorFlow model consumes (specs/tf-backend.md §6; legacy name ``ptycho.loader``).

Arrays are kept as numpy (float32 / complex64); nothing is converted to tensors eagerly.
``coords_true`` is the measured ``coords_relative``; ``create_split`` splits every per-group array.
``nphotons`` (for ``norm_Y_I``) and ``gridsize`` are arguments; the legacy ``ptycho.loader`` functions
(:mod:`ptycho_tf.compat.loader`) read them from the ``ptycho.params`` mirror when a caller leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ptycho.atomic_io import save_npz_atomic
from ptycho.raw_data import RawData

__all__ = ["PtychoDataContainer", "PtychoDataset", "ObjectFrameOffsets", "load"]


class ObjectFrameOffsets(np.ndarray):
    """Group centres (B,1,2,1) float64 [x, y] that remember the (H, W) ``object_shape`` of the object whose
    pixel coordinates they are, so that ``ptycho_tf.stitching.reassemble_position`` can stitch into that
    object's frame (specs/ptychodus.md §3). Views and slices keep the shape; ``np.asarray`` drops it."""

    object_shape: tuple[int, int] | None

    def __new__(cls, offsets, object_shape):
        out = np.asarray(offsets, np.float64).view(cls)
        out.object_shape = None if object_shape is None else (int(object_shape[0]), int(object_shape[1]))
        return out

    def __array_finalize__(self, obj) -> None:
        self.object_shape = getattr(obj, "object_shape", None)


class PtychoDataContainer:
    """Grouped model inputs for one dataset split.

    Attributes (B groups, C = gridsize**2 channels):
      X (B,N,N,C) float32 normalised amplitudes; Y_I, Y_phi (B,N,N,C) float32 ground-truth amplitude
      and phase (ones / zeros when unknown, then ``has_labels`` is False: no supervised training);
      norm_Y_I float (dataset intensity scale); YY_full (unused,
      None); coords_nominal, coords_true (B,1,2,C) float32 relative offsets; nn_indices (B,C) int32;
      global_offsets (B,1,2,1) float64 group centres [x, y] (an ObjectFrameOffsets carrying the
      objectGuess shape when the grouped data had one); local_offsets (B,1,2,C) float64
      coords_relative; probeGuess (N,N) complex64, or (K,N,N) incoherent modes (specs/tf-backend.md §2.1).
    """

    def __init__(self, X, Y_I, Y_phi, norm_Y_I, YY_full, coords_nominal, coords_true, nn_indices,
                 global_offsets, local_offsets, probeGuess):
        X = np.asarray(X, np.float32)
        if X.ndim != 4 or X.shape[1] != X.shape[2]:
            raise ValueError(f"PtychoDataContainer: X: expected shape (B, N, N, C), found {X.shape}")
        b, n, _, c = X.shape
        self.X = X
        self.Y_I = np.asarray(Y_I, np.float32)
        self.Y_phi = np.asarray(Y_phi, np.float32)
        for name, arr in (("Y_I", self.Y_I), ("Y_phi", self.Y_phi)):
            if arr.shape != X.shape:
                raise ValueError(f"PtychoDataContainer: {name}: expected shape {X.shape}, found {arr.shape}")
        self.norm_Y_I = norm_Y_I
        self.YY_full = YY_full
        self.coords_nominal = np.asarray(coords_nominal, np.float32)
        self.coords_true = np.asarray(coords_true, np.float32)
        for name, arr in (("coords_nominal", self.coords_nominal), ("coords_true", self.coords_true)):
            if arr.shape != (b, 1, 2, c):
                raise ValueError(f"PtychoDataContainer: {name}: expected shape {(b, 1, 2, c)}, found {arr.shape}")
        self.nn_indices = None if nn_indices is None else np.asarray(nn_indices, np.int32)
        shape = getattr(global_offsets, "object_shape", None)
        self.global_offsets = np.asarray(global_offsets, np.float64)
        if shape is not None:
            self.global_offsets = ObjectFrameOffsets(self.global_offsets, shape)
        self.local_offsets = np.asarray(local_offsets, np.float64)
        self.probe = None if probeGuess is None else np.asarray(probeGuess, np.complex64)
        self.probeGuess = self.probe
        self.has_labels = True

    @property
    def Y(self) -> np.ndarray:
        """Ground-truth patches Y_I * exp(i Y_phi), (B,N,N,C) complex64."""
        return (self.Y_I * np.exp(1j * self.Y_phi)).astype(np.complex64)

    @property
    def coords(self) -> np.ndarray:
        """Alias of coords_nominal."""
        return self.coords_nominal

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, idx) -> PtychoDataContainer:
        """Container restricted to the groups ``idx`` (every per-group array is indexed)."""
        idx = np.asarray(idx)
        out = PtychoDataContainer(self.X[idx], self.Y_I[idx], self.Y_phi[idx], self.norm_Y_I, self.YY_full,
                                  self.coords_nominal[idx], self.coords_true[idx],
                                  None if self.nn_indices is None else self.nn_indices[idx],
                                  self.global_offsets[idx], self.local_offsets[idx], self.probe)
        out.has_labels = self.has_labels
        return out

    def as_tf_dataset(self, batch_size: int, shuffle: bool = True, intensity_scale: float = 1.0):
        """tf.data.Dataset of ((s*X, coords_nominal), (s*X, (s*X)^2)) batches (lazy import of tensorflow)."""
        import tensorflow as tf

        s = np.float32(intensity_scale)
        ds = tf.data.Dataset.from_tensor_slices(((self.X, self.coords_nominal),))
        ds = ds.map(lambda t: ((s * t[0], t[1]), (s * t[0], tf.square(s * t[0]))))
        if shuffle:
            ds = ds.shuffle(len(self))
        return ds.batch(int(batch_size))

    def to_npz(self, path) -> None:
        """Write the container's arrays atomically (np.load(allow_pickle=False) reads it)."""
        arrays = dict(X=self.X, Y_I=self.Y_I, Y_phi=self.Y_phi, coords_nominal=self.coords_nominal,
                      coords_true=self.coords_true, global_offsets=self.global_offsets,
                      local_offsets=self.local_offsets)
        optional = {"nn_indices": self.nn_indices, "probeGuess": self.probe,
                    "norm_Y_I": None if self.norm_Y_I is None else np.float64(self.norm_Y_I)}
        save_npz_atomic(path, **arrays, **{k: v for k, v in optional.items() if v is not None})

    @staticmethod
    def from_raw_data_without_pc(xcoords, ycoords, diff3d, probeGuess, scan_index, objectGuess=None,
                                 N=None, K=7, nsamples=1, *, gridsize: int, nphotons: float) -> PtychoDataContainer:
        """Group raw positions (``gridsize``: groups of gridsize**2) and load them into a container
        (``nphotons``: photons per pattern, see :func:`load`). The legacy
        ``ptycho.loader.from_raw_data_without_pc`` fills values left out from the params mirror."""
        raw = RawData.from_coords_without_pc(xcoords, ycoords, diff3d, probeGuess, scan_index, objectGuess)
        n = int(N if N is not None else np.asarray(diff3d).shape[-1])
        d = raw.generate_grouped_data(n, K=K, nsamples=nsamples, gridsize=int(gridsize))
        return load(lambda: d, probeGuess, which=None, create_split=False, nphotons=nphotons)


class PtychoDataset:
    """A (train_data, test_data) pair of containers."""

    def __init__(self, train_data: PtychoDataContainer, test_data: PtychoDataContainer | None):
        self.train_data = train_data
        self.test_data = test_data


def _container_from_dict(d: dict[str, Any], probeGuess, nphotons: float) -> PtychoDataContainer:
    x = np.asarray(d["X_full"], np.float32)
    y = d.get("Y")
    if y is None:
        y_i, y_phi = np.ones_like(x), np.zeros_like(x)
    else:
        y = np.asarray(y)
        if y.ndim == 3:
            y = y[..., None]
        if y.shape != x.shape:
            raise ValueError(f"loader.load: Y: expected shape {x.shape} like X_full, found {y.shape}")
        y_i, y_phi = np.abs(y).astype(np.float32), np.angle(y).astype(np.float32)
    msum = float(np.mean(np.sum(x.astype(np.float64) ** 2, axis=(1, 2)))) if x.size else 0.0
    norm = float(np.sqrt(float(nphotons) / msum)) if msum > 0 else None
    rel = np.asarray(d["coords_relative"], np.float64)
    start_rel = np.asarray(d.get("coords_start_relative", rel), np.float64)
    probe = probeGuess if probeGuess is not None else d.get("probeGuess")
    offsets = np.asarray(d["coords_offsets"], np.float64)
    obj = d.get("objectGuess")
    if obj is not None and np.ndim(obj) == 2:
        offsets = ObjectFrameOffsets(offsets, np.shape(obj))
    cont = PtychoDataContainer(x, y_i, y_phi, norm, None, start_rel, rel, d.get("nn_indices"), offsets, rel, probe)
    cont.has_labels = y is not None
    return cont


def load(cb: Callable[[], Any], probeGuess, which: str | None = None, create_split: bool = False, *,
         nphotons: float) -> PtychoDataContainer:
    """Build a container from ``cb()`` (a grouped dict, see ``RawData.generate_grouped_data``).

    X = X_full; coords_nominal = coords_start_relative; coords_true = local_offsets = coords_relative;
    global_offsets = coords_offsets; norm_Y_I = sqrt(nphotons / mean sum X^2).
    With ``create_split=True``, ``cb()`` returns ``(dict, train_frac)`` and ``which`` ('train' or 'test')
    selects the first ``int(B * train_frac)`` groups or the rest. ``nphotons``: photons per pattern for
    ``norm_Y_I``.
    """
    photons = float(nphotons)
    if create_split:
        d, frac = cb()
        if which not in ("train", "test"):
            raise ValueError(f"loader.load: which: expected 'train' or 'test' with create_split=True, found {which!r}")
        cont = _container_from_dict(d, probeGuess, photons)
        cut = int(len(cont) * float(frac))
        return cont.subset(np.arange(cut) if which == "train" else np.arange(cut, len(cont)))
    d = cb()
    if not isinstance(d, dict) or "X_full" not in d:
        raise ValueError("loader.load: expected cb() to return the grouped dict with key 'X_full', found "
                         f"{type(d).__name__}")
    return _container_from_dict(d, probeGuess, photons)
