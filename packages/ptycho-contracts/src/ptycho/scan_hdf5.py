"""Scans larger than memory: the NPZ contract's keys as datasets of an HDF5 file (specs/scaling.md §2).

An HDF5 scan holds the keys of specs/data-contract.md §2 as root datasets with the same shapes, plus the
scalar ``_metadata`` (JSON text). ``diffraction`` (alias ``diff3d``) must be (M, N, N) with a real dtype and
is *not* read into memory: :func:`read_scan_hdf5` returns it as a :class:`LazyDiffraction`, an array-like
whose ``stack[indices]`` reads only those patterns (h5py, a chunked dataset of whole patterns is the fast
layout; :func:`write_scan_hdf5` writes chunks of ``chunk_patterns`` patterns). Every other key is small and
is read whole. Validation is the NPZ contract's (``ptycho.data_contract.validate_arrays``); the diffraction
check (finite, non-negative, float32-representable) streams over the file chunk by chunk, so its memory is
one chunk, not the scan.

Every access goes through :mod:`ptycho.hdf5_guard` (specs/data-contract.md §6.4): a damaged file, chunk or
object header is a ContractError naming file and key, a dataset that declares more data than the file
stores is refused before reading, and data outside the file's folder (external links, external raw storage,
virtual sources) is refused unless ``allow_external=True`` or ``PTYCHO_HDF5_ALLOW_EXTERNAL=1``.

h5py is imported inside the functions: a scan that is not HDF5 never needs it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.atomic_io import atomic_write
from ptycho.contract_errors import ContractError
from ptycho.hdf5_guard import external_allowed, get_dataset, get_object, open_hdf5, read_dataset

__all__ = ["HDF5_SIGNATURE", "LazyDiffraction", "is_hdf5", "read_scan_hdf5", "write_scan_hdf5"]

#: first 8 bytes of every HDF5 file (the superblock signature at offset 0)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: patterns read per step when a whole-stack pass streams over the file
STREAM_PATTERNS = 1024


def is_hdf5(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a file starting with the HDF5 signature."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == HDF5_SIGNATURE
    except OSError:
        return False


class LazyDiffraction:
    """(M, N, N) float32 amplitudes read from an HDF5 dataset on demand.

    ``stack[i]``, ``stack[a:b]`` and ``stack[index_array]`` (any shape of non-negative ints, e.g. (B, C) group
    members) return float32 ndarrays holding only the requested patterns (the file is read in sorted
    order; repeated indices are read once). ``np.asarray(stack)`` reads the whole stack. Each process opens
    its own file handle (after pickling, and in a forked DataLoader worker).

    Attributes:
        path: the HDF5 file; key: the dataset name; shape: (M, N, N); dtype: float32.
    """

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, path: str | os.PathLike[str], key: str, shape: tuple[int, int, int],
                 allow_external: bool = False) -> None:
        self.path, self.key, self.shape = str(path), str(key), tuple(int(s) for s in shape)
        self.allow_external = bool(allow_external)
        self._file: Any = None
        self._ds: Any = None
        self._pid = 0  # process that opened ``_file``: a forked DataLoader worker opens its own handle

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "key": self.key, "shape": self.shape, "allow_external": self.allow_external}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["key"], state["shape"],  # type: ignore[misc]
                      state.get("allow_external", False))

    def _dataset(self) -> Any:
        if self._file is None or self._pid != os.getpid():
            # HDF5 handles must not be shared across fork: a child drops the inherited one and opens its own;
            # the reopened file is checked again (it may have changed since it was validated)
            self._file, self._pid = open_hdf5(self.path), os.getpid()
            ds = get_dataset(self._file, self.key, self.path, allow_external=self.allow_external)
            if tuple(ds.shape) != self.shape:
                raise ContractError(self.path, self.key, f"shape {self.shape} (as when the scan was read)",
                                    f"shape {tuple(ds.shape)}")
            self._ds = ds
        return self._ds

    def close(self) -> None:
        """Close the file handle (reopened by the next read)."""
        if self._file is not None:
            self._file.close()
            self._file = self._ds = None

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * 4

    def __getitem__(self, index: Any) -> np.ndarray:
        ds = self._dataset()
        if isinstance(index, (int, np.integer)):
            return read_dataset(ds, self.path, self.key, int(index)).astype(np.float32, copy=False)
        if isinstance(index, slice):
            return read_dataset(ds, self.path, self.key, index).astype(np.float32, copy=False)
        idx = np.asarray(index)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"LazyDiffraction: index: expected ints, a slice or an int array, found {idx.dtype}")
        flat = idx.ravel()
        m = self.shape[0]
        if flat.size and (int(flat.min()) < -m or int(flat.max()) >= m):
            raise IndexError(f"LazyDiffraction: index out of range for {m} patterns")
        flat = np.where(flat < 0, flat + m, flat)
        unique, inverse = np.unique(flat, return_inverse=True)
        rows = (read_dataset(ds, self.path, self.key, unique).astype(np.float32, copy=False) if unique.size
                else np.zeros((0, *self.shape[1:]), np.float32))
        return rows[inverse].reshape(*idx.shape, *self.shape[1:])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[slice(None)]
        return out if dtype is None else out.astype(dtype)

    def chunks(self, step: int = STREAM_PATTERNS):
        """Yield ``(start, block)`` over the stack in blocks of ``step`` patterns (memory: one block)."""
        for lo in range(0, self.shape[0], step):
            yield lo, self[lo:min(lo + step, self.shape[0])]

    def pattern_power(self) -> np.ndarray:
        """(M,) float64 Σ_pixels amplitude² of every pattern, streamed (what the normalisation needs)."""
        out = np.empty(self.shape[0], dtype=np.float64)
        for lo, block in self.chunks():
            out[lo:lo + len(block)] = np.sum(block.astype(np.float64) ** 2, axis=(1, 2))
        return out

    def check(self, source: str, key: str, m: int, allowed_n: tuple[int, ...]) -> LazyDiffraction:
        """The contract's diffraction rules (specs/data-contract.md §3), streamed: (M, N, N) with M = ``m``
        and N in ``allowed_n``, finite, non-negative. Raises ContractError naming file and key."""
        if self.shape[0] != m:
            raise ContractError(source, key, f"{m} patterns (len(xcoords)) on axis 0", f"shape {self.shape}")
        if self.shape[1] != self.shape[2]:
            raise ContractError(source, key, "square patterns (M, N, N)", f"shape {self.shape}")
        if self.shape[1] not in allowed_n:
            raise ContractError(source, key, f"pattern size N in {set(allowed_n)}", f"N = {self.shape[1]} (shape {self.shape})")
        for lo, block in self.chunks():
            finite = np.isfinite(block).all(axis=(1, 2))
            if not finite.all():
                first = lo + int(np.flatnonzero(~finite)[0])
                raise ContractError(source, key, "finite amplitudes that fit in float32",
                                    f"NaN, inf or overflow in pattern {first}")
            low = block.min(axis=(1, 2)) if block.size else np.zeros(0)
            if (low < 0).any():
                first = lo + int(np.flatnonzero(low < 0)[0])
                raise ContractError(source, key, "non-negative amplitudes sqrt(counts)",
                                    f"minimum {float(low.min()):.6g} in pattern {first}")
        return self


def read_scan_hdf5(path: str | os.PathLike[str], *, allow_external: bool | None = None) -> dict[str, Any]:
    """The raw arrays of an HDF5 scan for ``validate_arrays``: small keys as ndarrays, ``diffraction`` (or
    ``diff3d``) as a :class:`LazyDiffraction`. Raises ContractError for an unreadable file, object or chunk,
    a group or non-numeric dataset where an array is expected, a diffraction dataset that is not (M, N, N)
    real, a dataset declaring more data than the file stores, and data outside the file's folder unless
    ``allow_external`` (default: ``PTYCHO_HDF5_ALLOW_EXTERNAL``; :mod:`ptycho.hdf5_guard`)."""
    import h5py

    source = str(path)
    allow = external_allowed(allow_external)
    fh = open_hdf5(path)
    arrays: dict[str, Any] = {}
    with fh:
        try:
            keys = list(fh.keys())
        except Exception as exc:  # noqa: BLE001 - h5py raises many types for a damaged root group
            raise ContractError(source, None, "a readable HDF5 root group", f"{type(exc).__name__} ({exc})") from None
        for key in keys:
            item = get_object(fh, key, source, allow_external=allow)
            if not isinstance(item, h5py.Dataset):
                continue  # groups (e.g. instrument metadata) are not contract keys
            if key in ("diffraction", "diff3d"):
                if item.ndim != 3 or item.dtype.kind not in "iuf":
                    raise ContractError(source, key, "an (M, N, N) dataset of real amplitudes",
                                        f"shape {item.shape} dtype {item.dtype}")
                get_dataset(fh, key, source, allow_external=allow)
                arrays[key] = LazyDiffraction(path, key, item.shape, allow_external=allow)
            elif key == "_metadata":
                get_dataset(fh, key, source, allow_external=allow)
                value = read_dataset(item, source, key).reshape(-1)
                if value.size != 1:
                    raise ContractError(source, key, "a scalar JSON string", f"shape {item.shape}")
                text = value[0]
                arrays[key] = np.array(text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text))
            else:
                if item.dtype.kind not in "iufcb":
                    raise ContractError(source, key, "a numeric dataset", f"dtype {item.dtype}")
                get_dataset(fh, key, source, allow_external=allow)
                arrays[key] = read_dataset(item, source, key)
    return arrays


def write_scan_hdf5(path: str | os.PathLike[str], arrays: Mapping[str, Any], *, chunk_patterns: int = 64,
                    diffraction: Any = None) -> None:
    """Write a scan atomically as HDF5 (what :func:`read_scan_hdf5` reads).

    Args:
        path: target file (written to a temporary file in the same folder, then renamed).
        arrays: contract keys -> arrays (None values skipped; ``metadata``/``_metadata`` dict -> JSON text).
        chunk_patterns: patterns per chunk of the ``diffraction`` dataset.
        diffraction: optional iterable of (M_i, N, N) blocks written one after the other instead of
            ``arrays['diffraction']`` (a scan built block by block never sits in memory whole); needs
            ``arrays['xcoords']`` to know M.
    """
    import h5py

    if not isinstance(chunk_patterns, int) or chunk_patterns < 1:
        raise ValueError(f"write_scan_hdf5: chunk_patterns: expected an integer >= 1, found {chunk_patterns!r}")
    items = {k: v for k, v in arrays.items() if v is not None}
    meta = items.pop("metadata", None) if "metadata" in items else items.pop("_metadata", None)
    diff = items.pop("diffraction", items.pop("diff3d", None))
    with atomic_write(Path(path), "w+b") as handle, h5py.File(handle, "w") as fh:
        for key, value in items.items():
            if key in ("N", "M"):
                continue
            fh.create_dataset(key, data=np.asarray(value))
        if meta is not None:
            text = meta if isinstance(meta, str) else json.dumps(meta, sort_keys=True, allow_nan=False)
            fh.create_dataset("_metadata", data=str(np.asarray(text).item()))
        if diffraction is None:
            d = np.asarray(diff, dtype=np.float32)
            fh.create_dataset("diffraction", data=d, chunks=(min(chunk_patterns, len(d)), *d.shape[1:]))
            return
        m = len(np.asarray(items["xcoords"]))
        ds = None
        lo = 0
        for block in diffraction:
            b = np.asarray(block, dtype=np.float32)
            if ds is None:
                ds = fh.create_dataset("diffraction", shape=(m, *b.shape[1:]), dtype=np.float32,
                                       chunks=(min(chunk_patterns, m), *b.shape[1:]))
            ds[lo:lo + len(b)] = b
            lo += len(b)
        if lo != m:
            raise ValueError(f"write_scan_hdf5: diffraction: expected {m} patterns (len(xcoords)), found {lo}")
