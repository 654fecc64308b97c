"""Optimiser, learning-rate schedule and gradient clipping of the Lightning module (specs/torch-training.md §4).

Plain functions of the canonical ``TrainingConfig`` fields, kept apart from the module so each is testable:

* :func:`build_optimizer` - 'adam' | 'adamw' | 'sgd' (``momentum``, Nesterov when momentum > 0), with
  ``weight_decay`` and ``adam_beta1``/``adam_beta2``;
* :func:`build_scheduler` - 'Default' (none) | 'Exponential' | 'MultiStage' | 'Adaptive' (ReduceLROnPlateau)
  | 'WarmupCosine' (:func:`warmup_cosine_factor`), all stepped once per epoch; :func:`budget_cosine_scheduler`:
  'WarmupCosine' over a wall-clock budget (no epoch count), stepped every batch;
* :func:`clip_gradients` - 'norm' (global L2 norm <= value) or 'value' (elementwise clamp).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["build_optimizer", "build_scheduler", "budget_cosine_factor", "budget_cosine_scheduler", "budget_fraction",
           "warmup_cosine_factor", "clip_gradients", "FUSED_ADAM_ON_CPU"]

#: torch >= 2.4 runs the fused Adam kernel on CPU tensors too.
FUSED_ADAM_ON_CPU = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)


def build_optimizer(params: Iterable[torch.nn.Parameter], config: Any, lr: float) -> torch.optim.Optimizer:
    """The optimiser ``config.optimizer`` names, at learning rate ``lr``.

    Adam/AdamW take ``betas=(adam_beta1, adam_beta2)`` and ``weight_decay`` (Adam: L2 added to the gradient;
    AdamW: decoupled decay p <- p (1 - lr wd)); they run the fused multi-tensor kernel where torch allows it
    (real floating parameters; CPU from torch 2.4), else foreach. SGD takes ``momentum`` (Nesterov when > 0)
    and ``weight_decay``. Raises ValueError naming ``TrainingConfig.optimizer`` for another name.
    """
    params = list(params)
    name = getattr(config, "optimizer", "adam")
    wd = float(getattr(config, "weight_decay", 0.0))
    if name in ("adam", "adamw"):
        fused = (FUSED_ADAM_ON_CPU or all(p.is_cuda for p in params)) and all(p.is_floating_point() for p in params)
        kind = {"fused": True} if fused else {"foreach": True}
        betas = (float(getattr(config, "adam_beta1", 0.9)), float(getattr(config, "adam_beta2", 0.999)))
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=betas, weight_decay=wd, **kind)
    if name == "sgd":
        momentum = float(getattr(config, "momentum", 0.9))
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=wd,
                               foreach=True)
    raise ValueError(f"TrainingConfig.optimizer: expected one of 'adam', 'adamw', 'sgd', found {name!r}")


def warmup_cosine_factor(epoch: int, warmup_epochs: int, total_epochs: int, min_ratio: float) -> float:
    """Learning-rate factor of 'WarmupCosine' after ``epoch`` scheduler steps (0 = the first epoch).

    Warm-up (epoch < warmup_epochs): 0.1 + 0.9 epoch / warmup_epochs. Then, with t = (epoch - warmup) /
    max(1, total - warmup) capped at 1: min_ratio + (1 - min_ratio) (1 + cos(pi t)) / 2 - from 1 down to
    min_ratio at the last epoch (LinearLR(0.1 -> 1) then CosineAnnealingLR(eta_min = ratio lr) in torch terms).
    """
    if epoch < warmup_epochs:
        return 0.1 + 0.9 * epoch / warmup_epochs
    t = min(1.0, (epoch - warmup_epochs) / max(1, total_epochs - warmup_epochs))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


def budget_cosine_factor(epoch: int, warmup_epochs: int, fraction: float, min_ratio: float) -> float:
    """Learning-rate factor of 'WarmupCosine' over a wall-clock budget, ``fraction`` in [0, 1] of it spent.

    Warm-up (epoch < warmup_epochs) as :func:`warmup_cosine_factor`; then min_ratio + (1 - min_ratio)
    (1 + cos(pi f)) / 2 with f = ``fraction`` clipped to [0, 1]: from 1 at the start of training down to
    min_ratio when the budget ends, whatever number of epochs the budget buys.
    """
    if epoch < warmup_epochs:
        return 0.1 + 0.9 * epoch / warmup_epochs
    f = min(1.0, max(0.0, float(fraction)))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * f))


def budget_fraction(trainer: Any) -> float:
    """Share in [0, 1] of the trainer's ``max_time`` budget spent in training (Lightning's ``Timer``: it keeps
    the time of earlier runs of a resumed fit), the same on every process (rank 0's, broadcast). 0.0 when the
    trainer has no budget."""
    from lightning.pytorch.callbacks import Timer

    fraction = 0.0
    for callback in getattr(trainer, "callbacks", []) or []:
        remaining = callback.time_remaining() if isinstance(callback, Timer) else None
        if remaining is not None:
            elapsed = callback.time_elapsed()
            fraction = min(1.0, elapsed / max(elapsed + remaining, 1e-9))
            break
    strategy = getattr(trainer, "strategy", None)
    return float(strategy.broadcast(fraction)) if strategy is not None else fraction


def budget_cosine_scheduler(opt: torch.optim.Optimizer, warmup_epochs: int, min_ratio: float,
                            progress: Any) -> torch.optim.lr_scheduler.LambdaLR:
    """'WarmupCosine' over a wall-clock budget: a ``LambdaLR`` to step every batch whose factor is
    :func:`budget_cosine_factor` of ``progress()`` -> (completed epochs, budget fraction spent). The factor
    depends on the time spent, not on the step count, so a resumed run continues where the budget stood."""
    w, r = int(warmup_epochs), float(min_ratio)

    def factor(_step: int) -> float:
        epoch, fraction = progress()
        return budget_cosine_factor(int(epoch), w, float(fraction), r)

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def build_scheduler(opt: torch.optim.Optimizer, name: str, kw: dict[str, Any]) -> Any:
    """The epoch-stepped scheduler ``name`` with its keyword arguments ``kw``
    (``PyTorchExecutionConfig.scheduler_kwargs_for``), or None for 'Default' (constant rate)."""
    sched = torch.optim.lr_scheduler
    if name == "Default":
        return None
    if name == "Exponential":
        return sched.ExponentialLR(opt, gamma=kw["gamma"])
    if name == "MultiStage":
        return sched.MultiStepLR(opt, milestones=list(kw["milestones"]), gamma=kw["gamma"])
    if name == "WarmupCosine":
        w, total, r = int(kw["warmup_epochs"]), int(kw["total_epochs"]), float(kw["min_ratio"])
        return sched.LambdaLR(opt, lambda e: warmup_cosine_factor(e, w, total, r))
    if name == "Adaptive":
        return sched.ReduceLROnPlateau(opt, mode="min", factor=kw["factor"], patience=kw["patience"],
                                       min_lr=kw["min_lr"], threshold=kw["threshold"])
    raise ValueError(f"TrainingConfig.scheduler: expected 'Default', 'Exponential', 'MultiStage', 'Adaptive' or "
                     f"'WarmupCosine', found {name!r}")


def clip_gradients(params: Iterable[torch.nn.Parameter], value: float | None, algorithm: str = "norm") -> None:
    """Clip the gradients of ``params`` in place: 'norm' rescales them so their global L2 norm is <= ``value``,
    'value' clamps each element to [-value, value]; None does nothing."""
    if value is None:
        return
    grads = [p for p in params if p.grad is not None]
    if algorithm == "norm":
        torch.nn.utils.clip_grad_norm_(grads, max_norm=float(value))
    elif algorithm == "value":
        torch.nn.utils.clip_grad_value_(grads, clip_value=float(value))
    else:
        raise ValueError(f"TrainingConfig.gradient_clip_algorithm: expected 'norm' or 'value', found {algorithm!r}")
