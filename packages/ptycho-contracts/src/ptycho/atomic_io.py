"""Atomic file output: a reader sees either the old file or the complete new one, never a partial write.

Every output of the monorepo (NPZ data, JSON reports, text index lists) goes through this module
(DEVELOPERS.md: "never a half-written output"). The recipe is the classic one: write to a temporary
file in the *same folder* as the target (so the final rename stays on one file system), flush and
``fsync`` it, then ``os.replace`` it over the target, which POSIX guarantees to be atomic. On any
error the temporary file is removed and the old target is left untouched. A writer killed with
SIGKILL may leave a stray ``.<name>.*.tmp`` file next to the target, but never a damaged target.

NPZ files are written by our own small zip writer (same format as ``np.savez``; ``np.load`` reads
it) with a fixed member timestamp, so equal arrays give byte-identical files; ``np.savez`` stamps
each member with the current time, which would make fixture checksums irreproducible.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_write",
    "save_npz_atomic",
    "save_npz_compressed_atomic",
    "save_json_atomic",
    "save_text_atomic",
    "write_npz",
]

# Fixed zip member timestamp (the earliest the zip format can express) for reproducible bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

_WRITE_MODES = {"w", "wb", "wt", "w+", "wb+", "w+b", "wt+", "w+t", "x", "xb", "xt"}


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` atomically when the ``with`` block succeeds.

    Args:
        path: target file. Its parent folder is created if missing.
        mode: a write mode of ``open`` (``'wb'`` default, ``'w'``/``'wt'`` for UTF-8 text).
            ``'x'`` modes refuse to replace an existing target (atomic hard link at commit).

    Yields:
        The open temporary file object (in ``mode``).

    Raises:
        ValueError: if ``mode`` is not a write mode (``'r'`` or ``'a'`` make no sense here).
        FileExistsError: for an ``'x'`` mode when the target exists.

    On an exception inside the block the temporary file is deleted, the target is unchanged
    and the exception propagates; a write the file system refuses (full disk, read-only folder, quota:
    an OSError whose errno says so) is re-raised naming ``path``, not the temporary file. The new file gets the permissions of a normally created file
    (0o666 minus the umask) rather than ``mkstemp``'s 0o600.
    """
    if mode not in _WRITE_MODES:
        raise ValueError(f"atomic_write: mode: expected a write mode such as 'wb' or 'w', found {mode!r}")
    exclusive = mode.startswith("x")
    open_mode = "w" + mode[1:] if exclusive else mode
    target = Path(path)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _naming(exc, target) from None
    tmp = Path(tmp_name)
    try:
        kwargs: dict[str, Any] = {} if "b" in open_mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, open_mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        if exclusive:
            os.link(tmp, target)  # atomic, and fails with FileExistsError if the target exists
            tmp.unlink()
        else:
            os.replace(tmp, target)
    except BaseException as exc:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.errno in _WRITE_FAULTS and exc.filename in (None, tmp_name):
            raise _naming(exc, target) from None
        raise
    _fsync_dir(folder)


#: errnos of a write the file system refused (full disk, quota, file too large, read-only, I/O error)
_WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}


def _naming(exc: OSError, target: Path) -> OSError:
    """The same fault naming the file the caller asked for (not the temporary file): a full disk while writing
    ``out/x.npz`` is reported as ``out/x.npz: No space left on device``."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, str(target))  # OSError(errno, ...) picks the subclass (PermissionError...)


def _check_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"save_npz: key {key!r}: expected a non-empty name without '/', found {key!r}")
        arr = np.asanyarray(value)
        if arr.dtype.hasobject:
            raise ValueError(
                f"save_npz: key '{key}': expected a numeric or string array (object arrays need pickle, "
                f"which this project never writes), found dtype {arr.dtype}"
            )
        out[key] = np.asarray(arr)
    return out


def write_npz(handle: IO[bytes], arrays: Mapping[str, Any], compress: bool = False) -> None:
    """Write ``arrays`` as an NPZ archive to an open binary file, with reproducible bytes.

    Each array becomes the member ``<key>.npy`` in insertion order, stored (or deflated when
    ``compress``), with the fixed timestamp 1980-01-01 and Unix attributes, so the output depends
    only on the arrays (and, when compressing, on the zlib build). Object arrays are refused
    (ValueError naming the key): the files must be readable with ``allow_pickle=False``.
    """
    checked = _check_arrays(arrays)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(handle, mode="w", compression=method, allowZip64=True) as zf:
        for key, arr in checked.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=_ZIP_EPOCH)
            info.compress_type = method
            info.create_system = 3  # Unix, independent of the writing platform
            info.external_attr = (0o100644 & 0xFFFF) << 16
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, arr, allow_pickle=False)


def save_npz_atomic(path: str | os.PathLike[str], **arrays: Any) -> None:
    """Atomically write an uncompressed NPZ (``np.savez`` format) at exactly ``path``.

    Unlike ``np.savez`` no ``.npz`` suffix is appended and equal inputs give identical bytes.
    Raises ValueError (naming the key) for object arrays.
    """
    checked = _check_arrays(arrays)
    with atomic_write(path, "wb") as handle:
        write_npz(handle, checked, compress=False)


def save_npz_compressed_atomic(path: str | os.PathLike[str], **arrays: Any) -> None:
    """Like :func:`save_npz_atomic` but deflate-compressed (``np.savez_compressed`` format)."""
    checked = _check_arrays(arrays)
    with atomic_write(path, "wb") as handle:
        write_npz(handle, checked, compress=True)


def save_json_atomic(path: str | os.PathLike[str], obj: Any, indent: int = 2) -> None:
    """Atomically write ``obj`` as UTF-8 JSON (sorted keys, trailing newline).

    NaN/inf are refused (they are not JSON); raises ValueError or TypeError before the target is touched.
    """
    text = json.dumps(obj, indent=indent, sort_keys=True, allow_nan=False) + "\n"
    save_text_atomic(path, text)


def save_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write ``text`` (UTF-8, newlines written as given)."""
    if not isinstance(text, str):
        raise TypeError(f"save_text_atomic: text: expected str, found {type(text).__name__}")
    with atomic_write(path, "w") as handle:
        handle.write(text)
