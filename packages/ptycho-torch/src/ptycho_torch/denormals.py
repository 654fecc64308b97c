"""Denormal float32 values flushed to zero on the CPU while training and inference run (specs/torch-training.md §4).

The deep layers' tiny gradients and Adam's second moments (their squares) underflow below 1.2e-38 into denormal
floats, which x86 cores process many times slower than normal numbers. The mode is per thread and global to the
process, so every switch here is scoped: the caller's mode comes back when the block (or the fit) ends.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as L
import torch

from ptycho_torch.denormal_mode import denormal_mode_restored, denormals_flushed, flush_denormals_enabled

__all__ = ["FlushDenormals", "denormal_mode_restored", "denormals_flushed", "flush_denormals_enabled"]


class FlushDenormals(L.Callback):
    """Flushes denormals while a fit runs on the CPU and restores the mode it found when the fit ends or fails.

    A callback, so it runs in every training process (DDP ranks, spawned workers) and its ``on_exception`` runs
    when a fit fails; ``train_cdi_model_torch`` adds it to every Trainer it builds.
    """

    def __init__(self) -> None:
        self._before: bool | None = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._before = flush_denormals_enabled()
        if pl_module.device.type == "cpu":
            torch.set_flush_denormal(True)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._restore()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._before is not None:
            torch.set_flush_denormal(self._before)
            self._before = None
