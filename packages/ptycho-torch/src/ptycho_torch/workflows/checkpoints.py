"""Checkpoints of the PyTorch workflow (specs/reliability.md §1, §3-§4): atomic writes, safe reads, and the
callbacks that make ``<output_dir>/checkpoints/last.ckpt`` a complete resume point. Imports lightning: load it
only where training runs (:func:`resolve_resume_checkpoint` and :func:`load_checkpoint_safely` live in
:mod:`ptycho_torch.workflows.resume`, which does not)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from ptycho.atomic_io import atomic_write
from ptycho_torch.workflows.resume import load_checkpoint_safely

__all__ = ["AtomicCheckpointIO", "DataOrderCallback", "LastCheckpointCallback", "resume_callbacks"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning CheckpointIO writing through ``ptycho.atomic_io.atomic_write`` (temp file in the same folder,
    fsync, rename) and reading with ``torch.load(weights_only=True)`` only."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        with atomic_write(path, "wb") as fh:
            torch.save(checkpoint, fh)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None) -> dict[str, Any]:
        return load_checkpoint_safely(path)


class DataOrderCallback(L.Callback):
    """Gives the epoch-seeded sampler this process's share of each batch (rank, world size), records how many
    batches of the current epoch are done and, on resume, tells the sampler to start the interrupted epoch
    after them."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler
        self.batches_done = 0

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        # each DDP process trains on its share of every global batch (specs/scaling.md §1)
        if self.sampler is not None and hasattr(self.sampler, "set_shard"):
            self.sampler.set_shard(int(trainer.global_rank), int(trainer.world_size))

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.batches_done = 0

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches_done = batch_idx + 1

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        # world_size: processes that shared each global batch (a resumed run may use another count: the
        # position counts global batches)
        checkpoint["ptycho_data_order"] = {"epoch": int(trainer.current_epoch), "batches_done": self.batches_done,
                                           "epoch_done": self.batches_done >= int(trainer.num_training_batches),
                                           "world_size": int(trainer.world_size)}

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("ptycho_data_order")
        if state is None or self.sampler is None:
            return
        if state["epoch_done"]:
            self.sampler.set_epoch(state["epoch"] + 1)
        else:
            self.sampler.resume_at(state["epoch"], state["batches_done"])
            self.batches_done = state["batches_done"]


class LastCheckpointCallback(Checkpoint):
    """``trainer.save_checkpoint(last_path)`` every ``every_n_steps`` optimizer steps (never on an epoch's last
    batch: the epoch-end save follows after validation and the scheduler step) and at the end of every epoch
    (a ``Checkpoint`` subclass, so it runs after the module's epoch-end hook)."""

    def __init__(self, last_path: Path, every_n_steps: int) -> None:
        self.last_path = last_path
        self.every_n_steps = every_n_steps

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0 \
                and batch_idx + 1 < trainer.num_training_batches:
            trainer.save_checkpoint(self.last_path, weights_only=False)  # full state: resumable

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        trainer.save_checkpoint(self.last_path, weights_only=False)


def resume_callbacks(sampler: Any, last_path: Path | None, every_n_steps: int) -> list[Any]:
    """The data-order callback, plus the last-checkpoint callback when ``last_path`` is given."""
    cbs: list[Any] = [DataOrderCallback(sampler)]
    if last_path is not None:
        cbs.append(LastCheckpointCallback(last_path, every_n_steps))
    return cbs
