"""Notices the ``ptycho`` command prints as one line (specs/cli.md §2).

A ``ptycho.data_contract.DiffractionCountsWarning`` (detector counts converted to amplitudes,
specs/data-contract.md §2.2) is a notice, not an error: it is printed as ``<prog>: note: <message>`` on stderr
instead of Python's two-line warning format. A deprecated flag (a DeprecationWarning whose message starts with
``--``, e.g. ``--n-images`` from :func:`ptycho_bridge.flag_configs.field_values`) is always shown, as
``<prog>: DeprecationWarning: <message>``, like the PyTorch command lines show it (specs/torch-cli.md §5). Other
warnings keep the default format.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["one_line_notices"]


@contextmanager
def one_line_notices(prog: str) -> Iterator[None]:
    """While active, DiffractionCountsWarning prints ``<prog>: note: <message>`` and a deprecated flag's warning
    ``<prog>: DeprecationWarning: <message>`` (one line each, stderr)."""
    from ptycho.data_contract import DiffractionCountsWarning

    previous = warnings.showwarning

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
             line: str | None = None) -> None:
        if issubclass(category, DiffractionCountsWarning):
            print(f"{prog}: note: {' '.join(str(message).split())}", file=sys.stderr)
            return
        if issubclass(category, DeprecationWarning) and str(message).startswith("--"):
            print(f"{prog}: DeprecationWarning: {' '.join(str(message).split())}", file=sys.stderr)
            return
        previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("always", category=DeprecationWarning, message="--")
            yield
    finally:
        warnings.showwarning = previous
