"""Safe HDF5 access: every failure is one ContractError line (specs/data-contract.md §6.4).

Every HDF5 file the project reads (HDF5 scans, CXI, ptychodus products and diffraction files, the patterns
that streaming inference reads batch by batch) goes through these functions, so that

* a file HDF5 cannot open, an object header it cannot read or a chunk whose filter fails (a damaged gzip
  chunk) is a ``ContractError`` naming the file and key, never an ``OSError``/``KeyError`` from h5py;
* a dataset that declares more data than the file stores (contiguous storage smaller than shape × itemsize,
  or chunks never written, e.g. 10⁸ patterns and no data) is refused *before* reading: HDF5 would return
  fill values for every missing pattern, slowly and silently;
* data held outside the folder of the file that was opened is refused unless allowed: an *external link*
  (``h5py.ExternalLink``) to a file in another folder, *external raw storage* (``Dataset.external``) and a
  *virtual dataset* whose sources live elsewhere. A crafted scan could otherwise make the project read (and
  write out as a reconstruction) any file the user can read. Links into files of the same folder (a
  detector master file beside its data files) are followed. ``allow_external=True`` or the environment
  variable ``PTYCHO_HDF5_ALLOW_EXTERNAL=1`` allows the other folders (the size and read checks still apply).

h5py is imported inside the functions (the contracts package reads HDF5 only when given an HDF5 file).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ptycho.contract_errors import ContractError

__all__ = ["ALLOW_EXTERNAL_ENV", "external_allowed", "open_hdf5", "get_object", "get_dataset", "check_dataset",
           "read_dataset", "H5_ERRORS"]

#: environment variable that allows HDF5 data outside the opened file's folder ("1", "true", "yes")
ALLOW_EXTERNAL_ENV = "PTYCHO_HDF5_ALLOW_EXTERNAL"
#: what h5py raises for damaged files, unreadable objects and failing filters
H5_ERRORS: tuple[type[BaseException], ...] = (OSError, KeyError, RuntimeError, ValueError, TypeError)
_HINT = f"(allow with {ALLOW_EXTERNAL_ENV}=1)"


def external_allowed(allow: bool | None = None) -> bool:
    """``allow`` when given, else whether ``PTYCHO_HDF5_ALLOW_EXTERNAL`` is set to 1/true/yes."""
    if allow is not None:
        return bool(allow)
    return os.environ.get(ALLOW_EXTERNAL_ENV, "").strip().lower() in ("1", "true", "yes")


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__} ({text[:200]})"


def _inside(target: str | os.PathLike[str], folder: str) -> bool:
    real = os.path.realpath(target)
    return os.path.dirname(real) == folder or real.startswith(folder.rstrip(os.sep) + os.sep)


def open_hdf5(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` read-only as an ``h5py.File``; its ``root_dir`` (the real folder of the file) is the
    folder data may come from. ContractError (file-level) when HDF5 cannot open it."""
    import h5py

    try:
        fh = h5py.File(path, "r")
    except H5_ERRORS as exc:
        raise ContractError(str(path), None, "a readable HDF5 file", _why(exc)) from None
    return fh


def _root_dir(h5: Any) -> str:
    return os.path.dirname(os.path.realpath(h5.file.filename))


def get_object(h5: Any, key: str, source: str, *, root_dir: str | None = None,
               allow_external: bool | None = None) -> Any | None:
    """The object at ``key`` (slash path from the root of ``h5``), or None when absent.

    Each component's link is inspected before it is followed: an external link to a file outside
    ``root_dir`` (default: the folder of ``h5``'s file) is refused unless allowed; a broken or unreadable
    object is a ContractError naming ``key``."""
    import h5py

    folder = root_dir or _root_dir(h5)
    allow = external_allowed(allow_external)
    node = h5
    parts = [p for p in str(key).split("/") if p]
    for i, name in enumerate(parts):
        here = "/".join(parts[: i + 1])
        if not isinstance(node, h5py.Group):
            raise ContractError(source, here, "an HDF5 group on the way to the key", type(node).__name__)
        try:
            link = node.get(name, getlink=True)
        except H5_ERRORS as exc:
            raise ContractError(source, here, "a readable HDF5 link", _why(exc)) from None
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            target = link.filename
            linker_dir = os.path.dirname(os.path.realpath(node.file.filename))
            resolved = target if os.path.isabs(target) else os.path.join(linker_dir, target)
            if not allow and not _inside(resolved, folder):
                raise ContractError(source, here, f"data inside the file's folder {folder} {_HINT}",
                                    f"an external link to {target}:{link.path}")
        try:
            obj = node.get(name)
        except H5_ERRORS as exc:
            found = (f"an external link to {link.filename}:{link.path} that cannot be followed ({_why(exc)})"
                     if isinstance(link, h5py.ExternalLink) else _why(exc))
            raise ContractError(source, here, "a readable HDF5 object", found) from None
        if obj is None:
            if isinstance(link, h5py.ExternalLink):
                raise ContractError(source, here, "a readable HDF5 object",
                                    f"a dangling external link to {link.filename}:{link.path}")
            return None
        if not allow and not _inside(obj.file.filename, folder):  # HDF5 may resolve a relative name elsewhere
            raise ContractError(source, here, f"data inside the file's folder {folder} {_HINT}",
                                f"an object in {obj.file.filename}")
        node = obj
    return node


def check_dataset(ds: Any, source: str, key: str, *, root_dir: str | None = None,
                  allow_external: bool | None = None) -> Any:
    """Refuse ``ds`` before any read when its data live outside ``root_dir`` (external raw storage, virtual
    sources; unless allowed) or when the file stores less than its shape declares. Returns ``ds``."""
    import h5py

    folder = root_dir or _root_dir(ds)
    allow = external_allowed(allow_external)
    try:
        shape = tuple(int(s) for s in ds.shape) if ds.shape is not None else ()
        nbytes = int(np.prod(shape, dtype=np.float64)) * int(ds.dtype.itemsize) if ds.shape is not None else 0
        plist = ds.id.get_create_plist()
        layout = plist.get_layout()
        external = ds.external
        virtual = bool(ds.is_virtual)
    except H5_ERRORS as exc:
        raise ContractError(source, key, "a readable HDF5 dataset", _why(exc)) from None
    if external:
        own = os.path.dirname(os.path.realpath(ds.file.filename))
        prefix = os.environ.get("HDF5_EXTFILE_PREFIX", "").replace("${ORIGIN}", own) or os.getcwd()
        stored = 0
        for name, offset, size in external:
            fname = name.decode() if isinstance(name, bytes) else str(name)
            target = fname if os.path.isabs(fname) else os.path.join(prefix, fname)
            if not allow and not _inside(target, folder):
                raise ContractError(source, key, f"data inside the file's folder {folder} {_HINT}",
                                    f"external raw storage in {fname}")
            try:
                have = max(0, os.path.getsize(target) - int(offset))
            except OSError:
                have = 0
            stored += min(have, int(size))
        if stored < nbytes:
            raise ContractError(source, key, f"{nbytes} bytes of stored data for shape {shape} {ds.dtype}",
                                f"{stored} bytes in its external files")
        return ds
    if virtual:
        own = os.path.dirname(os.path.realpath(ds.file.filename))
        try:
            sources = ds.virtual_sources()
        except H5_ERRORS as exc:
            raise ContractError(source, key, "a readable virtual dataset", _why(exc)) from None
        for vmap in sources:
            fname = str(vmap.file_name)
            if fname == ".":
                continue
            target = fname if os.path.isabs(fname) else os.path.join(own, fname)
            if not allow and not _inside(target, folder):
                raise ContractError(source, key, f"data inside the file's folder {folder} {_HINT}",
                                    f"a virtual dataset reading {fname}:{vmap.dset_name}")
            if not os.path.isfile(target):
                raise ContractError(source, key, "virtual dataset sources that exist",
                                    f"missing source file {fname}")
        return ds
    if nbytes == 0 or layout == h5py.h5d.COMPACT:
        return ds
    try:
        if layout == h5py.h5d.CHUNKED:
            chunks = ds.chunks
            want = math.prod(-(-s // c) for s, c in zip(shape, chunks, strict=True))
            if hasattr(ds.id, "get_num_chunks"):  # HDF5 >= 1.10.5
                n_stored = int(ds.id.get_num_chunks())
            else:
                n_stored = want if ds.id.get_storage_size() > 0 else 0
            if n_stored < want:
                raise ContractError(source, key, f"all {want} chunks of shape {shape} {ds.dtype} stored",
                                    f"{n_stored} chunks stored (the rest would read as fill values)")
        else:
            stored = int(ds.id.get_storage_size())
            if stored < nbytes:
                raise ContractError(source, key, f"{nbytes} bytes of stored data for shape {shape} {ds.dtype}",
                                    f"{stored} bytes stored")
    except ContractError:
        raise
    except H5_ERRORS as exc:
        raise ContractError(source, key, "a readable HDF5 dataset", _why(exc)) from None
    return ds


def get_dataset(h5: Any, key: str, source: str, *, required: bool = True, root_dir: str | None = None,
                allow_external: bool | None = None) -> Any | None:
    """:func:`get_object` + a Dataset check + :func:`check_dataset`; None when absent and not required."""
    import h5py

    root_dir = root_dir or _root_dir(h5)
    item = get_object(h5, key, source, root_dir=root_dir, allow_external=allow_external)
    if item is None:
        if required:
            raise ContractError(source, key, "an HDF5 dataset", "missing")
        return None
    if not isinstance(item, h5py.Dataset):
        raise ContractError(source, key, "an HDF5 dataset", type(item).__name__)
    return check_dataset(item, source, key, root_dir=root_dir, allow_external=allow_external)


def read_dataset(ds: Any, source: str, key: str, index: Any = ()) -> np.ndarray:
    """``ds[index]`` as an ndarray; a failing read (damaged chunk, failing filter, truncated file) is a
    ContractError naming file and key."""
    try:
        return np.asarray(ds[index])
    except H5_ERRORS as exc:
        raise ContractError(source, key, "a readable dataset", _why(exc)) from None

