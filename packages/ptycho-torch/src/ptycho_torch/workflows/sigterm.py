"""SIGTERM in a training process whose peers are gone ends it quietly (specs/reliability.md §8).

Lightning's SIGTERM handler (installed when ``trainer.fit`` starts) broadcasts a flag to the other training
processes. When one process was killed, ``ddp_spawn``'s launcher sends SIGTERM to the survivors; their broadcast
then fails ("Connection reset by peer") inside the signal handler, wherever the process happened to be (often
while it formats the error of the lost connection), and the worker dies with a C++ traceback on the terminal.

:class:`QuietSigtermWhenPeersAreGone` wraps Lightning's handler once it is installed: a handler that fails because
the collective cannot reach its peers ends the process with ``SystemExit(143)`` (the status of a SIGTERM), which
multiprocessing and Lightning treat as a clean exit, so the launching process reports the one-line cause.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import lightning.pytorch as L

__all__ = ["QuietSigtermWhenPeersAreGone", "quiet_when_peers_are_gone"]

SIGTERM_STATUS = 128 + int(signal.SIGTERM)


def quiet_when_peers_are_gone(inner: Any) -> Callable[[int, Any], None]:
    """A SIGTERM handler that runs ``inner`` (the handler in place; a callable, ``SIG_DFL`` or ``SIG_IGN``) and turns
    a ``RuntimeError`` it raises (a collective that lost its peers) into ``SystemExit(143)``."""

    def handler(signum: int, frame: Any) -> None:
        if not callable(inner):
            if inner == signal.SIG_IGN:
                return
            raise SystemExit(SIGTERM_STATUS)
        try:
            inner(signum, frame)
        except RuntimeError:
            raise SystemExit(SIGTERM_STATUS) from None

    return handler


class QuietSigtermWhenPeersAreGone(L.Callback):
    """Wraps the SIGTERM handler Lightning installs for a multi-process run (see the module docstring).

    ``on_train_start`` runs after Lightning registered its handlers; Lightning restores the handlers it found when
    the run ends, so the wrapper never outlives the run.
    """

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size <= 1 or threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, quiet_when_peers_are_gone(signal.getsignal(signal.SIGTERM)))
