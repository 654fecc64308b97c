"""One rule for the output path of every ``ptycho`` command (specs/cli.md §1.1).

Each command has one output: a folder (``--output-dir``/``--output_dir`` of train, infer, evaluate, refine, demo)
or a file (``--output``/``-o`` of simulate and convert). The rule, applied by :func:`output_transaction` around
the command before it runs:

- missing folders are created with their parents (``mkdir -p``): the output folder itself, or the folder that
  will hold the output file;
- a path that names a file where a folder is expected (or a folder where a file is expected), or that passes
  through a file, is a user error (one line, exit 2) before anything is created;
- a command that fails or is interrupted leaves no partial output: folders it created are removed, and in an
  output folder that existed, the entries it added at its top level are removed (only the top level is
  listed, so an output folder such as ``.`` costs nothing to watch; files are written atomically, so a file
  that existed keeps its old content or its new one, ``ptycho.atomic_io``). ``train`` creates and rolls back
  its folder itself (a stopped run keeps its ``checkpoints/``, specs/reliability.md §8): for it only the
  checks apply here.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from ptycho_cli.errors import UserError

__all__ = ["OUTPUTS", "Outcome", "check_output", "command_output", "output_transaction"]

#: command -> (argparse destination, flag as shown in messages, 'dir' or 'file', create and roll back here)
OUTPUTS: dict[str, tuple[str, str, str, bool]] = {
    "simulate": ("output", "--output", "file", True),
    "convert": ("output", "--output", "file", True),
    "evaluate": ("output_dir", "--output-dir", "dir", True),
    "infer": ("output_dir", "--output_dir", "dir", True),
    "inference": ("output_dir", "--output_dir", "dir", True),
    "refine": ("output_dir", "--output-dir", "dir", True),
    "demo": ("output_dir", "--output-dir", "dir", True),
    "train": ("output_dir", "--output_dir", "dir", False),
}


def check_output(path: str | Path, flag: str, kind: str) -> Path:
    """The output path as a ``Path``; a user error when it cannot be one of ``kind`` ('dir' or 'file')."""
    p = Path(path)
    if kind == "dir" and p.exists() and not p.is_dir():
        raise UserError(f"{flag} {p}: expected a folder, found a file")
    if kind == "file" and p.is_dir():
        raise UserError(f"{flag} {p}: expected a file path, found a directory")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{flag} {p}: expected a folder at {parent}, found a file")
            break
    return p


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s chain that does not exist yet (None when ``folder`` exists)."""
    missing = None
    for p in (folder, *folder.parents):
        if p.exists():
            break
        missing = p
    return missing


def _remove(p: Path) -> None:
    with contextlib.suppress(OSError):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink()


class Outcome:
    """What :func:`output_transaction` yields: the output ``path``; call :meth:`failed` when the command ends
    with a non-zero status without raising (the PyTorch command lines return their status)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ok = True

    def failed(self) -> None:
        self.ok = False


@contextlib.contextmanager
def output_transaction(path: str | Path, flag: str, kind: str, manage: bool = True) -> Iterator[Outcome]:
    """Apply the module's rule around a command (``manage=False``: only the checks)."""
    p = check_output(path, flag, kind)
    outcome = Outcome(p)
    if not manage:
        yield outcome
        return
    folder = p if kind == "dir" else p.parent
    created = _first_missing(folder)
    before = None if created is not None or kind == "file" else {q.name for q in folder.iterdir()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{flag} {p}: cannot create {folder} ({exc.strerror or exc})") from None
    try:
        yield outcome
    except BaseException:
        outcome.failed()
        raise
    finally:
        if not outcome.ok:
            _roll_back(folder, created, before)


def _roll_back(folder: Path, created: Path | None, before: set[str] | None) -> None:
    if created is not None:
        _remove(created)
    elif before is not None and folder.is_dir():
        for q in folder.iterdir():
            if q.name not in before:
                _remove(q)


def command_output(command: str, args: argparse.Namespace) -> tuple[str, str, str, bool] | None:
    """(path, flag, kind, manage) of ``command``'s output, or None (``validate`` writes nothing)."""
    spec = OUTPUTS.get(command)
    if spec is None or getattr(args, spec[0], None) is None:
        return None
    dest, flag, kind, manage = spec
    return str(getattr(args, dest)), flag, kind, manage
