"""``PyTorchExecutionConfig``: run-time knobs of the PyTorch backend (specs/config-bridge.md §5).

These settings change how a run executes (hardware, data-loader workers, checkpoints, logging, the
learning-rate schedule), not what is reconstructed. They are never written into ``ptycho.params.cfg``.

Two fields have canonical counterparts, ``learning_rate`` and ``scheduler`` (canonical
``TrainingConfig.learning_rate`` / ``.scheduler``). The canonical config is their source of truth:
:func:`execution_config_for` builds an execution config that agrees with it and refuses one that does not,
so the trainer and the bundle's stored config never disagree.

Validated at construction: a bad value raises ``ValueError("PyTorchExecutionConfig.<field>: expected ...,
got ...")``. Frozen; derive variants with ``dataclasses.replace`` or ``update_config``. Nothing here imports
torch: ``accelerator='auto'`` stays 'auto' and is resolved by the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ptycho.config.config import SCHEDULER_ALIASES, SCHEDULERS, default_multistage_milestones
from ptycho.config.validation import check_bool, check_choice, check_float, check_int, fail, is_int

__all__ = [
    "PyTorchExecutionConfig",
    "ACCELERATORS",
    "STRATEGIES",
    "PRECISIONS",
    "LOGGER_BACKENDS",
    "CHECKPOINT_MODES",
    "EXECUTION_RULES",
    "execution_config_for",
]

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
STRATEGIES = ("auto", "ddp", "ddp_spawn")
PRECISIONS = ("32", "bf16-mixed", "16-mixed")
LOGGER_BACKENDS = ("csv", "tensorboard", "mlflow", "none")
CHECKPOINT_MODES = ("min", "max")

_O = "PyTorchExecutionConfig"

#: What each field allows and means; rendered into specs/config-bridge.md §5.
EXECUTION_RULES: dict[str, str] = {
    "accelerator": "'auto', 'cpu', 'gpu', 'cuda', 'mps' ('tpu' is refused: Torch-XLA unsupported); 'auto' is "
                   "resolved by the trainer (CUDA when available, else CPU), never here",
    "devices": "int >= 1 or 'auto'",
    "strategy": "'auto' (one process), 'ddp' (one process per device, launched by Lightning or by torchrun/SLURM) "
                "or 'ddp_spawn' (workers spawned from the calling process; specs/scaling.md §1)",
    "num_nodes": "int >= 1 machines taking part in a 'ddp' run (Lightning's num_nodes); world size = devices x num_nodes",
    "deterministic": "True, False or 'warn' (Lightning's deterministic flag)",
    "precision": "'32' (float32), 'bf16-mixed' or '16-mixed': the network under autocast, physics and loss in "
                 "float32 (fp16 with a gradient scaler); training and inference (specs/scaling.md §4)",
    "num_workers": "int >= 0 DataLoader workers (0 = main process)",
    "learning_rate": "> 0, the optimiser's base rate; mirrors canonical TrainingConfig.learning_rate (§4, §5.1)",
    "scheduler": "'Default' (constant), 'Exponential', 'MultiStage', 'Adaptive' (plateau), 'WarmupCosine'; "
                 "'ReduceLROnPlateau' is stored as 'Adaptive'; mirrors canonical TrainingConfig.scheduler",
    "lr_warmup_epochs": "int >= 0: 'WarmupCosine' rises linearly from 0.1 x lr to lr over these epochs, then "
                        "follows a cosine (0 = cosine from the first epoch)",
    "lr_min_ratio": "0 <= ratio <= 1: 'WarmupCosine' ends at lr_min_ratio x lr",
    "exponential_gamma": "0 < gamma <= 1, per-epoch decay of 'Exponential'",
    "multistage_milestones": "strictly increasing epochs >= 1 (a list is stored as a tuple), or None = "
                             "[nepochs//2, 3*nepochs//4] for 'MultiStage'",
    "multistage_gamma": "0 < gamma <= 1, decay factor at each milestone",
    "plateau_factor": "0 < factor < 1, 'Adaptive' decay factor",
    "plateau_patience": "int >= 0 epochs without improvement before decaying",
    "plateau_min_lr": ">= 0, floor of the learning rate",
    "plateau_threshold": ">= 0, minimal improvement that counts",
    "accumulate_grad_batches": "int >= 1; the trainer refuses > 1 with a RuntimeError (the Lightning module "
                               "uses manual optimisation, which cannot accumulate)",
    "enable_progress_bar": "bool",
    "enable_checkpointing": "bool",
    "checkpoint_save_top_k": "-1 = keep all, 0 = none, k >= 1 = the best k",
    "checkpoint_monitor_metric": "non-empty metric name; 'val_loss' is aliased by the trainer to the model's "
                                 "validation-loss name (its training loss when there is no validation data)",
    "checkpoint_mode": "'min' or 'max'",
    "early_stop_patience": "int >= 1 epochs, or None = no early stopping",
    "checkpoint_every_n_steps": "int >= 0 optimiser steps between mid-epoch saves of checkpoints/last.ckpt "
                                "(0 = only at epoch ends); bounds the work lost to a kill (specs/reliability.md)",
    "logger_backend": "'csv', 'tensorboard', 'mlflow', 'none' (None is stored as 'none')",
    "inference_batch_size": "int >= 1, or None = the training batch size",
}


@dataclass(frozen=True)
class PyTorchExecutionConfig:
    """Execution-only settings of a PyTorch run (specs/config-bridge.md §5 lists each with its rule).

    - Trainer: ``accelerator`` ('auto' | 'cpu' | 'gpu' | 'cuda' | 'mps'; 'tpu' is rejected), ``devices``
      (int >= 1 or 'auto'), ``strategy`` ('auto' | 'ddp' | 'ddp_spawn'), ``num_nodes`` (int >= 1; a DDP run
      has devices x num_nodes processes, specs/scaling.md §1), ``deterministic`` (bool or 'warn'),
      ``precision`` ('32' | 'bf16-mixed' | '16-mixed': autocast of the network only, specs/scaling.md §4),
      ``accumulate_grad_batches`` (int >= 1; values > 1 are refused by the trainer with a RuntimeError
      because the Lightning module uses manual optimisation).
    - Data loading: ``num_workers`` (int >= 0), ``inference_batch_size`` (int >= 1 or None = the training
      batch size).
    - Optimisation: ``learning_rate`` (> 0; the optimiser itself is canonical ``TrainingConfig.optimizer``),
      ``scheduler`` ('Default' constant | 'Exponential' | 'MultiStage' | 'Adaptive' plateau | 'WarmupCosine';
      'ReduceLROnPlateau' is stored as 'Adaptive') and its parameters: ``lr_warmup_epochs`` (>= 0),
      ``lr_min_ratio`` (in [0, 1]), ``exponential_gamma`` (0 < g <= 1, per epoch), ``multistage_milestones``
      (strictly increasing epochs, each at least 1, or None = [nepochs//2, 3*nepochs//4]),
      ``multistage_gamma`` (0 < g <= 1), ``plateau_factor`` (0 < f < 1), ``plateau_patience``
      (epochs >= 0), ``plateau_min_lr`` (>= 0), ``plateau_threshold`` (>= 0).
    - Checkpoints and logging: ``enable_progress_bar``, ``enable_checkpointing`` (bools),
      ``checkpoint_save_top_k`` (-1 = all, 0 = none, k >= 1 = best k), ``checkpoint_monitor_metric``
      (non-empty str; 'val_loss' is aliased by the trainer to the model's validation-loss name),
      ``checkpoint_mode`` ('min' | 'max'), ``early_stop_patience`` (epochs >= 1, or None = no early stop),
      ``logger_backend`` ('csv' | 'tensorboard' | 'mlflow' | 'none'; None is stored as 'none').
    """

    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    deterministic: bool | str = True
    precision: str = "32"
    num_workers: int = 0
    learning_rate: float = 1e-3
    scheduler: str = "Default"
    exponential_gamma: float = 0.95
    multistage_milestones: tuple[int, ...] | None = None
    multistage_gamma: float = 0.1
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    plateau_min_lr: float = 1e-5
    plateau_threshold: float = 0.0
    lr_warmup_epochs: int = 0
    lr_min_ratio: float = 0.1
    accumulate_grad_batches: int = 1
    enable_progress_bar: bool = False
    enable_checkpointing: bool = True
    checkpoint_save_top_k: int = 1
    checkpoint_monitor_metric: str = "val_loss"
    checkpoint_mode: str = "min"
    early_stop_patience: int | None = 100
    checkpoint_every_n_steps: int = 50
    logger_backend: str = "csv"
    inference_batch_size: int | None = None

    def __post_init__(self) -> None:
        self._normalise()
        self._validate()

    def _normalise(self) -> None:
        if isinstance(self.scheduler, str):
            object.__setattr__(self, "scheduler", SCHEDULER_ALIASES.get(self.scheduler, self.scheduler))
        if self.logger_backend is None:
            object.__setattr__(self, "logger_backend", "none")
        if isinstance(self.multistage_milestones, list):
            object.__setattr__(self, "multistage_milestones", tuple(self.multistage_milestones))

    def _validate(self) -> None:
        if self.accelerator == "tpu":
            fail(_O, "accelerator", self.accelerator, "one of " + ", ".join(map(repr, ACCELERATORS))
                 + " (TPU/Torch-XLA is not supported)")
        check_choice(_O, "accelerator", self.accelerator, ACCELERATORS)
        if not ((is_int(self.devices) and self.devices >= 1) or self.devices == "auto"):
            fail(_O, "devices", self.devices, "an integer >= 1 or 'auto'")
        check_choice(_O, "strategy", self.strategy, STRATEGIES)
        check_int(_O, "num_nodes", self.num_nodes, 1)
        if self.num_nodes > 1 and self.strategy != "ddp":
            fail(_O, "num_nodes", self.num_nodes, "1 unless strategy='ddp' (several machines need DDP)")
        check_choice(_O, "precision", self.precision, PRECISIONS)
        if not (isinstance(self.deterministic, bool) or self.deterministic == "warn"):
            fail(_O, "deterministic", self.deterministic, "True, False or 'warn'")
        check_int(_O, "num_workers", self.num_workers, 0)
        check_float(_O, "learning_rate", self.learning_rate, low=0.0, low_open=True)
        check_choice(_O, "scheduler", self.scheduler, SCHEDULERS)
        check_float(_O, "exponential_gamma", self.exponential_gamma, low=0.0, high=1.0, low_open=True)
        m = self.multistage_milestones
        if m is not None and not (
            isinstance(m, tuple) and len(m) > 0 and all(is_int(v) and v >= 1 for v in m)
            and all(a < b for a, b in zip(m, m[1:], strict=False))
        ):
            fail(_O, "multistage_milestones", m, "None or a non-empty strictly increasing sequence of epochs >= 1")
        check_float(_O, "multistage_gamma", self.multistage_gamma, low=0.0, high=1.0, low_open=True)
        pf = self.plateau_factor
        if not (isinstance(pf, (int, float)) and not isinstance(pf, bool) and 0.0 < pf < 1.0):
            fail(_O, "plateau_factor", pf, "a number > 0.0 and < 1.0")
        check_int(_O, "plateau_patience", self.plateau_patience, 0)
        check_float(_O, "plateau_min_lr", self.plateau_min_lr, low=0.0)
        check_float(_O, "plateau_threshold", self.plateau_threshold, low=0.0)
        check_int(_O, "lr_warmup_epochs", self.lr_warmup_epochs, 0)
        check_float(_O, "lr_min_ratio", self.lr_min_ratio, low=0.0, high=1.0)
        check_int(_O, "accumulate_grad_batches", self.accumulate_grad_batches, 1)
        check_bool(_O, "enable_progress_bar", self.enable_progress_bar)
        check_bool(_O, "enable_checkpointing", self.enable_checkpointing)
        check_int(_O, "checkpoint_save_top_k", self.checkpoint_save_top_k, -1)
        if not isinstance(self.checkpoint_monitor_metric, str) or not self.checkpoint_monitor_metric:
            fail(_O, "checkpoint_monitor_metric", self.checkpoint_monitor_metric, "a non-empty metric name")
        check_choice(_O, "checkpoint_mode", self.checkpoint_mode, CHECKPOINT_MODES)
        check_int(_O, "early_stop_patience", self.early_stop_patience, 1, optional=True)
        check_int(_O, "checkpoint_every_n_steps", self.checkpoint_every_n_steps, 0)
        check_choice(_O, "logger_backend", self.logger_backend, LOGGER_BACKENDS)
        check_int(_O, "inference_batch_size", self.inference_batch_size, 1, optional=True)

    def scheduler_kwargs_for(self, nepochs: int | None = None) -> dict[str, Any]:
        """Keyword arguments of the ``torch.optim.lr_scheduler`` class that ``scheduler`` names.

        'Default' -> {} (constant rate); 'Exponential' -> ExponentialLR ``{'gamma'}``; 'MultiStage' ->
        MultiStepLR ``{'milestones', 'gamma'}``; 'Adaptive' -> ReduceLROnPlateau ``{'factor', 'patience',
        'min_lr', 'threshold'}``; 'WarmupCosine' -> ``{'warmup_epochs', 'min_ratio', 'total_epochs'}`` (the
        run length ``nepochs``; None: a run until its max_time budget, over whose time the cosine then runs,
        specs/torch-training.md §4). Epoch-based otherwise: the trainer steps the scheduler once per epoch.

        ``multistage_milestones=None`` means "decay at nepochs//2 and 3*nepochs//4" (at least epoch 1), which
        needs ``nepochs``; without it ValueError names the field.
        """
        if self.scheduler == "Exponential":
            return {"gamma": float(self.exponential_gamma)}
        if self.scheduler == "MultiStage":
            milestones = self.multistage_milestones
            if milestones is None:
                if not (is_int(nepochs) and nepochs >= 1):
                    fail(_O, "multistage_milestones", milestones,
                         "explicit epochs, or nepochs >= 1 to derive [nepochs//2, 3*nepochs//4] "
                         "(call scheduler_kwargs_for(nepochs))")
                milestones = default_multistage_milestones(nepochs)
            return {"milestones": list(milestones), "gamma": float(self.multistage_gamma)}
        if self.scheduler == "WarmupCosine":
            if nepochs is not None and not (is_int(nepochs) and nepochs >= 1):
                fail(_O, "scheduler", self.scheduler, "a run length for 'WarmupCosine' (call scheduler_kwargs_for(nepochs))")
            return {"warmup_epochs": int(self.lr_warmup_epochs), "min_ratio": float(self.lr_min_ratio),
                    "total_epochs": None if nepochs is None else int(nepochs)}
        if self.scheduler == "Adaptive":
            return {
                "factor": float(self.plateau_factor),
                "patience": int(self.plateau_patience),
                "min_lr": float(self.plateau_min_lr),
                "threshold": float(self.plateau_threshold),
            }
        return {}

    @property
    def scheduler_kwargs(self) -> dict[str, Any]:
        """``scheduler_kwargs_for()`` without a run length (MultiStage then needs explicit milestones)."""
        return self.scheduler_kwargs_for(None)


def execution_config_for(config: Any, execution: PyTorchExecutionConfig | None = None) -> PyTorchExecutionConfig:
    """The execution config to run canonical ``config`` with, agreeing with it on learning rate and scheduler.

    ``config`` is a canonical ``TrainingConfig`` (or an ``InferenceConfig``, which has neither field).
    With ``execution=None`` a default ``PyTorchExecutionConfig`` is built with the config's
    ``learning_rate`` and ``scheduler``. A given ``execution`` is returned unchanged when it agrees; when its
    ``learning_rate`` or ``scheduler`` differs from the config's, ValueError names the field: the canonical
    config is the source of truth and nothing is silently ignored (specs/config-bridge.md §5).
    """
    if execution is not None and not isinstance(execution, PyTorchExecutionConfig):
        raise ValueError(
            f"execution_config: expected a PyTorchExecutionConfig or None, got {type(execution).__name__}"
        )
    wanted: dict[str, Any] = {}
    for name in ("learning_rate", "scheduler"):
        if hasattr(config, name):
            wanted[name] = getattr(config, name)
    if execution is None:
        return replace(PyTorchExecutionConfig(), **wanted) if wanted else PyTorchExecutionConfig()
    for name, value in wanted.items():
        if getattr(execution, name) != value:
            raise ValueError(
                f"{_O}.{name}: expected {value!r} (the value of {type(config).__name__}.{name}, the source of "
                f"truth; build the execution config with execution_config_for(config)), got {getattr(execution, name)!r}"
            )
    return execution
