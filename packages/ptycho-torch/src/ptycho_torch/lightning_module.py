"""Lightning module ``PtychoPINN_Lightning``: network + physics + losses + manual optimisation.

Normative description: specs/torch-training.md. State-dict keys are the fixed parameter names of
specs/network.md (``encoder.*``, ``decoder_amp.*``, ``decoder_phase.*``, ``forward_model.log_scale``,
``forward_model.probe``): the generator parts and the ``ForwardModel`` are direct children.

Batch contract (a dict of tensors from the DataLoader):
    'X' (B, N, N, C) float32 normalised amplitudes; 'coords_relative' (B, 1, 2, C) float32;
    'index' (B,) int64; supervised only: 'label_amp', 'label_phase' (B, N, N, C) float32; with
    ``input_refine_passes`` > 0: 'estimate' (B, N, N, C) complex64 (specs/network.md §8.3).
The module multiplies X by the intensity scale s itself.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as L
import torch

from ptycho.config.config import (
    SCHEDULER_ALIASES,
    SCHEDULERS,
    ModelConfig,
    TrainingConfig,
    config_from_dict,
    config_to_dict,
    default_multistage_milestones,
)

from .forward_model import ForwardModel, object_patches
from .generators import build_generator
from .generators.estimate_cache import EstimateCache, cache_allowed
from .generators.projected import run_projected_generator
from .network import run_generator
from .optim import budget_cosine_scheduler, budget_fraction, build_optimizer, build_scheduler, clip_gradients
from .physics.losses import amplitude_mae, poisson_nll
from .physics.probe import default_probe, normalize_probe
from .physics.scaling import intensity_scale as closed_form_scale

__all__ = ["NonFiniteLossError", "PtychoPINN_Lightning", "SCHEDULERS"]


def float32_region(like: torch.Tensor):
    """A region where autocast is off on ``like``'s device: physics and loss stay float32 under mixed precision."""
    return torch.autocast(device_type=like.device.type, enabled=False)


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN/inf loss or gradient; raised before the optimizer step, so the weights (and
    every checkpoint written so far) are still the last finite ones. The message names epoch and step."""

_SCHEDULER_KWARGS = {
    "Default": {},
    "Exponential": {"gamma": 0.95},
    "MultiStage": {"milestones": None, "gamma": 0.1},
    "Adaptive": {"factor": 0.5, "patience": 2, "min_lr": 1e-4, "threshold": 0.0},
    "WarmupCosine": {"warmup_epochs": 0, "min_ratio": 0.1, "total_epochs": None},
}


def _as_config(value: Any, cls: type, name: str):
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        return config_from_dict(value, cls.__name__)
    raise ValueError(f"PtychoPINN_Lightning: {name}: expected a {cls.__name__} or its dict, found {type(value).__name__}")


def check_v2_agreement(mc: ModelConfig, given: dict[str, Any], source: Any) -> None:
    """ValueError when v2 configs passed at load time disagree with the checkpoint's canonical model config."""
    data, model = given.get("data_config"), given.get("model_config")
    found = []
    if data is not None and hasattr(data, "grid_size"):
        if getattr(data, "N", mc.N) != mc.N:
            found.append(f"data_config.N={data.N} vs {mc.N}")
        if tuple(data.grid_size) != (mc.gridsize, mc.gridsize):
            found.append(f"data_config.grid_size={tuple(data.grid_size)} vs ({mc.gridsize}, {mc.gridsize})")
    if model is not None and hasattr(model, "mode"):
        mode = "Supervised" if mc.model_type == "supervised" else "Unsupervised"
        if model.mode != mode:
            found.append(f"model_config.mode={model.mode!r} vs {mode!r}")
    if found:
        raise ValueError(f"{source}: configs passed to load_from_checkpoint disagree with the checkpoint: "
                         + "; ".join(found))


class PtychoPINN_Lightning(L.LightningModule):
    """PtychoPINN (or the supervised baseline) as a LightningModule with manual optimisation.

    Args:
        model_config: ``ptycho.config.config.ModelConfig`` (or its ``config_to_dict`` form).
        training_config: ``TrainingConfig`` (or dict). Its nested ``model`` is ignored in favour of
            ``model_config``.
        probe: (N, N) complex probe, or (K, N, N) incoherent modes (tensor or array); normalised here with
            ``normalize_probe(probe, model_config.probe_scale)`` (idempotent). None -> default probe
            (the checkpoint reload path: the saved ``forward_model.probe`` then overwrites it).
        intensity_scale: s; None -> ``sqrt(nphotons)/(N/2)`` from training_config.
        learning_rate: the optimiser's learning rate; None -> training_config.learning_rate. The optimiser,
            its weight decay / betas / momentum and gradient clipping come from training_config
            (:mod:`ptycho_torch.optim`); the generator from ``model_config.architecture``
            (:mod:`ptycho_torch.generators`).
        scheduler: 'Default' | 'Exponential' | 'MultiStage' | 'Adaptive' ('ReduceLROnPlateau' accepted) |
            'WarmupCosine'; None -> training_config.scheduler.
        scheduler_kwargs: overrides of the scheduler's defaults (see specs/torch-training.md §4).
        probe_modes: K of the probe when it is None (checkpoint reload of a K-mode model: K placeholder modes
            whose shape the saved ``forward_model.probe`` fills); ignored when a probe is given.
    """

    def __init__(self, model_config, training_config, probe=None, intensity_scale=None, *,
                 learning_rate: float | None = None, scheduler: str | None = None,
                 scheduler_kwargs: dict | None = None, probe_modes: int = 1) -> None:
        super().__init__()
        mc = _as_config(model_config, ModelConfig, "model_config")
        tc = _as_config(training_config, TrainingConfig, "training_config")
        self.model_config, self.training_config = mc, tc
        self.supervised = mc.model_type == "supervised"
        if tc.torch_loss_mode not in ("poisson", "mae"):
            raise ValueError(f"TrainingConfig.torch_loss_mode: expected 'poisson' or 'mae', got {tc.torch_loss_mode!r}")
        self.loss_prefix = "mae" if (self.supervised or tc.torch_loss_mode == "mae") else "poisson"
        s = closed_form_scale(tc.nphotons, mc.N) if intensity_scale is None else float(intensity_scale)
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"PtychoPINN_Lightning: intensity_scale: expected a finite positive number, got {intensity_scale!r}")
        self.intensity_scale = s
        lr = tc.learning_rate if learning_rate is None else float(learning_rate)
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"PtychoPINN_Lightning: learning_rate: expected a finite positive number, got {learning_rate!r}")
        self.learning_rate = lr
        sched = tc.scheduler if scheduler is None else scheduler
        sched = SCHEDULER_ALIASES.get(sched, sched)
        if sched not in SCHEDULERS:
            raise ValueError(f"PtychoPINN_Lightning: scheduler: expected one of {SCHEDULERS}, got {scheduler!r}")
        self.scheduler_name = sched
        kw = dict(_SCHEDULER_KWARGS[sched])
        unknown = sorted(set(scheduler_kwargs or {}) - set(kw))
        if unknown:
            raise ValueError(f"PtychoPINN_Lightning: scheduler_kwargs: unknown key(s) {unknown} for scheduler "
                             f"{sched!r}; known: {sorted(kw)}")
        kw.update(scheduler_kwargs or {})
        derived = {"MultiStage": "milestones", "WarmupCosine": "total_epochs"}.get(sched)
        budget_only = tc.nepochs is None and tc.max_time is not None
        if derived is not None and kw[derived] is None and tc.nepochs is None and not (
                sched == "WarmupCosine" and budget_only):
            # the schedule is laid out over the run's epochs, which a budget-only run does not know in advance
            # (WarmupCosine then runs over the budget's time instead, optim.budget_cosine_scheduler)
            raise ValueError(f"PtychoPINN_Lightning: scheduler_kwargs: {derived}: expected explicit epochs for "
                             f"{sched!r} when TrainingConfig.nepochs is None (training until max_time), found None")
        if sched == "MultiStage" and kw["milestones"] is None:
            kw["milestones"] = list(default_multistage_milestones(tc.nepochs))
        if sched == "WarmupCosine" and kw["total_epochs"] is None and tc.nepochs is not None:
            kw["total_epochs"] = int(tc.nepochs)  # None left: over the max_time budget
        self.scheduler_kwargs = kw

        pr = default_probe(mc.N) if probe is None else probe
        pr = pr if torch.is_tensor(pr) else torch.as_tensor(pr)
        if pr.dim() == 3 and pr.shape[-1] == 1:
            pr = pr[..., 0]
        if probe is None and probe_modes > 1:  # checkpoint reload: the saved (K, N, N) modes overwrite these
            pr = pr[None].repeat(probe_modes, 1, 1)
        if tuple(pr.shape) != (mc.N, mc.N) and (pr.dim() != 3 or tuple(pr.shape[1:]) != (mc.N, mc.N)):
            raise ValueError(f"PtychoPINN_Lightning: probe: expected shape ({mc.N}, {mc.N}) or (K, {mc.N}, {mc.N}) "
                             f"modes, found {tuple(pr.shape)}")
        probe_modes = 1 if pr.dim() == 2 else int(pr.shape[0])
        pr = normalize_probe(pr.to(torch.complex64), mc.probe_scale)
        # Lightning compares the hparams dict with every ctor argument (``arg == dict``), which is
        # ambiguous for a numpy probe: rebind the raw argument first (``pr`` holds the probe). The dict's
        # keys are ctor argument names, so load_from_checkpoint calls cls(**hparams) (probe=None).
        probe = None
        self.save_hyperparameters({
            "model_config": config_to_dict(mc),
            "training_config": config_to_dict(tc),
            "intensity_scale": s,
            "learning_rate": lr,
            "scheduler": sched,
            "scheduler_kwargs": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in kw.items()},
            **({"probe_modes": probe_modes} if probe_modes > 1 else {}),  # the reload's probe shape
        })
        self.automatic_optimization = False

        self.encoder, self.decoder_amp, self.decoder_phase = build_generator(mc)
        # the supervised baseline emits C channels; it is merged like object_big patches
        self.forward_model = ForwardModel(
            mc.N, mc.gridsize, pr, s, object_big=mc.object_big or self.supervised, probe_mask=mc.probe_mask,
            gaussian_smoothing_sigma=mc.gaussian_smoothing_sigma, probe_trainable=tc.probe_trainable,
            intensity_scale_trainable=tc.intensity_scale_trainable)
        # the projected input's estimates, computed once per training sample when they cannot change during
        # training (specs/network.md §8.1); None: computed every step
        self.estimate_cache: EstimateCache | None = EstimateCache() if cache_allowed(mc, tc) else None
        self.loss_history: dict[str, list[float]] = {"train": [], "val": []}
        self._epoch_sums: dict[str, list[float]] = {}

    @property
    def loss_name(self) -> str:
        """Name of the logged training loss ('<poisson|mae>_train_loss')."""
        return f"{self.loss_prefix}_train_loss"

    @property
    def val_loss_name(self) -> str:
        """Name of the logged validation loss ('<poisson|mae>_val_loss')."""
        return f"{self.loss_prefix}_val_loss"

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                             strict: bool | None = None, weights_only: bool | None = True, **kwargs: Any):
        """Lightning's ``load_from_checkpoint`` with ``weights_only=True`` always (no pickle).

        The module is rebuilt from the canonical configs saved in the checkpoint's hyper-parameters. The v2
        API's keywords ``model_config=``, ``data_config=``, ``training_config=``, ``inference_config=``
        (v2-dialect configs, as ptychodus passes them) are checked against those (N, gridsize, mode) and
        otherwise not applied: a trained network's architecture is the one it was trained with. Other keywords
        are refused. Raises ValueError naming the mismatch.
        """
        if weights_only is False:
            raise ValueError("PtychoPINN_Lightning.load_from_checkpoint: weights_only=False is refused (no pickle)")
        given = {k: kwargs.pop(k) for k in ("model_config", "data_config", "training_config", "inference_config")
                 if k in kwargs}
        if kwargs:
            raise ValueError(f"PtychoPINN_Lightning.load_from_checkpoint: unknown keyword(s) {sorted(kwargs)}")
        module = super().load_from_checkpoint(checkpoint_path, map_location=map_location, hparams_file=hparams_file,
                                              strict=strict, weights_only=True)
        check_v2_agreement(module.model_config, given, checkpoint_path)
        return module

    # ------------------------------------------------------------------------------------------
    def forward(self, X_scaled: torch.Tensor, coords_relative: torch.Tensor,
                index: torch.Tensor | None = None, estimate: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Run network and physics.

        Args:
            X_scaled: (B, N, N, C) float, s * normalised amplitudes.
            coords_relative: (B, 1, 2, C) float, sign -1 offsets [x; y].
            index: (B,) int64 the samples' rows in their training container; in training mode with projected
                input it keys ``estimate_cache`` (specs/network.md §8.1). None: the estimate is computed.
            estimate: (B, N, N, C) complex, each pattern's patch of the scan's refined object in the network's
                units (:func:`ptycho_torch.generators.refined_input.attach_refined_estimate`); required with
                ``input_refine_passes`` > 0, ignored otherwise.
        Returns:
            dict(object=(B, N, N) complex trimmed object, patches=(B, N, N, F) complex network output,
            pred_amplitude=(B, N, N, C) float, measurement units; amp, phase (B, N, N, F) float).
        """
        mc = self.model_config
        C = mc.gridsize ** 2
        if X_scaled.dim() != 4 or tuple(X_scaled.shape[1:]) != (mc.N, mc.N, C):
            raise ValueError(f"PtychoPINN_Lightning.forward: X: expected shape (B, {mc.N}, {mc.N}, {C}), "
                             f"found {tuple(X_scaled.shape)}")
        x = self.forward_model.scale_input(X_scaled)
        # the network runs in whatever autocast region the caller opened (bf16/fp16 mixed precision); the
        # physics always runs in float32 (specs/scaling.md §4)
        if mc.input_refine_passes:
            if estimate is None or tuple(estimate.shape) != tuple(X_scaled.shape):
                found = None if estimate is None else tuple(estimate.shape)
                raise ValueError(f"PtychoPINN_Lightning.forward: ModelConfig.input_refine_passes = "
                                 f"{mc.input_refine_passes}: expected the batch's 'estimate' of shape "
                                 f"{tuple(X_scaled.shape)} (the refined scan's patches), found {found}")
            amp, phase = run_projected_generator(self.encoder, self.decoder_amp, self.decoder_phase, x,
                                                 self.forward_model.probe, 0, coords_relative,
                                                 estimate=estimate.permute(0, 3, 1, 2).to(torch.complex64))
        elif mc.input_projections:
            est = None
            if self.estimate_cache is not None and index is not None and self.training:
                est = self.estimate_cache.estimates(x, self.forward_model.probe, mc.input_projections,
                                                    coords_relative, index)
            amp, phase = run_projected_generator(self.encoder, self.decoder_amp, self.decoder_phase, x,
                                                 self.forward_model.probe, mc.input_projections, coords_relative,
                                                 estimate=est)
        else:
            amp, phase = run_generator(self.encoder, self.decoder_amp, self.decoder_phase, x, self.supervised)
        with float32_region(x):
            amp, phase = amp.float(), phase.float()
            patches = object_patches(amp, phase)
            trimmed, pred_amp = self.forward_model(patches, coords_relative.float())
        return {"object": trimmed, "patches": patches, "pred_amplitude": pred_amp, "amp": amp, "phase": phase}

    # ------------------------------------------------------------------------------------------
    def _unpack(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(batch, dict) or "X" not in batch or "coords_relative" not in batch:
            found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(f"PtychoPINN_Lightning: batch: expected a dict with 'X' and 'coords_relative', found {found}")
        return batch["X"], batch["coords_relative"]

    def compute_loss(self, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss of one batch (specs/torch-training.md §3) and the amplitude metrics."""
        X, coords = self._unpack(batch)
        s = self.intensity_scale
        target = X * s
        out = self(target, coords, batch.get("index"), batch.get("estimate"))
        pred = out["pred_amplitude"]
        with float32_region(pred):
            return self._loss_and_metrics(batch, X, target, out)

    def _loss_and_metrics(self, batch: dict, X: torch.Tensor, target: torch.Tensor,
                          out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pred = out["pred_amplitude"]
        metrics = {
            "amp_mae_tf_scale": amplitude_mae(target.detach(), pred.detach()),
            "amp_inv_mae": amplitude_mae(X.detach(), (pred / self.forward_model.scale()).detach()),
        }
        if self.supervised:
            missing = [k for k in ("label_amp", "label_phase") if k not in batch]
            if missing:
                raise ValueError(f"PtychoPINN_Lightning: supervised batch: expected 'label_amp' and 'label_phase' "
                                 f"(B, N, N, C), missing {missing}")
            loss = amplitude_mae(batch["label_amp"], out["amp"]) + amplitude_mae(batch["label_phase"], out["phase"])
            return loss, metrics
        tc = self.training_config
        if tc.torch_loss_mode == "mae":
            return amplitude_mae(target, pred), metrics
        loss = tc.nll_weight * poisson_nll(target * target, pred * pred)
        if tc.mae_weight:
            loss = loss + tc.mae_weight * amplitude_mae(target, pred)
        return loss, metrics

    def _accumulate(self, key: str, value: torch.Tensor, n: int) -> None:
        acc = self._epoch_sums.setdefault(key, [0.0, 0])
        acc[0] += float(value.detach()) * n
        acc[1] += n

    def _world_size(self) -> int:
        trainer = self._trainer
        return 1 if trainer is None else int(getattr(trainer, "world_size", 1))

    def _pop_mean(self, key: str, across_processes: bool = False) -> float | None:
        """Epoch mean of ``key`` weighted by batch size; ``across_processes``: over the shares of every DDP
        process (a collective call: every rank makes it), so each rank records the global batch mean."""
        acc = self._epoch_sums.pop(key, None) or [0.0, 0]
        if across_processes and self._world_size() > 1:
            both = torch.tensor([float(acc[0]), float(acc[1])], dtype=torch.float64, device=self.device)
            both = self.trainer.strategy.reduce(both, reduce_op="sum")
            acc = [float(both[0]), int(round(float(both[1])))]
        return None if acc[1] == 0 else acc[0] / acc[1]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        opt = self.optimizers()
        loss, metrics = self.compute_loss(batch)
        where = f"at epoch {self.current_epoch}, step {batch_idx} (global step {self.global_step})"
        if not bool(torch.isfinite(loss)):
            raise NonFiniteLossError(f"PtychoPINN_Lightning: non-finite training loss ({float(loss.detach())}) {where}; "
                                     "weights and checkpoints keep the last finite state")
        opt.zero_grad()
        self.manual_backward(loss)
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        # under fp16 mixed precision the gradient scaler skips steps with inf gradients (and lowers its scale)
        scaled = str(getattr(self._trainer, "precision", "32-true")) == "16-mixed"
        if grads and not scaled and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
            raise NonFiniteLossError(f"PtychoPINN_Lightning: non-finite gradient {where}; "
                                     "weights and checkpoints keep the last finite state")
        if self.training_config.gradient_clip_val is not None:
            if scaled:
                raise ValueError("TrainingConfig.gradient_clip_val: expected None under precision '16-mixed' "
                                 "(its gradients are loss-scaled), found "
                                 f"{self.training_config.gradient_clip_val}; use precision '32' or 'bf16-mixed'")
            clip_gradients(self.parameters(), self.training_config.gradient_clip_val,
                           self.training_config.gradient_clip_algorithm)
        opt.step()
        n = int(batch["X"].shape[0])
        self._accumulate("train", loss, n)
        sync = self._world_size() > 1  # DDP: logged values are means over the processes' shares
        self.log(f"{self.loss_prefix}_train_loss", loss.detach(), on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=n, sync_dist=sync)
        self.log("amp_inv_mae_epoch", metrics["amp_inv_mae"], on_step=False, on_epoch=True, batch_size=n,
                 sync_dist=sync)
        self.log("amp_mae_tf_scale_epoch", metrics["amp_mae_tf_scale"], on_step=False, on_epoch=True, batch_size=n,
                 sync_dist=sync)
        self.log("lr", float(opt.param_groups[0]["lr"]), on_step=False, on_epoch=True, batch_size=n, sync_dist=sync)
        return loss.detach()

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _ = self.compute_loss(batch)
        n = int(batch["X"].shape[0])
        if not self.trainer.sanity_checking:
            self._accumulate("val", loss, n)
        self.log(f"{self.loss_prefix}_val_loss", loss.detach(), on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=n, sync_dist=self._world_size() > 1)
        return loss.detach()

    # ------------------------------------------------------------------------------------------
    # resume state (specs/reliability.md §1): everything a bitwise-identical continuation needs beyond
    # what Lightning stores itself (weights, optimizer, scheduler, loop counters).
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        import random

        import numpy as np

        np_state = np.random.get_state()  # noqa: NPY002 - the legacy global state seed_everything seeds
        checkpoint["ptycho_resume"] = {
            "loss_history": {k: list(v) for k, v in self.loss_history.items()},
            "epoch_sums": {k: [float(v[0]), int(v[1])] for k, v in self._epoch_sums.items()},
            "rng_torch": torch.get_rng_state(),
            "rng_numpy": [str(np_state[0]), torch.from_numpy(np_state[1].astype("int64")), int(np_state[2]),
                          int(np_state[3]), float(np_state[4])],
            "rng_python": list(random.getstate()[1]) + [random.getstate()[0]],
            "rng_python_gauss": random.getstate()[2],
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        import random

        import numpy as np

        state = checkpoint.get("ptycho_resume")
        if state is None:  # a checkpoint of another writer: weights/optimizer only
            return
        self.loss_history = {k: [float(x) for x in v] for k, v in state["loss_history"].items()}
        self._epoch_sums = {k: [float(v[0]), int(v[1])] for k, v in state["epoch_sums"].items()}
        torch.set_rng_state(state["rng_torch"])
        npst = state["rng_numpy"]
        np.random.set_state((npst[0], npst[1].numpy().astype(np.uint32), npst[2], npst[3], npst[4]))  # noqa: NPY002
        py = state["rng_python"]
        random.setstate((py[-1], tuple(int(x) for x in py[:-1]), state["rng_python_gauss"]))

    def on_validation_epoch_start(self) -> None:
        self._epoch_sums.pop("val", None)

    def on_train_epoch_end(self) -> None:
        train = self._pop_mean("train", across_processes=True)
        val = self._pop_mean("val")  # every process validates on the whole validation set
        if train is not None:
            self.loss_history["train"].append(train)
        if val is not None:
            self.loss_history["val"].append(val)
        sched = self.lr_schedulers()
        if sched is None:
            return
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            metric = val if val is not None else train
            if metric is not None:
                sched.step(metric)
        else:
            sched.step()

    def predict_step(self, batch: dict, batch_idx: int = 0, dataloader_idx: int = 0) -> dict[str, torch.Tensor]:
        """dict(object=(B, N, N) complex64 trimmed object, members=(B, C, N, N) complex64 each group member's
        patch (centred on that member's position), index=batch['index'] (B,) when present)."""
        X, coords = self._unpack(batch)
        out = self(X * self.intensity_scale, coords, estimate=batch.get("estimate"))
        result = {"object": out["object"].to(torch.complex64),
                  "members": out["patches"].permute(0, 3, 1, 2).to(torch.complex64)}
        if "index" in batch:
            result["index"] = batch["index"]
        return result

    def _budget_progress(self) -> tuple[int, float]:
        """(completed epochs, share of the max_time budget spent) for the budget schedule; (0, 0.0) outside a fit."""
        trainer = self._trainer
        if trainer is None:
            return 0, 0.0
        return int(trainer.current_epoch), budget_fraction(trainer)

    def configure_optimizers(self):
        # Adam/AdamW run one fused multi-tensor kernel where torch allows it: the per-tensor Adam cost ~10-20 %
        # of a CPU step at n_filters_scale 2 (specs/torch-training.md §4).
        opt = build_optimizer(self.parameters(), self.training_config, self.learning_rate)
        kw = self.scheduler_kwargs
        if self.scheduler_name == "WarmupCosine" and kw["total_epochs"] is None:
            sched = budget_cosine_scheduler(opt, kw["warmup_epochs"], kw["min_ratio"], self._budget_progress)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        sched = build_scheduler(opt, self.scheduler_name, kw)
        if sched is None:
            return opt
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
