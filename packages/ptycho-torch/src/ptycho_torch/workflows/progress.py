"""Overall progress and the wall-clock budget on the progress display (specs/torch-workflow.md §3).

Lightning's bar counts the batches of one epoch only. :class:`OverallProgress` adds the run as a whole:
``epochs`` (completed / total), ``elapsed`` and ``eta`` (``M:SS``; the estimate from the fraction of batches done,
capped by the time budget when there is one). Lightning stops ``Trainer.fit`` at ``max_time`` itself (its
``Timer`` callback); :class:`TimeBudgetProgress` only shows the budget: ``budget`` (the total,
``DD:HH:MM:SS``) and ``left_s`` (seconds remaining).

:class:`RankSafeProgressBar` is the bar itself, safe under DDP (specs/scaling.md §1): Lightning's bar reads
``trainer.progress_bar_metrics`` on global rank 0 only, and at an epoch's end that read *computes* the epoch
metrics logged with ``sync_dist=True`` — an all-reduce that rank 0 alone would run, out of order with the
module's own epoch-end all-reduce (gloo: "Received data size doesn't match expected size", a C++ abort).
This bar makes every rank read the metrics at the same hooks, so all ranks run the same collectives in the same
order whether or not they draw anything.
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as L
from lightning.pytorch.callbacks import TQDMProgressBar

from ptycho.config.validation import max_time_seconds

__all__ = ["OverallProgress", "RankSafeProgressBar", "TimeBudgetProgress", "UNREACHABLE_EPOCHS", "clock"]


class TimeBudgetProgress(L.Callback):
    """Adds the remaining wall-clock budget to the progress-bar metrics after every training batch."""

    def __init__(self, max_time: str) -> None:
        self.max_time = max_time
        self.total_s = max_time_seconds(max_time)
        self._start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.monotonic()

    def remaining_s(self) -> float:
        """Seconds of the budget left (the whole budget before training starts)."""
        elapsed = 0.0 if self._start is None else time.monotonic() - self._start
        return max(0.0, self.total_s - elapsed)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        trainer.progress_bar_metrics["left_s"] = round(self.remaining_s())
        trainer.progress_bar_metrics["budget"] = self.max_time


#: An epoch total at least this large under a time budget is a cap, not a plan: the display leaves it out.
UNREACHABLE_EPOCHS = 1000


def clock(seconds: float) -> str:
    """``seconds`` as ``M:SS`` (``H:MM:SS`` from one hour)."""
    total = int(round(max(0.0, seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class OverallProgress(L.Callback):
    """Adds ``epochs`` (done/total), ``elapsed`` and ``eta`` of the whole run to the progress-bar metrics.

    ``max_epochs``: the epoch limit; ``budget_s``: the wall-clock budget in seconds or None. With a budget the
    ETA is the smaller of the epoch-based estimate and the budget left, and a total beyond reach under the budget
    (:data:`UNREACHABLE_EPOCHS` or more, the cap ``ptycho train --max-time`` sets) is left out: ``epochs`` shows
    the count done.
    """

    def __init__(self, max_epochs: int, budget_s: float | None = None) -> None:
        self.max_epochs = int(max_epochs)
        self.budget_s = budget_s
        self._start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.monotonic()

    def estimate(self, epoch: int, batches_done: int, batches_per_epoch: int) -> dict[str, str]:
        """The three fields for ``batches_done`` batches into 0-based ``epoch`` (pure; used by the hook)."""
        elapsed = 0.0 if self._start is None else time.monotonic() - self._start
        per_epoch = max(1, int(batches_per_epoch))
        fraction = min(1.0, (epoch + min(batches_done, per_epoch) / per_epoch) / max(1, self.max_epochs))
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0 else float("inf")
        if self.budget_s is not None:
            eta = min(eta, max(0.0, self.budget_s - elapsed))
        done = epoch + (1 if batches_done >= per_epoch else 0)
        budget_decides = self.budget_s is not None and self.max_epochs >= UNREACHABLE_EPOCHS
        return {"epochs": f"{done}" if budget_decides else f"{done}/{self.max_epochs}",
                "elapsed": clock(elapsed), "eta": "?" if eta == float("inf") else clock(eta)}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        batches = trainer.num_training_batches
        per_epoch = int(batches) if isinstance(batches, (int, float)) and batches != float("inf") else batch_idx + 1
        trainer.progress_bar_metrics.update(self.estimate(trainer.current_epoch, batch_idx + 1, per_epoch))


class RankSafeProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, with the metric reads that may all-reduce done on every rank (module docstring).

    At each hook where the bar shows metrics, every process reads ``trainer.progress_bar_metrics`` first (the
    epoch metrics' all-reduce then runs on all ranks together and is cached); the bar's own read on rank 0 then
    finds them computed. One process: the same bar, no extra work.
    """

    @staticmethod
    def _sync_reads(trainer: L.Trainer) -> None:
        if int(getattr(trainer, "world_size", 1)) > 1:
            trainer.progress_bar_metrics  # noqa: B018 - the read computes (all-reduces) the epoch metrics

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._sync_reads(trainer)
        super().on_train_epoch_end(trainer, pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._sync_reads(trainer)
        super().on_validation_end(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self._sync_reads(trainer)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
