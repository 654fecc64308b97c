"""SIGTERM and SIGINT end a command with one line and the conventional status (specs/cli.md §1,
specs/reliability.md §8).

:func:`signals_raise` turns both signals into :class:`Interrupted` (a ``KeyboardInterrupt`` that names the
signal), so a command unwinds as for Ctrl-C: ``with`` blocks and ``finally`` clauses run (atomic writes remove
their temporary file, output folders are rolled back) and the command line prints :func:`interrupt_cause`'s
line — ``interrupted (Ctrl-C)`` with status 130, ``interrupted by signal SIGTERM`` with 143 (128 + the signal
number) — instead of dying silently (SIGTERM's default) or with a traceback. Framework-free: the ``ptycho``
command and the PyTorch command lines share it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Interrupted", "interrupt_cause", "signals_raise", "note_signal", "received_signal", "handler"]

#: 'signal': the first stop signal received while :func:`signals_raise` was active (a library that catches the
#: interrupt — Lightning turns it into ``SystemExit(1)`` — must not hide it from the command line)
_LAST: dict[str, str] = {}


class Interrupted(KeyboardInterrupt):
    """A stop signal raised as an interrupt; ``signal_name`` is e.g. 'SIGTERM'."""

    def __init__(self, signal_name: str = "SIGINT") -> None:
        super().__init__(f"signal {signal_name}")
        self.signal_name = signal_name


def interrupt_cause(exc: BaseException) -> tuple[str, int]:
    """(one-line cause, exit status) of an interrupt: Ctrl-C (a plain ``KeyboardInterrupt`` or SIGINT) is
    'interrupted (Ctrl-C)', 130; another signal 'interrupted by signal NAME', 128 + its number."""
    name = getattr(exc, "signal_name", None) or "SIGINT"
    if name == "SIGINT":
        return "interrupted (Ctrl-C)", 130
    number = getattr(signal, name, signal.SIGTERM)
    return f"interrupted by signal {name}", 128 + int(number)


def _raise(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    note_signal(name)
    raise Interrupted(name)


def handler() -> Any:
    """The handler :func:`signals_raise` installs (a training loop recognises it to stop at a safe point)."""
    return _raise


def note_signal(name: str) -> None:
    """Record a stop signal that another handler acted on (e.g. deferred to a safe point)."""
    _LAST.setdefault("signal", name)


def received_signal() -> str | None:
    """The first stop signal received during the current :func:`signals_raise` block, or None."""
    return _LAST.get("signal")


@contextmanager
def signals_raise() -> Iterator[None]:
    """While active (main thread only; elsewhere a no-op), SIGTERM and SIGINT raise :class:`Interrupted`."""
    _LAST.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in old:
        signal.signal(s, _raise)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
