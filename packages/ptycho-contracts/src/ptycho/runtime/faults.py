"""Environment faults as one line: a full disk, a read-only folder, a vanished file (specs/reliability.md §7).

Both command lines (``ptycho`` and ``python -m ptycho_torch.*``) report an ``OSError`` that carries an
``errno`` — the operating system refused a read or a write — as a user-fixable error naming the path and the
cause, e.g. ``ptycho infer: error: /data/out/reconstructed_object.npz: No space left on device``, instead of
an "internal error". ``OSError``s without an errno (h5py's, for instance) are not environment faults.
"""

from __future__ import annotations

__all__ = ["environment_fault"]


def environment_fault(exc: BaseException) -> str | None:
    """``'<path>: <cause>'`` (or ``'<cause>'`` when no path is known) for an OSError with an errno, else None."""
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    cause = " ".join(str(exc.strerror or exc).split())
    if exc.filename is None:
        return cause
    path = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    return f"{path}: {cause}"
