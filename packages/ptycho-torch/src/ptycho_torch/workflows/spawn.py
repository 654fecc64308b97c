"""'ddp_spawn': DDP with workers spawned from the training process (specs/scaling.md §1).

Lightning's spawn launcher hands the main process the trained weights (a temporary state-dict file), the
trainer state and the callback metrics. The launcher here reads that file with ``torch.load(weights_only=True)``
(the run's checkpoint reader accepts whole training checkpoints only) and also carries the module's own training
record, its per-epoch loss history, back as plain data.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.strategies.launchers.multiprocessing import _MultiProcessingLauncher

__all__ = ["SpawnDDPStrategy", "release_process_group"]

_KEY = "ptycho_loss_history"


class _LossHistoryLauncher(_MultiProcessingLauncher):
    def _wrapping_function(self, *args: Any, **kwargs: Any) -> None:
        super()._wrapping_function(*args, **kwargs)
        # A worker that leaves the process group alive exits with gloo's threads still running, and the C++
        # runtime can abort at interpreter shutdown ("terminate called without an active exception", SIGABRT),
        # which the main process reports as a failed run. After a successful run every worker waits for the
        # others, then closes its connections while Python still runs.
        release_process_group()

    def _recover_results_in_main_process(self, worker_output: Any, trainer: Any) -> None:
        if worker_output.weights_path is not None:
            path = Path(worker_output.weights_path)
            trainer.lightning_module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            shutil.rmtree(path.parent, ignore_errors=True)  # the launcher's own temporary folder
            worker_output = worker_output._replace(weights_path=None)
        super()._recover_results_in_main_process(worker_output, trainer)

    def get_extra_results(self, trainer: Any) -> dict[str, Any]:
        extra = super().get_extra_results(trainer)
        history = trainer.lightning_module.loss_history
        extra[_KEY] = {k: [float(x) for x in v] for k, v in history.items()}
        return extra

    def update_main_process_results(self, trainer: Any, extra: dict[str, Any]) -> None:
        super().update_main_process_results(trainer, extra)
        if _KEY in extra:
            trainer.lightning_module.loss_history = {k: list(v) for k, v in extra[_KEY].items()}


def release_process_group() -> None:
    """Barrier, then destroy the default process group (no-op without one). Only after a successful run: a
    barrier with a dead peer would raise."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class SpawnDDPStrategy(DDPStrategy):
    """Lightning's DDP with ``start_method='spawn'`` whose launcher returns the module's loss history."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(start_method="spawn", **kwargs)

    def _configure_launcher(self) -> None:
        self._launcher = _LossHistoryLauncher(self, start_method=self._start_method)
