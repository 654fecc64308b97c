"""How the ``ptycho`` command reports failures: one line and a stable exit code (specs/cli.md §2).

A *user error* (bad flag, missing or contract-breaking file, invalid config value) prints exactly one line
``ptycho <command>: error: <message>`` on stderr and exits with status 2. Anything else is a bug in this
project and prints one line ``ptycho <command>: internal error: <Type>: <message>`` and exits with 1.
``--debug`` adds the full traceback before that line in both cases.
"""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

from ptycho.runtime.faults import environment_fault
from ptycho.runtime.interrupts import Interrupted, interrupt_cause, received_signal

__all__ = [
    "EXIT_OK",
    "EXIT_INTERNAL",
    "EXIT_USAGE",
    "EXIT_INTERRUPTED",
    "StoppedRun",
    "UserError",
    "is_user_error",
    "one_line",
    "report_exception",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class StoppedRun(Exception):
    """A training run stopped after it began and kept its checkpoints; ``str(exc)`` is the line after the
    command's name (``stopped: ...; continue with: ...``), ``code`` the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = int(code)


class UserError(Exception):
    """A problem the user can fix (bad flag, bad file, bad value); reported as one line, exit 2."""


def is_user_error(exc: BaseException) -> bool:
    """True for exceptions that describe bad input rather than a bug.

    ``ValueError`` covers ``ptycho.data_contract.ContractError`` and the ``<Class>.<field>: expected ...``
    errors of the config dataclasses; ``OSError`` subclasses about paths (missing file, folder given for a
    file, permission denied) are the user's to fix too, and so is any OSError carrying an errno (a full disk,
    a read-only folder, a file that vanished: ``ptycho.runtime.faults``, specs/reliability.md §7).
    """
    if environment_fault(exc) is not None:
        return True
    return isinstance(
        exc,
        (
            UserError,
            ValueError,
            FileNotFoundError,
            FileExistsError,
            IsADirectoryError,
            NotADirectoryError,
            PermissionError,
        ),
    )


def one_line(text: object) -> str:
    """Collapse any message to a single line (runs of whitespace, newlines included, become one space)."""
    return " ".join(str(text).split())


def _describe(exc: BaseException) -> str:
    fault = environment_fault(exc)
    if fault is not None:
        return fault
    msg = one_line(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        msg = one_line(exc.args[0])
    return msg or type(exc).__name__


def report_exception(exc: BaseException, prog: str, debug: bool, stream: TextIO | None = None) -> int:
    """Print ``exc`` the CLI way and return the exit status to use.

    Args:
        exc: the exception that ended the command.
        prog: command name for the message prefix, e.g. ``'ptycho train'``.
        debug: print the traceback first.
        stream: where to write (default ``sys.stderr``).

    Returns:
        2 for user errors, 130 for Ctrl-C, 143 for SIGTERM, 1 for anything else.
    """
    out = stream if stream is not None else sys.stderr
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=out)
    if isinstance(exc, StoppedRun):
        print(f"{prog}: {one_line(exc)}", file=out)
        return exc.code
    if not is_user_error(exc) and received_signal() is not None:
        exc = Interrupted(received_signal())  # the interrupt, turned into another error by native code (torch.save)
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (ptycho.runtime.interrupts)
        cause, code = interrupt_cause(exc)
        print(f"{prog}: {cause}", file=out)
        return code
    if is_user_error(exc):
        print(f"{prog}: error: {_describe(exc)}", file=out)
        return EXIT_USAGE
    hint = "" if debug else " (rerun with --debug for the traceback)"
    print(f"{prog}: internal error: {type(exc).__name__}: {_describe(exc)}{hint}", file=out)
    return EXIT_INTERNAL
