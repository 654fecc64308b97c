"""Progress of a counted loop (inference batches, refinement passes), the convention of the training display
(specs/torch-workflow.md §3, specs/cli.md §1): on a terminal one line redrawn in place, in a pipe or a log file
one plain line per step, ``predicting: batch 3/10  elapsed 0:02  eta 0:05`` (:func:`ptycho.progress_text.step_line`).

Framework-free and without tqdm, so the PyTorch backend's own command line (``python -m ptycho_torch.inference``)
and the ``ptycho`` command show the same display. Output goes to stderr unless a stream is given: stdout stays
the commands' summary lines.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ptycho.progress_text import step_line
from ptycho.runtime.console import is_terminal

__all__ = ["StepProgress"]


class StepProgress:
    """Show the steps of a loop as they finish. Use as a context manager; call :meth:`step` after each step.

    ``total``: the number of steps (None: the count alone, no ETA; may be set later through :attr:`total`, e.g.
    once the number of batches is known). ``desc``: what each line starts with (``"refining: pass"``).
    ``enabled`` False: silent. ``stream``: default ``sys.stderr`` (read when the display starts).
    ``min_interval_s``: in a pipe, a line at most this often (the first and the last step always print), so a
    loop of thousands of fast batches writes a readable log; on a terminal the line is redrawn at most five
    times a second, and always at the last step. ``terminal``: force the mode (None: :func:`is_terminal`).
    """

    def __init__(self, total: int | None, desc: str, *, enabled: bool = True, stream: TextIO | None = None,
                 min_interval_s: float = 0.0, terminal: bool | None = None) -> None:
        self.total = None if total is None else int(total)
        self.desc = desc
        self.done = 0
        self._on = bool(enabled)
        self._stream = stream if stream is not None else sys.stderr
        self._terminal = is_terminal(self._stream) if terminal is None else bool(terminal)
        self._interval = 0.2 if self._terminal else float(min_interval_s)
        self._t0 = time.monotonic()
        self._last_shown: float | None = None
        self._drawn = False  # a terminal line is open (needs its newline at the end)
        self.lines: list[str] = []  # what was shown, in order (for callers that log it)

    def __enter__(self) -> StepProgress:
        return self

    def step(self, **values: float) -> None:
        """One step done; ``values`` (name -> number) are shown with it."""
        self.done += 1
        if not self._on:
            return
        now = time.monotonic()
        last = self.total is not None and self.done >= self.total
        due = self._last_shown is None or now - self._last_shown >= self._interval
        if not (due or last):
            return
        self._last_shown = now
        line = step_line(self.desc, self.done, self.total, values, now - self._t0)
        self.lines.append(line)
        if self._terminal:
            self._stream.write("\r" + line + "\x1b[K")
            self._drawn = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the display (a terminal line gets its newline); idempotent."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()
