"""Signals that stop a training run: SIGTERM, SIGINT and SLURM's requeue signal (specs/reliability.md §8, §9).

While :func:`stop_signals` is active in the main thread:

- SIGTERM and SIGINT raise :class:`Terminated` (a ``KeyboardInterrupt``, so Lightning shuts a run down as for
  Ctrl-C) at once — unless a single-process training loop is running
  (:class:`ptycho_torch.workflows.safe_stop.SafeStop` calls :func:`defer`): then the first signal is only
  recorded and the loop stops at its next safe point, after writing ``last.ckpt`` there. A second signal raises
  at once.
- Under SLURM (Lightning's ``SLURMEnvironment.detect()``), the requeue signal (``SIGUSR1``, Lightning's
  ``SLURMEnvironment.requeue_signal``) is only recorded; the training loop saves at its next safe point,
  calls ``scontrol requeue <job id>`` and stops (:mod:`ptycho_torch.cli.requeue`). Installing the handler
  before ``Trainer.fit`` keeps Lightning from installing its own, which saves inside the signal handler, at
  whatever point the process was.

``received()`` names what was received, for the one line of :mod:`ptycho_torch.cli.stopped`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ptycho.runtime.interrupts import Interrupted, note_signal

__all__ = ["Terminated", "stop_signals", "sigterm_raises", "defer", "pending", "received", "requeue_signal"]

#: 'signal': name of the first stop signal; 'requeue': True for SLURM's requeue signal; 'saved': where the
#: safe point was (e.g. 'epoch 1, step 6'); 'deferring': a training loop handles the stop at a safe point
_STATE: dict[str, Any] = {}


class Terminated(Interrupted):
    """A stop signal raised as an interrupt, so Lightning shuts the run down as for Ctrl-C (its launcher kills the
    other processes) and the checkpoints are kept. ``signal_name``: e.g. 'SIGTERM'."""


def requeue_signal() -> signal.Signals | None:
    """SLURM's requeue signal when this process runs as a SLURM job Lightning recognises (batch job, not an
    interactive one) with its default ``SLURMEnvironment`` (``auto_requeue=True``, ``SIGUSR1``); else None."""
    try:
        from lightning.fabric.plugins.environments import SLURMEnvironment
    except ImportError:  # pragma: no cover - ptycho-torch depends on lightning
        return None
    if not SLURMEnvironment.detect():
        return None
    env = SLURMEnvironment()
    return env.requeue_signal if env.auto_requeue else None


def _handler(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    note_signal(name)
    if signum == _STATE.get("requeue_signum"):
        if "signal" not in _STATE:
            _STATE.update(signal=name, requeue=True)
        return  # the training loop requeues at its next safe point
    if _STATE.get("deferring") and "signal" not in _STATE:
        _STATE["signal"] = name  # stop at the next safe point
        return
    _STATE.setdefault("signal", name)
    _STATE["deferring"] = False
    raise Terminated(name)


def begin() -> None:
    """Forget the signals of an earlier run in this process."""
    _STATE.clear()


@contextmanager
def stop_signals() -> Iterator[None]:
    """Install the handlers described in the module docstring for the duration of a run (main thread only)."""
    begin()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signums = [signal.SIGTERM, signal.SIGINT]
    requeue = requeue_signal()
    if requeue is not None:
        _STATE["requeue_signum"] = int(requeue)
        signums.append(requeue)
    old = {s: signal.getsignal(s) for s in signums}
    for s in signums:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        _STATE["deferring"] = False
        for s, h in old.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


#: the name the first version had (SIGTERM only)
sigterm_raises = stop_signals


def handler() -> Any:
    """The handler :func:`stop_signals` installs (a training loop puts it back over Lightning's own)."""
    return _handler


def defer(active: bool) -> None:
    """Let a running training loop stop at its next safe point (True), or raise at once again (False)."""
    _STATE["deferring"] = bool(active)


def pending() -> str | None:
    """The name of a stop signal received and not yet acted on, else None."""
    return None if _STATE.get("acted") else _STATE.get("signal")


def acted(where: str | None) -> None:
    """The training loop stopped at a safe point (``where``, e.g. 'epoch 1, step 6'; None: nothing saved)."""
    _STATE.update(acted=True, deferring=False)
    if where:
        _STATE["saved"] = where


def received() -> dict[str, Any]:
    """A copy of what was received: 'signal', 'requeue', 'saved', 'job'."""
    return {k: v for k, v in _STATE.items() if k in ("signal", "requeue", "saved", "job")}


def note(**items: Any) -> None:
    """Record facts for the one line (e.g. ``job='1234'`` after a requeue)."""
    _STATE.update(items)
