"""``RawData``: one validated ptychography scan, its grouping into model inputs, and ``load_data``.

Normative text: specs/data-contract.md (arrays, errors, subsampling) and specs/grouping.md (grouped
dict). Every constructor goes through :func:`ptycho.data_contract.validate_arrays`, so a RawData
always satisfies the contract: diffraction (M, N, N) float32 amplitudes, coordinates (M,) float64
object pixels (x = column, y = row), probe (N, N) complex64.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.atomic_io import save_npz_atomic, save_text_atomic
from ptycho.data_contract import ContractError, read_scan, validate_arrays
from ptycho.grouping import group_indices

__all__ = ["RawData", "get_relative_coords", "load_data"]


def get_relative_coords(coords_nn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split group member positions into group centre and relative offsets (specs/grouping.md §6).

    Args:
        coords_nn: (B, 1, 2, C) member positions, axis 2 = [x; y], object pixels.

    Returns:
        ``coords_offsets`` (B, 1, 2, 1) = mean over the C members (group centre, positive sense)
        and ``coords_relative`` (B, 1, 2, C) = −(coords_nn − coords_offsets) (centre minus member),
        both float64. For C = 1 the relative offsets are all zero.
    """
    arr = np.asarray(coords_nn, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[1] != 1 or arr.shape[2] != 2:
        raise ValueError(f"get_relative_coords: coords_nn: expected shape (B, 1, 2, C), found shape {arr.shape}")
    offsets = arr.mean(axis=3, keepdims=True)
    relative = -(arr - offsets)
    return offsets, relative


def _coords_nn(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(B, 1, 2, C) float64 with row 0 = x and row 1 = y of each group member."""
    return np.stack([x[idx], y[idx]], axis=1)[:, None, :, :].astype(np.float64)


class RawData:
    """A validated scan: M diffraction amplitudes with their positions, probe and optional labels.

    Attributes (after validation, see specs/data-contract.md §2):
        xcoords, ycoords, xcoords_start, ycoords_start: (M,) float64 object pixels.
        diff3d: (M, N, N) float32 amplitudes; ``diffraction`` is the same array. For an HDF5 scan it is a
            ``ptycho.scan_hdf5.LazyDiffraction`` that reads patterns on demand (specs/scaling.md §2).
        probeGuess: (N, N) complex64. scan_index: (M,) int64.
        objectGuess: (H, W) complex64 or None. Y: (M, N, N) complex64 ground-truth patches or None.
        norm_Y_I: float or None. metadata: dict or None.
        sample_indices: (M,) int64 indices into the file the scan was subsampled from, or None.
        subsample_seed: seed that reproduces ``sample_indices``, or None.
        group_indices: (B, C) int32 of the last ``generate_grouped_data`` call, or None.
    """

    def __init__(
        self,
        xcoords: Any,
        ycoords: Any,
        xcoords_start: Any,
        ycoords_start: Any,
        diff3d: Any,
        probeGuess: Any,
        scan_index: Any,
        objectGuess: Any = None,
        Y: Any = None,
        norm_Y_I: Any = None,
        metadata: dict[str, Any] | None = None,
        *,
        source: str = "<RawData>",
    ) -> None:
        if (xcoords_start is None) != (ycoords_start is None):
            missing = "ycoords_start" if ycoords_start is None else "xcoords_start"
            raise ContractError(source, missing, "both start coordinate arrays or neither", "only one given")
        if metadata is not None and not isinstance(metadata, dict):
            raise ContractError(source, "metadata", "a dict or None", type(metadata).__name__)
        arrays = {
            "xcoords": xcoords,
            "ycoords": ycoords,
            "xcoords_start": xcoords_start,
            "ycoords_start": ycoords_start,
            "diff3d": diff3d,
            "probeGuess": probeGuess,
            "scan_index": scan_index,
            "objectGuess": objectGuess,
            "Y": Y,
            "norm_Y_I": norm_Y_I,
        }
        validated = validate_arrays(arrays, source=source)
        if metadata is not None:
            validated["metadata"] = dict(metadata)
        self._set(validated)

    def _set(self, v: dict[str, Any]) -> None:
        self.xcoords: np.ndarray = v["xcoords"]
        self.ycoords: np.ndarray = v["ycoords"]
        self.xcoords_start: np.ndarray = v["xcoords_start"]
        self.ycoords_start: np.ndarray = v["ycoords_start"]
        self.diff3d: np.ndarray = v["diffraction"]
        self.probeGuess: np.ndarray = v["probeGuess"]
        self.scan_index: np.ndarray = v["scan_index"]
        self.objectGuess: np.ndarray | None = v["objectGuess"]
        self.Y: np.ndarray | None = v["Y"]
        self.norm_Y_I: float | None = v["norm_Y_I"]
        self.metadata: dict[str, Any] | None = v["metadata"]
        self.N: int = v["N"]
        self.sample_indices: np.ndarray | None = None
        self.subsample_seed: int | None = None
        self.group_indices: np.ndarray | None = None

    @classmethod
    def _from_validated(cls, v: dict[str, Any]) -> RawData:
        obj = cls.__new__(cls)
        obj._set(v)
        return obj

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> RawData:
        """Read and validate an NPZ or HDF5 scan (specs/data-contract.md §2-§6, specs/scaling.md §2; an HDF5
        ``diffraction`` stays on disk as a ``ptycho.scan_hdf5.LazyDiffraction``). Raises ContractError."""
        return cls._from_validated(validate_arrays(read_scan(path), source=str(path)))

    @classmethod
    def from_coords_without_pc(
        cls,
        xcoords: Any,
        ycoords: Any,
        diff3d: Any,
        probeGuess: Any,
        scan_index: Any,
        objectGuess: Any = None,
    ) -> RawData:
        """Build from positions without position correction: start coordinates = coordinates."""
        return cls(xcoords, ycoords, None, None, diff3d, probeGuess, scan_index, objectGuess)

    def to_file(self, path: str | os.PathLike[str]) -> None:
        """Write the scan atomically as an uncompressed NPZ that :meth:`from_file` reads back.

        Keys: diffraction, xcoords, ycoords, xcoords_start, ycoords_start, scan_index, probeGuess,
        and when present objectGuess, Y, norm_Y_I and _metadata (JSON text, never pickle).
        ``sample_indices``/``subsample_seed`` are not stored. Raises TypeError if metadata is not
        JSON-serialisable.
        """
        arrays: dict[str, Any] = {
            "diffraction": self.diff3d,
            "xcoords": self.xcoords,
            "ycoords": self.ycoords,
            "xcoords_start": self.xcoords_start,
            "ycoords_start": self.ycoords_start,
            "scan_index": self.scan_index,
            "probeGuess": self.probeGuess,
        }
        if self.objectGuess is not None:
            arrays["objectGuess"] = self.objectGuess
        if self.Y is not None:
            arrays["Y"] = self.Y
        if self.norm_Y_I is not None:
            arrays["norm_Y_I"] = np.float64(self.norm_Y_I)
        if self.metadata is not None:
            arrays["_metadata"] = np.array(json.dumps(self.metadata, sort_keys=True, allow_nan=False))
        save_npz_atomic(path, **arrays)

    # ---------------------------------------------------------------- views
    @property
    def diffraction(self) -> np.ndarray:
        """(M, N, N) float32 amplitudes (the same array as ``diff3d``)."""
        return self.diff3d

    def __len__(self) -> int:
        return int(self.xcoords.shape[0])

    def __repr__(self) -> str:
        obj = None if self.objectGuess is None else self.objectGuess.shape
        return f"RawData(M={len(self)}, N={self.N}, objectGuess={obj}, Y={'yes' if self.Y is not None else 'no'})"

    def subset(self, indices: Any) -> RawData:
        """A new RawData holding only the positions ``indices`` (1-D ints, in the given order)."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"RawData.subset: indices: expected 1-D integers, found shape {idx.shape} dtype {idx.dtype}")
        if idx.size == 0 or int(idx.min()) < 0 or int(idx.max()) >= len(self):
            raise ValueError(f"RawData.subset: indices: expected 1..{len(self)} values in [0, {len(self)}), found {idx.size} values")
        v = {
            "xcoords": self.xcoords[idx],
            "ycoords": self.ycoords[idx],
            "xcoords_start": self.xcoords_start[idx],
            "ycoords_start": self.ycoords_start[idx],
            "diffraction": self.diff3d[idx],
            "scan_index": self.scan_index[idx],
            "probeGuess": self.probeGuess,
            "objectGuess": self.objectGuess,
            "Y": None if self.Y is None else self.Y[idx],
            "norm_Y_I": self.norm_Y_I,
            "metadata": None if self.metadata is None else dict(self.metadata),
            "N": self.N,
        }
        return RawData._from_validated(v)

    # ---------------------------------------------------------------- grouping
    def generate_grouped_data(
        self,
        N: int,
        K: int = 4,
        nsamples: int = 1,
        dataset_path: str | None = None,
        seed: int | None = None,
        sequential_sampling: bool = False,
        gridsize: int = 1,
        enable_oversampling: bool = False,
        neighbor_pool_size: int | None = None,
        materialize: bool = True,
    ) -> dict[str, Any]:
        """Group positions and assemble channel-last model arrays (specs/grouping.md).

        Args:
            N: pattern size; must equal the data's N.
            K: nearest neighbours per seed (gridsize > 1), K >= C = gridsize².
            nsamples: groups wanted (B = min(nsamples, M) unless oversampling); 1 (the legacy default,
                and ptychodus's NumSamples default) means one group per scan position (B = M).
            dataset_path: accepted for signature compatibility; there is no grouping cache.
            seed: seed of ``np.random.default_rng`` (None: fresh entropy; sequential with None: 0).
            sequential_sampling: seeds are the first B positions.
            gridsize: members per group C = gridsize².
            enable_oversampling, neighbor_pool_size: see specs/grouping.md §4.
            materialize: False leaves a diffraction stack that is read on demand (an HDF5 scan,
                specs/scaling.md §2) on disk: ``diffraction``, ``X_full`` and ``Y`` are then None, and
                ``X_full_norm`` is computed from per-pattern powers streamed over the file; the caller
                reads ``factor * diff3d[nn_indices[batch]]`` batch by batch. In-memory scans ignore it.

        Returns:
            dict (specs/grouping.md §6): ``diffraction`` (B,N,N,C) float32 raw amplitudes,
            ``X_full`` (B,N,N,C) float32 normalised (one factor over the whole grouped set),
            ``X_full_norm`` float (that factor), ``coords_nn``/``coords_start_nn`` (B,1,2,C),
            ``coords_offsets``/``coords_start_offsets`` (B,1,2,1), ``coords_relative``/
            ``coords_start_relative`` (B,1,2,C) float64 object pixels, ``nn_indices`` (B,C) int32
            (= ``self.group_indices``), ``Y`` (B,N,N,C) complex64 or None, ``objectGuess``,
            ``probeGuess`` and, if subsampled, ``sample_indices``.
        """
        from ptycho.physics import extract_patches, normalize_diffraction

        if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or int(N) != self.N:
            raise ValueError(f"generate_grouped_data: N: expected the data's pattern size {self.N}, found {N!r}")
        if dataset_path is not None and not isinstance(dataset_path, (str, os.PathLike)):
            raise ValueError(f"generate_grouped_data: dataset_path: expected a path or None, found {type(dataset_path).__name__}")
        if seed is None and sequential_sampling:
            seed = 0
        if isinstance(nsamples, (int, np.integer)) and not isinstance(nsamples, bool) and nsamples == 1:
            nsamples = len(self)  # the legacy meaning of 1: every position seeds one group (specs/grouping.md §2)
        rng = np.random.default_rng(seed)
        idx = group_indices(
            self.xcoords,
            self.ycoords,
            gridsize=gridsize,
            K=K,
            nsamples=nsamples,
            rng=rng,
            sequential_sampling=sequential_sampling,
            enable_oversampling=enable_oversampling,
            neighbor_pool_size=neighbor_pool_size,
        )
        assert isinstance(idx, np.ndarray)
        self.group_indices = idx
        b, c = idx.shape
        n = self.N

        stack: Any = self.diff3d  # an ndarray, or a ptycho.scan_hdf5.LazyDiffraction read on demand
        lazy = not materialize and callable(getattr(stack, "pattern_power", None))
        if lazy:
            # the factor of normalize_diffraction: mean over every grouped pattern of its power
            power = float(np.mean(stack.pattern_power()[idx]))
            if power <= 0.0:
                raise ValueError("generate_grouped_data: diffraction: expected some non-zero amplitudes, found all zeros")
            diffraction, x_full, factor = None, None, math.sqrt((n / 2.0) ** 2 / power)
        else:
            diffraction = np.ascontiguousarray(np.moveaxis(self.diff3d[idx], 1, 3))  # (B,N,N,C)
            x_full, factor = normalize_diffraction(diffraction)
        coords_nn = _coords_nn(self.xcoords, self.ycoords, idx)
        coords_offsets, coords_relative = get_relative_coords(coords_nn)
        coords_start_nn = _coords_nn(self.xcoords_start, self.ycoords_start, idx)
        coords_start_offsets, coords_start_relative = get_relative_coords(coords_start_nn)

        y_patches: np.ndarray | None
        if lazy:
            y_patches = None  # labels of a scan larger than memory are not assembled
        elif self.Y is not None:
            y_patches = np.ascontiguousarray(np.moveaxis(self.Y[idx], 1, 3), dtype=np.complex64)
        elif self.objectGuess is not None:
            pos = np.stack([self.xcoords[idx].ravel(), self.ycoords[idx].ravel()], axis=1)  # (B·C, 2)
            patches = np.asarray(extract_patches(self.objectGuess, pos, n)).reshape(b, c, n, n)
            y_patches = np.ascontiguousarray(np.moveaxis(patches, 1, 3), dtype=np.complex64)
        else:
            y_patches = None

        out: dict[str, Any] = {
            "diffraction": None if diffraction is None else diffraction.astype(np.float32, copy=False),
            "X_full": None if x_full is None else np.asarray(x_full, dtype=np.float32),
            "X_full_norm": float(factor),
            "coords_nn": coords_nn,
            "coords_offsets": coords_offsets,
            "coords_relative": coords_relative,
            "coords_start_nn": coords_start_nn,
            "coords_start_offsets": coords_start_offsets,
            "coords_start_relative": coords_start_relative,
            "nn_indices": idx,
            "Y": y_patches,
            "objectGuess": self.objectGuess,
            "probeGuess": self.probeGuess,
        }
        if self.sample_indices is not None:
            out["sample_indices"] = self.sample_indices
        return out


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"load_data: {name}: expected True or False, found {value!r}")
    return bool(value)


def load_data(
    file_path: str | os.PathLike[str],
    n_images: int | None = None,
    n_subsample: int | None = None,
    flip_x: bool = False,
    flip_y: bool = False,
    swap_xy: bool = False,
    n_samples: int = 1,
    coord_scale: float = 1.0,
    subsample_seed: int | None = None,
    output_dir: str | os.PathLike[str] | None = None,
) -> RawData:
    """Read a scan, optionally subsample positions reproducibly, and transform coordinates.

    specs/data-contract.md §7. Steps:

    1. Read and validate ``file_path`` (ContractError on any contract violation).
    2. Subsample size k = ``n_subsample`` if given, else ``n_images``. If k < M, draw k distinct
       positions with ``np.random.default_rng(subsample_seed)`` and sort them; when
       ``subsample_seed`` is None a seed is drawn from OS entropy and recorded, so the subset can
       always be reproduced. ``raw.sample_indices`` (k,) int64 and ``raw.subsample_seed`` are set;
       with k >= M nothing is dropped and both stay None.
    3. Coordinates (and start coordinates): negate x if ``flip_x``, negate y if ``flip_y``, then
       swap x and y if ``swap_xy``, then multiply both by ``coord_scale``.
    4. If ``output_dir`` is given and positions were subsampled, write
       ``<output_dir>/tmp/subsample_seed{seed}_indices.txt`` atomically, one index per line.

    ``n_samples`` is the legacy group count argument; it is validated but grouping is done later by
    :meth:`RawData.generate_grouped_data` (``nsamples``).

    Returns:
        RawData (M' = k or M positions).
    """
    for name, value in (("n_images", n_images), ("n_subsample", n_subsample)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"load_data: {name}: expected a positive integer or None, found {value!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"load_data: n_samples: expected a positive integer, found {n_samples!r}")
    fx, fy, sw = _bool(flip_x, "flip_x"), _bool(flip_y, "flip_y"), _bool(swap_xy, "swap_xy")
    try:
        scale = float(coord_scale)
    except (TypeError, ValueError):
        raise ValueError(f"load_data: coord_scale: expected a finite non-zero number, found {coord_scale!r}") from None
    if not np.isfinite(scale) or scale == 0.0:
        raise ValueError(f"load_data: coord_scale: expected a finite non-zero number, found {coord_scale!r}")
    if subsample_seed is not None and (
        isinstance(subsample_seed, bool) or not isinstance(subsample_seed, (int, np.integer)) or subsample_seed < 0
    ):
        raise ValueError(f"load_data: subsample_seed: expected a non-negative integer or None, found {subsample_seed!r}")

    raw = RawData.from_file(file_path)
    m = len(raw)
    k = n_subsample if n_subsample is not None else n_images
    if k is not None and int(k) < m:
        seed = int(subsample_seed) if subsample_seed is not None else secrets.randbits(63)
        rng = np.random.default_rng(seed)
        indices = np.sort(rng.choice(m, size=int(k), replace=False)).astype(np.int64)
        raw = raw.subset(indices)
        raw.sample_indices = indices
        raw.subsample_seed = seed
        if output_dir is not None:
            text = "".join(f"{i}\n" for i in indices.tolist())
            save_text_atomic(Path(output_dir) / "tmp" / f"subsample_seed{seed}_indices.txt", text)

    x, y = raw.xcoords.copy(), raw.ycoords.copy()
    xs, ys = raw.xcoords_start.copy(), raw.ycoords_start.copy()
    if fx:
        x, xs = -x, -xs
    if fy:
        y, ys = -y, -ys
    if sw:
        x, y = y, x
        xs, ys = ys, xs
    raw.xcoords, raw.ycoords = x * scale, y * scale
    raw.xcoords_start, raw.ycoords_start = xs * scale, ys * scale
    return raw
