"""The training progress display (specs/torch-workflow.md §3): one short bar on a terminal, one line per epoch
in a pipe or a log file.

Lightning's bar counts the batches of one epoch only. :class:`OverallProgress` adds the run as a whole:
``epochs`` (completed / total; the count alone when ``nepochs`` is None and the budget decides), ``elapsed`` and
``eta`` (``M:SS``; the estimate from the fraction of batches done, capped by what is left of the time budget
when there is one). Lightning stops ``Trainer.fit`` at ``max_time`` itself (its ``Timer`` callback).

:class:`RankSafeProgressBar` is the terminal bar (Lightning's tqdm bar on stdout) showing only ``loss`` (the
step's training loss), ``val`` (the last validation loss) and the three run fields: no ``v_num``, no per-step and
per-epoch copies of each loss. :class:`EpochLines` replaces the bar when stdout is not a terminal (a carriage-
return bar in a pipe is one endless line): after each epoch it prints
``epoch 3/20  loss -1.2e+03  val -1.1e+03  elapsed 0:42  eta 2:18``.

Both are safe under DDP (specs/scaling.md §1): Lightning's bar reads ``trainer.progress_bar_metrics`` on global
rank 0 only, and at an epoch's end that read *computes* the epoch metrics logged with ``sync_dist=True`` — an
all-reduce that rank 0 alone would run, out of order with the module's own epoch-end all-reduce (gloo: "Received
data size doesn't match expected size", a C++ abort). Here every rank reads the metrics at the same hooks, so
all ranks run the same collectives in the same order whether or not they draw anything.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

import lightning.pytorch as L
from lightning.pytorch.callbacks import TQDMProgressBar

from ptycho.progress_text import clock, epoch_line, run_eta
from ptycho.runtime.console import is_terminal

__all__ = ["EpochLines", "OverallProgress", "RankSafeProgressBar", "clock", "progress_callbacks", "short_metrics",
           "stdout_is_terminal"]


class OverallProgress(L.Callback):
    """Adds ``epochs`` (done/total), ``elapsed`` and ``eta`` of the whole run to the progress-bar metrics.

    ``max_epochs``: the epoch limit, None when the budget alone ends training (``TrainingConfig.nepochs``
    None); ``budget_s``: the wall-clock budget in seconds (``TrainingConfig.max_time_s``) or None. With a budget
    the ETA is the smaller of the epoch-based estimate and the budget left; without an epoch limit it is the
    budget left and ``epochs`` shows the count done.
    """

    def __init__(self, max_epochs: int | None, budget_s: float | None = None) -> None:
        if max_epochs is None and budget_s is None:
            raise ValueError("OverallProgress: max_epochs: expected an integer >= 1 or a budget_s, found neither")
        self.max_epochs = None if max_epochs is None else int(max_epochs)
        self.budget_s = budget_s
        self._start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.monotonic()

    def elapsed_s(self) -> float:
        """Seconds since training started (0 before)."""
        return 0.0 if self._start is None else time.monotonic() - self._start

    def estimate(self, epoch: int, batches_done: int, batches_per_epoch: int) -> dict[str, str]:
        """The three fields for ``batches_done`` batches into 0-based ``epoch`` (pure; used by the hooks)."""
        elapsed = self.elapsed_s()
        per_epoch = max(1, int(batches_per_epoch))
        fraction = min(1.0, (epoch + min(batches_done, per_epoch) / per_epoch) / max(1, self.max_epochs or 1))
        eta = run_eta(fraction, elapsed, self.max_epochs, self.budget_s)
        done = epoch + (1 if batches_done >= per_epoch else 0)
        return {"epochs": f"{done}" if self.max_epochs is None else f"{done}/{self.max_epochs}",
                "elapsed": clock(elapsed), "eta": "?" if eta == float("inf") else clock(eta)}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        batches = trainer.num_training_batches
        per_epoch = int(batches) if isinstance(batches, (int, float)) and batches != float("inf") else batch_idx + 1
        trainer.progress_bar_metrics.update(self.estimate(trainer.current_epoch, batch_idx + 1, per_epoch))


def short_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The display's fields from Lightning's progress-bar metrics: ``loss`` (``*_train_loss_step``, else
    ``*_train_loss_epoch``), ``val`` (``*_val_loss``), then ``epochs``/``elapsed``/``eta`` when present (in that
    order). Everything else (``v_num``, the duplicated loss copies) is left out."""
    out: dict[str, Any] = {}
    for suffix in ("_train_loss_step", "_train_loss_epoch", "_train_loss"):
        found = [v for k, v in metrics.items() if k.endswith(suffix)]
        if found and "loss" not in out:
            out["loss"] = found[0]
    val = [v for k, v in metrics.items() if k.endswith("_val_loss")]
    if val:
        out["val"] = val[0]
    out.update({k: metrics[k] for k in ("epochs", "elapsed", "eta") if k in metrics})
    return {k: (float(v) if hasattr(v, "item") else v) for k, v in out.items()}


class RankSafeProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar showing :func:`short_metrics`, with the metric reads that may all-reduce done on
    every rank (module docstring). One process: the same bar, no extra work."""

    @staticmethod
    def _sync_reads(trainer: L.Trainer) -> None:
        if int(getattr(trainer, "world_size", 1)) > 1:
            trainer.progress_bar_metrics  # noqa: B018 - the read computes (all-reduces) the epoch metrics

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        return short_metrics(dict(trainer.progress_bar_metrics))

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


class EpochLines(L.Callback):
    """One line per finished epoch on ``stream`` (default stdout) from global rank 0:
    ``epoch <done>[/<total>]  loss <x>  val <y>  elapsed M:SS  eta M:SS`` (fields as :func:`short_metrics`;
    ``loss`` here is the epoch's mean training loss). ``overall`` supplies the run fields."""

    def __init__(self, overall: OverallProgress, stream: TextIO | None = None) -> None:
        self.overall = overall
        self.stream = stream

    def line(self, epoch: int, metrics: dict[str, Any]) -> str:
        """The line for the end of 0-based ``epoch`` given the trainer's progress-bar metrics (pure;
        :func:`ptycho.progress_text.epoch_line`, the TensorFlow backend's format too)."""
        epoch_loss = {k: v for k, v in metrics.items() if not k.endswith("_train_loss_step")}
        fields = short_metrics(epoch_loss)
        overall, elapsed = self.overall, self.overall.elapsed_s()
        fraction = (epoch + 1) / max(1, overall.max_epochs or 1)
        return epoch_line(epoch + 1, overall.max_epochs, fields.get("loss"), fields.get("val"), elapsed,
                          run_eta(fraction, elapsed, overall.max_epochs, overall.budget_s))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = dict(trainer.progress_bar_metrics)  # every rank reads: the read may all-reduce (module docstring)
        if trainer.is_global_zero:
            stream = self.stream or sys.stdout
            print(self.line(trainer.current_epoch, metrics), file=stream, flush=True)


def stdout_is_terminal() -> bool:
    """Whether stdout (Lightning's bar's stream) can show a bar (:func:`ptycho.runtime.console.is_terminal`)."""
    return is_terminal(sys.stdout)


def progress_callbacks(max_epochs: int | None, budget_s: float | None, terminal: bool | None = None) -> list[Any]:
    """The display's callbacks: the overall fields plus the bar on a terminal (``terminal`` None: whether stdout
    is one), or plus :class:`EpochLines` otherwise. Lightning's own bar must then be on only when the list holds
    a :class:`RankSafeProgressBar` (else it adds its default bar)."""
    overall = OverallProgress(max_epochs, budget_s)
    if terminal is None:
        terminal = stdout_is_terminal()
    return [overall, RankSafeProgressBar()] if terminal else [overall, EpochLines(overall)]
