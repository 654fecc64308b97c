"""Safe reading of model-bundle zips (``wts.h5.zip``), shared by both backends (specs/bundle-format.md).

A bundle travels between people, so reading one must execute nothing and allocate boundedly. Before any
member is decompressed, ``open_checked`` rejects unsafe member names (absolute paths, ``..``, drive letters,
backslashes), duplicates and a declared uncompressed total above the limit; ``read_member`` never returns
more than its byte limit whatever a (possibly forged) header claims. Every failure is one ``BundleError``
line naming the file. The backends add their own manifest semantics (backend tag, members, weight format).

A bundle may also be given *unzipped*: a folder holding the members as files (``manifest.json`` at its top),
which is what ptychodus's "open model" leaves after extracting a saved ``model.zip`` (specs/ptychodus.md §4).
``resolve_bundle`` picks the zip or the folder, and ``open_checked`` reads either with the same checks.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Any

__all__ = [
    "BundleError",
    "BundleNotFoundError",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_MANIFEST_BYTES",
    "check_member_name",
    "FolderBundle",
    "resolve_bundle",
    "open_checked",
    "read_member",
    "read_json_member",
]

#: Upper bound on the declared uncompressed size of a whole bundle (bytes).
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
#: Upper bound on a JSON member such as ``manifest.json`` (bytes).
MAX_MANIFEST_BYTES = 1024**2


class BundleError(ValueError):
    """A model bundle is unreadable, unsafe, corrupt or of the wrong kind (one line, names the file)."""


class BundleNotFoundError(BundleError, FileNotFoundError):
    """No bundle at the given path."""


def check_member_name(path: Path, name: str) -> None:
    """Refuse member names that could escape an extraction folder (zip-slip) or are ambiguous."""
    pp = PurePosixPath(name)
    if (
        not name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or ":" in name
        or any(part in ("..", "") for part in pp.parts)
        or pp.is_absolute()
    ):
        raise BundleError(f"{path}: unsafe member name {name!r} (absolute paths and '..' are not allowed)")


class FolderBundle:
    """The members of a bundle as the regular files directly inside one folder (an unzipped bundle).

    Offers what the loaders use of a ``zipfile.ZipFile``: ``namelist()``, ``open(name)`` (KeyError when
    absent) and the context-manager protocol. Symbolic links and sub-folders are not members.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._names = sorted(p.name for p in self.folder.iterdir() if p.is_file() and not p.is_symlink())

    def namelist(self) -> list[str]:
        return list(self._names)

    def open(self, name: str) -> IO[bytes]:
        if name not in self._names:
            raise KeyError(name)
        return (self.folder / name).open("rb")

    def close(self) -> None:
        """Nothing to release (files are opened per member)."""

    def __enter__(self) -> FolderBundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_bundle(location: Any, bundle_name: str) -> Path:
    """The bundle a location names: a ``*.zip`` path itself; a folder holding ``bundle_name``; otherwise a
    folder holding ``manifest.json`` (an unzipped bundle); else ``<folder>/<bundle_name>`` (which then
    fails as not found, naming that path)."""
    p = Path(location)
    if p.suffix == ".zip" or not p.is_dir() or (p / bundle_name).exists():
        return p if p.suffix == ".zip" else p / bundle_name
    return p if (p / "manifest.json").is_file() else p / bundle_name


def open_checked(path: Path, limit: int = MAX_UNCOMPRESSED_BYTES) -> zipfile.ZipFile | FolderBundle:
    """Open ``path`` (a zip, or a folder of unzipped members) after checking names, duplicates and the
    (declared) total size (<= ``limit``).

    The caller closes the returned object (use it as a context manager).
    """
    if path.is_dir():
        folder = FolderBundle(path)
        total = sum((path / n).stat().st_size for n in folder.namelist())
        if total > limit:
            raise BundleError(f"{path}: unzipped bundle size {total} bytes exceeds the limit {limit}")
        return folder
    if not path.is_file():
        raise BundleNotFoundError(f"{path}: model bundle not found (expected a wts.h5.zip file, a folder holding one, "
                                  "or a folder of its unzipped members with manifest.json)")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise BundleError(f"{path}: expected a zip model bundle, found an unreadable file ({exc})") from None
    try:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        for name in names:
            check_member_name(path, name)
        if len(set(names)) != len(names):
            raise BundleError(f"{path}: duplicate member names")
        total = sum(i.file_size for i in infos)
        if total > limit:
            raise BundleError(f"{path}: uncompressed size {total} bytes exceeds the limit {limit}")
    except BaseException:
        zf.close()
        raise
    return zf


def read_member(zf: zipfile.ZipFile | FolderBundle, path: Path, name: str, limit: int) -> bytes:
    """One member's bytes, never more than ``limit`` whatever its header claims."""
    check_member_name(path, name)
    try:
        with zf.open(name) as fh:
            data = fh.read(limit + 1)
    except KeyError:
        raise BundleError(f"{path}: member {name!r} is missing") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise BundleError(f"{path}: member {name!r} is corrupt ({exc})") from None
    if len(data) > limit:
        raise BundleError(f"{path}: member {name!r} exceeds the {limit}-byte size limit")
    return data


def read_json_member(zf: zipfile.ZipFile | FolderBundle, path: Path, name: str, limit: int = MAX_MANIFEST_BYTES) -> dict[str, Any]:
    """A JSON-object member (manifest, config), decoded without executing anything."""
    try:
        value = json.loads(read_member(zf, path, name, limit))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: {name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BundleError(f"{path}: {name} must be a JSON object, found {type(value).__name__}")
    return value
