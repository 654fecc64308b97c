"""The teacher's Lightning module and stage schedule (specs/torch-training.md §8.2-§8.3).

:class:`TeacherPINN_Lightning` is ``PtychoPINN_Lightning`` (same network, physics, state-dict keys, bundle)
with a two-stage loss on labelled training batches:

* stage 'supervised': :func:`~ptycho_torch.teacher.loss.split_loss` of the generator's amp / phase against the
  batch's ``label_amp`` / ``label_phase`` (B, N, N, C);
* stage 'poisson': the module's Poisson NLL + ``teacher_keep_weight`` x the split loss.

Validation batches (and any batch seen in eval mode) score the Poisson NLL alone: the one label-free measure.
The logged loss is ``teacher_train_loss`` / ``teacher_val_loss``. :class:`TeacherSchedule` switches the stage
at an epoch end and resets the optimiser's moments there (Adam's second moments of MAE gradients are ~10^3
times smaller than those of the Poisson NLL; continuing them would multiply the first Poisson steps).
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning.pytorch as L
import torch

from ptycho_torch.lightning_module import PtychoPINN_Lightning

from .loss import split_loss

__all__ = ["STAGES", "TeacherPINN_Lightning", "TeacherSchedule"]

STAGES = ("supervised", "poisson")


class TeacherPINN_Lightning(PtychoPINN_Lightning):
    """``PtychoPINN_Lightning`` trained by the teacher recipe; same constructor. Reads
    ``training_config.teacher_keep_weight``; ``teacher_stage`` is 'supervised' until :meth:`enter_poisson_stage`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tc = self.training_config
        if self.supervised:
            raise ValueError("TrainingConfig.teacher: 'refine' trains the PINN generator; expected "
                             "model.model_type 'pinn', found 'supervised'")
        if self.model_config.gridsize > 1 and not self.model_config.object_big:
            raise ValueError("TrainingConfig.teacher: 'refine' at gridsize > 1 needs model.object_big True "
                             "(one predicted patch per label), found False")
        self.loss_prefix = "teacher"
        self.keep_weight = float(tc.teacher_keep_weight)
        self.teacher_stage = "supervised"
        self.switch_epoch: int | None = None

    def enter_poisson_stage(self, epoch: int) -> None:
        """Switch to the Poisson stage after ``epoch`` completed epochs; clears the optimiser's moments."""
        self.teacher_stage, self.switch_epoch = "poisson", int(epoch)
        trainer = self._trainer
        if trainer is not None:
            for opt in trainer.optimizers:
                opt.state.clear()

    def _loss_and_metrics(self, batch: dict, X: torch.Tensor, target: torch.Tensor,
                          out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        poisson, metrics = super()._loss_and_metrics(batch, X, target, out)
        if not self.training or "label_amp" not in batch:
            return poisson, metrics
        sup = split_loss(out["amp"], out["phase"], batch["label_amp"], batch["label_phase"])
        metrics["teacher_supervised"], metrics["teacher_poisson"] = sup.detach(), poisson.detach()
        if self.teacher_stage == "supervised":
            return sup, metrics
        return (poisson + self.keep_weight * sup) if self.keep_weight else poisson, metrics

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        checkpoint["ptycho_teacher"] = {"stage": self.teacher_stage,
                                        "switch_epoch": -1 if self.switch_epoch is None else self.switch_epoch}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get("ptycho_teacher")
        if state is not None:
            self.teacher_stage = str(state["stage"])
            self.switch_epoch = None if int(state["switch_epoch"]) < 0 else int(state["switch_epoch"])


class TeacherSchedule(L.Callback):
    """Ends the supervised stage at the first epoch end where either
    ``epochs_done >= ceil(share · nepochs)`` or ``seconds since fit start >= share · budget_s``
    (``budget_s``: the training part of ``max_time``, None without a budget; ``nepochs`` None: the budget alone
    decides). ``share`` 1.0: never switches."""

    def __init__(self, share: float, nepochs: int | None, budget_s: float | None) -> None:
        self.share, self.budget_s = float(share), budget_s
        self.nepochs = None if nepochs is None else int(nepochs)
        self._t0: float | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._t0 = time.monotonic()

    def supervised_epochs(self) -> int | None:
        """Epoch count after which the supervised stage ends (when no time budget ends it first); None when
        training runs until the budget."""
        return None if self.nepochs is None else max(1, math.ceil(self.share * self.nepochs))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.share >= 1.0 or getattr(pl_module, "teacher_stage", "poisson") != "supervised":
            return
        done = int(trainer.current_epoch) + 1
        elapsed = 0.0 if self._t0 is None else time.monotonic() - self._t0
        by_time = self.budget_s is not None and elapsed >= self.share * self.budget_s
        by_epochs = self.nepochs is not None and done >= max(1, math.ceil(self.share * self.nepochs))
        if by_epochs or by_time:
            pl_module.enter_poisson_stage(done)
