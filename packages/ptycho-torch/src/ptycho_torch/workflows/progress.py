"""The wall-clock budget on the progress display (specs/torch-workflow.md §3).

Lightning stops ``Trainer.fit`` at ``max_time`` itself (its ``Timer`` callback); this callback only shows the
budget: the progress bar gains ``budget`` (the total, ``DD:HH:MM:SS``) and ``left`` (seconds remaining).
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as L

from ptycho.config.validation import max_time_seconds

__all__ = ["TimeBudgetProgress"]


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
