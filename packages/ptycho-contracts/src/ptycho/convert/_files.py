"""File sniffing and HDF5 access that fails with one ContractError line (specs/convert.md §6).

HDF5 files are read with h5py, datasets only (no external links are followed: h5py resolves an
external link only when it is accessed, and the readers here access fixed paths inside the file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.data_contract import ContractError

__all__ = ["sniff", "open_h5", "h5_array", "h5_scalar", "h5_attr", "as_text"]

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
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ContractError(str(path), None, "a readable HDF5 file", " ".join(str(exc).split())) from None


def _dataset(h5: Any, key: str, source: str, required: bool) -> Any | None:
    import h5py

    item = h5.get(key)
    if item is None:
        if required:
            raise ContractError(source, key, "an HDF5 dataset", "missing")
        return None
    if not isinstance(item, h5py.Dataset):
        raise ContractError(source, key, "an HDF5 dataset", type(item).__name__)
    return item


def h5_array(h5: Any, key: str, source: str, required: bool = True) -> np.ndarray | None:
    """The whole dataset at ``key`` as a numpy array (None if absent and not required)."""
    item = _dataset(h5, key, source, required)
    if item is None:
        return None
    try:
        return np.asarray(item[()])
    except (OSError, ValueError, TypeError) as exc:
        raise ContractError(source, key, "a readable dataset", " ".join(str(exc).split())) from None


def _to_float(value: Any, source: str, key: str) -> float:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise ContractError(source, key, "a real scalar", f"shape {arr.shape} dtype {arr.dtype}")
    return float(arr.reshape(()))


def h5_scalar(h5: Any, key: str, source: str, required: bool = False) -> float | None:
    """A real scalar dataset at ``key`` as float (None if absent and not required)."""
    arr = h5_array(h5, key, source, required)
    return None if arr is None else _to_float(arr, source, key)


def h5_attr(obj: Any, name: str, source: str, where: str, required: bool = False) -> float | None:
    """A real scalar attribute ``name`` of ``obj`` (the key in messages is ``where`` + name)."""
    key = f"{where.rstrip('/')}/@{name}" if where not in ("", "/") else f"@{name}"
    if name not in obj.attrs:
        if required:
            raise ContractError(source, key, "an HDF5 attribute", "missing")
        return None
    return _to_float(obj.attrs[name], source, key)


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
