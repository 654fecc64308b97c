"""File sniffing and HDF5 access that fails with one ContractError line (specs/convert.md §6).

HDF5 files are read with h5py through :mod:`ptycho.hdf5_guard` (specs/data-contract.md §6.4): a damaged file,
object or chunk is one ContractError line, a dataset declaring more than the file stores is refused before
reading, and external links, external raw storage and virtual datasets reaching outside the file's folder
are refused unless ``PTYCHO_HDF5_ALLOW_EXTERNAL=1`` (links to files in the same folder, e.g. a detector
master file's data files, are followed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.data_contract import ContractError
from ptycho.hdf5_guard import H5_ERRORS, get_dataset, get_object, open_hdf5, read_dataset

__all__ = ["sniff", "open_h5", "h5_has", "h5_dataset", "h5_array", "h5_scalar", "h5_attr", "h5_attr_value", "as_text"]

_MAGIC = {
    b"\x93NUMPY": "npy",
    b"PK\x03\x04": "npz",
    b"PK\x05\x06": "npz",
    b"\x89HDF\r\n\x1a\n": "hdf5",
}


def sniff(path: str | os.PathLike[str]) -> str:
    """``'npy'``, ``'npz'`` or ``'hdf5'`` from the file's first bytes (ContractError otherwise)."""
    p = Path(path)
    if not p.exists():
        raise ContractError(str(p), None, "an existing file", "no such file")
    if p.is_dir():
        raise ContractError(str(p), None, "a file", "a directory")
    with open(p, "rb") as fh:
        head = fh.read(8)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    found = "an empty file" if not head else f"first bytes {head!r}"
    raise ContractError(str(p), None, "an NPY, NPZ or HDF5 file", found)


def open_h5(path: str | os.PathLike[str]) -> Any:
    """Open an HDF5 file read-only; a damaged or non-HDF5 file is a ContractError naming it."""
    return open_hdf5(path)


def h5_has(h5: Any, key: str, source: str | None = None) -> bool:
    """Whether ``key`` exists (following links the guard allows; a refused or broken link is a ContractError)."""
    return get_object(h5, key, source or str(h5.file.filename)) is not None


def h5_dataset(h5: Any, key: str, source: str, required: bool = True) -> Any | None:
    """The checked dataset object at ``key`` (:func:`ptycho.hdf5_guard.get_dataset`)."""
    return get_dataset(h5, key, source, required=required)


def h5_array(h5: Any, key: str, source: str, required: bool = True) -> np.ndarray | None:
    """The whole dataset at ``key`` as a numpy array (None if absent and not required)."""
    item = get_dataset(h5, key, source, required=required)
    if item is None:
        return None
    return read_dataset(item, source, key)


def _to_float(value: Any, source: str, key: str) -> float:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise ContractError(source, key, "a real scalar", f"shape {arr.shape} dtype {arr.dtype}")
    return float(arr.reshape(()))


def h5_scalar(h5: Any, key: str, source: str, required: bool = False) -> float | None:
    """A real scalar dataset at ``key`` as float (None if absent and not required)."""
    arr = h5_array(h5, key, source, required)
    return None if arr is None else _to_float(arr, source, key)


def h5_attr_value(obj: Any, name: str, source: str, where: str) -> Any | None:
    """Attribute ``name`` of ``obj`` as stored, None when absent; an unreadable attribute is a ContractError."""
    key = f"{where.rstrip('/')}/@{name}" if where not in ("", "/") else f"@{name}"
    try:
        return obj.attrs[name] if name in obj.attrs else None
    except H5_ERRORS as exc:
        raise ContractError(source, key, "a readable HDF5 attribute", f"{type(exc).__name__} ({exc})") from None


def h5_attr(obj: Any, name: str, source: str, where: str, required: bool = False) -> float | None:
    """A real scalar attribute ``name`` of ``obj`` (the key in messages is ``where`` + name)."""
    key = f"{where.rstrip('/')}/@{name}" if where not in ("", "/") else f"@{name}"
    value = h5_attr_value(obj, name, source, where)
    if value is None:
        if required:
            raise ContractError(source, key, "an HDF5 attribute", "missing")
        return None
    return _to_float(value, source, key)


def as_text(value: Any, default: str = "") -> str:
    """A string from an HDF5/NPZ string value (bytes decoded as UTF-8); ``default`` for None."""
    if value is None:
        return default
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return default
        value = value.reshape(()).item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
