"""Stop a single-process training run at a safe point when a signal asks for it (specs/reliability.md §8, §9).

A safe point is where ``last.ckpt`` is written anyway, so a run resumed from it equals an uninterrupted run
bitwise (§1): the end of a batch that is not the epoch's last and ends an optimizer step (the state of the
periodic mid-epoch checkpoint), or the end of an epoch, after validation, the scheduler step and every checkpoint
callback. A signal received during an epoch's last batch or its validation therefore stops the run after the
epoch-end checkpoint.

:func:`safe_stop` makes it a ``Checkpoint`` callback placed after every other one (Lightning runs checkpoint
callbacks last, in their order), so the epoch's top-k checkpoint is written before the run stops. It puts the handler of
:func:`ptycho_torch.cli.stop_signals.stop_signals` back over the SIGTERM handler Lightning installs for ``fit``
(for one process Lightning's only records the signal and stops *before* the epoch-end checkpoint); Lightning
restores the handlers it found when ``fit`` ends. With several processes the callback does nothing: the ranks
stop as §8 says (the last checkpoint written is the resume point).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import lightning.pytorch as L
from lightning.pytorch.callbacks import Checkpoint

from ptycho.runtime import interrupts
from ptycho_torch.cli import stop_signals

__all__ = ["SafeStop", "safe_stop"]


class SafeStop(L.Callback):
    """See the module docstring.

    Args:
        last_path: ``<output_dir>/checkpoints/last.ckpt`` (None: checkpointing is off; the run stops at the same
            safe points without saving).
        every_n_steps: the periodic checkpoint interval (a batch end it already saved at is not saved twice).
    """

    def __init__(self, last_path: Path | None, every_n_steps: int) -> None:
        self.last_path = None if last_path is None else Path(last_path)
        self.every_n_steps = int(every_n_steps)
        self.active = False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if trainer.world_size > 1:
            # several processes stop together only as §8 says: the requeue signal stops the run like SIGTERM
            stop_signals.note(requeue_signum=None)
            return
        current = signal.getsignal(signal.SIGINT)
        if current is interrupts.handler():
            # a command line's handler (ptycho.runtime.interrupts, e.g. ptycho demo) would raise inside
            # torch.save; the same safe stop applies for the length of fit (Lightning restores its handlers)
            stop_signals.begin()
            signal.signal(signal.SIGINT, stop_signals.handler())
        elif current is not stop_signals.handler():
            return  # no command line (the Python API): keep Python's and Lightning's behaviour
        signal.signal(signal.SIGTERM, stop_signals.handler())
        self.active = True
        stop_signals.defer(True)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self.active or stop_signals.pending() is None:
            return
        if batch_idx + 1 >= trainer.num_training_batches:
            return  # the epoch's last batch: the safe point is the epoch end
        if (batch_idx + 1) % max(1, int(trainer.accumulate_grad_batches)) != 0:
            return  # gradients still accumulating: wait for the optimizer step
        saved = self.every_n_steps and trainer.global_step % self.every_n_steps == 0
        self._stop(trainer, save=not saved)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.active and stop_signals.pending() is not None:
            self._stop(trainer, save=False)  # LastCheckpointCallback saved the epoch end already

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        # a signal during the last epoch's final batch: the run is complete but was asked to stop; say so
        if self.active and stop_signals.pending() is not None:
            self._stop(trainer, save=False)
        self.active = False
        stop_signals.defer(False)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.active = False
        stop_signals.defer(False)

    def _stop(self, trainer: Any, save: bool) -> None:
        where = None
        if self.last_path is not None:
            if save:
                trainer.save_checkpoint(self.last_path, weights_only=False)
            where = f"epoch {int(trainer.current_epoch)}, step {int(trainer.global_step)}"
        stop_signals.acted(where)
        self.active = False
        if stop_signals.received().get("requeue"):
            from ptycho_torch.cli.requeue import requeue

            outcome = requeue(self.last_path.parent.parent, where or "") if where else \
                "not requeued: checkpointing is off"
            stop_signals.note(job=outcome)
        raise stop_signals.Terminated(str(stop_signals.received().get("signal")))


class _SafeStopAfterCheckpoints(SafeStop, Checkpoint):
    """:class:`SafeStop` as a ``Checkpoint`` callback: Lightning runs it after the other checkpoint callbacks."""


def safe_stop(last_path: Path | None, every_n_steps: int) -> SafeStop:
    """The callback for a run that writes ``last_path`` (a ``Checkpoint`` callback, placed after the others) or
    writes no checkpoints (a plain callback: Lightning refuses ``Checkpoint`` callbacks then)."""
    cls = SafeStop if last_path is None else _SafeStopAfterCheckpoints
    return cls(last_path, every_n_steps)
