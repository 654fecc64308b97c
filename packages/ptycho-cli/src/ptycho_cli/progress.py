"""Progress bars for long work (simulation, grouping, training, inference, refinement), silenced by ``--quiet``.

On a terminal (:func:`ptycho.runtime.console.is_terminal`) :class:`stage` and :class:`steps` draw bars; in a pipe
or a log file they print plain lines instead. Bars and lines go to stderr (stdout stays clean for summaries and
pipes) through ``tqdm``. The command line calls :func:`set_quiet` once; library code then asks :func:`bar` / :func:`track` for a bar and gets a silent
one when quiet. Tests pass ``enabled=True`` to force output regardless of the global switch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from tqdm import tqdm

from ptycho.runtime.console import FRAMEWORK_LOGGERS, is_terminal
from ptycho.runtime.progress import StepProgress

__all__ = ["bar", "is_quiet", "set_quiet", "track", "stage", "steps", "quiet_libraries", "silence_library_logs"]

T = TypeVar("T")

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Turn every later progress bar off (``True``) or on (``False``) for this process."""
    global _QUIET
    _QUIET = bool(quiet)


def is_quiet() -> bool:
    """Whether progress output is silenced."""
    return _QUIET


def bar(total: int | None, desc: str, unit: str = "it", enabled: bool | None = None) -> tqdm:
    """A progress bar over ``total`` units (``None``: unknown total), written to stderr.

    Use as a context manager and call ``.update(n)``. ``enabled=None`` follows :func:`set_quiet`.
    """
    on = (not _QUIET) if enabled is None else enabled
    return tqdm(total=total, desc=desc, unit=unit, disable=not on, file=sys.stderr, dynamic_ncols=True,
                leave=True, mininterval=0.2)


def track(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it",
          enabled: bool | None = None) -> Iterator[T]:
    """Iterate over ``iterable`` while showing a bar (``total`` defaults to ``len(iterable)`` if known)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with bar(total, desc, unit=unit, enabled=enabled) as b:
        for item in iterable:
            yield item
            b.update(1)


class stage:
    """Progress of a step that reports no intermediate progress: shows the step and its time.

    On a terminal, ``with stage("training"):`` draws ``training: 0/1`` while the work runs and ``1/1 [elapsed]``
    after. Elsewhere (a pipe, a log file: a carriage-return bar would be one endless line) it prints
    ``training ...`` when the step starts and ``training: done in 12.3 s`` when it ends.
    """

    def __init__(self, desc: str, enabled: bool | None = None) -> None:
        self._on = (not _QUIET) if enabled is None else enabled
        self._lines = self._on and not is_terminal(sys.stderr)
        self._desc, self._t0 = desc, time.monotonic()
        self._bar = None if self._lines else bar(1, desc, unit="step", enabled=enabled)
        if self._lines:
            print(f"{desc} ...", file=sys.stderr, flush=True)

    def __enter__(self) -> stage:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._bar is None:
            if exc_type is None and self._lines:
                print(f"{self._desc}: done in {time.monotonic() - self._t0:.1f} s", file=sys.stderr, flush=True)
            return
        if exc_type is None:
            self._bar.update(1)
        else:
            self._bar.leave = False  # a failed step leaves no bar behind on a terminal
        self._bar.close()


class steps(StepProgress):
    """Progress of a counted loop whose steps report values (refinement passes):
    :class:`ptycho.runtime.progress.StepProgress` on stderr (one line redrawn on a terminal; elsewhere one
    line per step, ``<desc> 3/10  nll 1.234e+05  elapsed 0:12  eta 0:28``), silenced by :func:`set_quiet`.
    ``total`` None: the count alone. Use as a context manager; call :meth:`step` after each step."""

    def __init__(self, total: int | None, desc: str, enabled: bool | None = None) -> None:
        super().__init__(total, desc, enabled=(not _QUIET) if enabled is None else enabled, stream=sys.stderr)


class quiet_libraries:
    """While active and quiet: Lightning/TensorFlow info logs and library warnings are silenced.

    Errors still propagate; nothing is hidden when ``--quiet`` is not given.
    """

    _NAMES = FRAMEWORK_LOGGERS

    def __enter__(self) -> quiet_libraries:
        import logging
        import warnings

        self._active = _QUIET
        if not self._active:
            return self
        self._levels = {n: logging.getLogger(n).level for n in self._NAMES}
        for n in self._NAMES:
            logging.getLogger(n).setLevel(logging.ERROR)
        self._warn = warnings.catch_warnings()
        self._warn.__enter__()
        warnings.simplefilter("ignore")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        import logging

        if not self._active:
            return
        self._warn.__exit__(exc_type, exc, tb)
        for n, level in self._levels.items():
            logging.getLogger(n).setLevel(level)


def silence_library_logs() -> None:
    """When quiet, set the framework loggers to ERROR again (Lightning resets its level on import)."""
    import logging

    if _QUIET:
        for n in quiet_libraries._NAMES:
            logging.getLogger(n).setLevel(logging.ERROR)
