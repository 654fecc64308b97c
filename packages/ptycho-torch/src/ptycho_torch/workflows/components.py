"""PyTorch workflow orchestration: train, persist, reload, stitch (normative text: specs/torch-workflow.md).

Mirrors ``ptycho.workflows.components`` of the TensorFlow backend with Lightning as the training
engine. Public entry points:

* :func:`run_cdi_example_torch` - data -> Lightning training -> ``wts.h5.zip`` -> optional stitching.
* :func:`train_cdi_model_torch` - the training half (containers, seeded loaders, Trainer.fit).
* :func:`create_ptycho_data_container` - RawData (or a ready container) -> PtychoDataContainerTorch.
* :func:`load_inference_bundle_torch` - ``wts.h5.zip`` -> (models, canonical TrainingConfig).
* :func:`_reassemble_cdi_image_torch` - batched inference + native torch stitching.

Nothing here imports tensorflow or keras.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ptycho.config.config import effective_seed, validation_groups
from ptycho_torch.data import PtychoDataContainerTorch, build_dataloader, closed_form_intensity_scale
from ptycho_torch.persistence import BundleError, read_bundle, resolve_bundle_path, save_torch_bundle

logger = logging.getLogger(__name__)

_LOGGER_BACKENDS = ("csv", "tensorboard", "mlflow", "none")


# ----------------------------------------------------------------------------------------------------
# execution config (duck-typed: PyTorchExecutionConfig, a dict, a namespace or None)
# ----------------------------------------------------------------------------------------------------


def _exec_get(execution_config: Any, name: str, default: Any = None) -> Any:
    if execution_config is None:
        return default
    if isinstance(execution_config, Mapping):
        value = execution_config.get(name, default)
    else:
        value = getattr(execution_config, name, default)
    return default if value is None else value


def resolve_seed(config: Any) -> int:
    """Training seed: ``config.subsample_seed`` when set (0 included), else ``DEFAULT_SEED`` (42) - the same
    rule (``ptycho.config.config.effective_seed``) that seeds the grouping in both backends."""
    return effective_seed(config)


def resolve_device(execution_config: Any = None) -> torch.device:
    """Device for plain (non-Trainer) inference from ``execution_config.accelerator`` (default 'auto')."""
    acc = str(_exec_get(execution_config, "accelerator", "auto")).lower()
    if acc in ("cuda", "gpu"):
        if not torch.cuda.is_available():
            raise ValueError(f"execution_config.accelerator: {acc!r} requested but no CUDA device is available")
        return torch.device("cuda")
    if acc == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if acc == "cpu":
        return torch.device("cpu")
    raise ValueError(f"execution_config.accelerator: expected 'auto', 'cpu', 'cuda' or 'gpu', found {acc!r}")


# ----------------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------------


def create_ptycho_data_container(
    data: Any, config: Any, *, intensity_scale: float | None = None, n_groups: int | None = None
) -> PtychoDataContainerTorch:
    """RawData -> grouped container (config.n_groups unless ``n_groups`` is given, neighbor_count,
    subsample_seed, ...); containers pass through."""
    if isinstance(data, PtychoDataContainerTorch):
        return data
    if hasattr(data, "generate_grouped_data") and hasattr(data, "diff3d"):
        return PtychoDataContainerTorch.from_raw_data(data, config, intensity_scale=intensity_scale, n_groups=n_groups)
    raise TypeError(
        f"data: expected ptycho.raw_data.RawData or PtychoDataContainerTorch, found {type(data).__name__}"
    )


# ----------------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------------


class DiffractionToObject(nn.Module):
    """Inference callable of a trained model: (s·X (B,N,N,C) float32, coords_relative (B,1,2,C)) -> (B,N,N) complex64.

    The input is the *scaled* amplitude s·X (TF ``diffraction_to_obj`` convention), which is what
    ``PtychoPINN_Lightning.forward`` takes; ``predict_step`` (normalised X) gives the same object.
    """

    def __init__(self, lightning_module: nn.Module, intensity_scale: float):
        super().__init__()
        self.lightning_module = lightning_module
        self.intensity_scale = float(intensity_scale)

    def forward(self, x_scaled: torch.Tensor, coords_relative: torch.Tensor) -> torch.Tensor:
        if x_scaled.ndim != 4 or coords_relative.ndim != 4 or coords_relative.shape[1:3] != (1, 2):
            raise ValueError(
                f"DiffractionToObject: expected X (B,N,N,C) and coords_relative (B,1,2,C), found "
                f"{tuple(x_scaled.shape)} and {tuple(coords_relative.shape)}"
            )
        return self.lightning_module(x_scaled.to(torch.float32), coords_relative.to(torch.float32))["object"].to(
            torch.complex64
        )


def _lightning_class() -> type:
    from ptycho_torch.model import PtychoPINN_Lightning

    return PtychoPINN_Lightning


def _module_intensity_scale(module: nn.Module, fallback: float | None = None) -> float:
    for name in ("intensity_scale",):
        value = getattr(module, name, None)
        if value is not None:
            return float(value.item() if torch.is_tensor(value) else value)
    hp = getattr(module, "hparams", None)
    if hp is not None and "intensity_scale" in hp:
        return float(hp["intensity_scale"])
    if fallback is None:
        raise ValueError("lightning module: expected an 'intensity_scale' attribute or hyperparameter, found none")
    return float(fallback)


def _models_dict(module: nn.Module, intensity_scale: float) -> dict[str, Any]:
    return {"lightning_module": module, "diffraction_to_obj": DiffractionToObject(module, intensity_scale)}


# ----------------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------------


def _atomic_checkpoint_io() -> Any:
    """Lightning CheckpointIO writing through ``ptycho.atomic_io.atomic_write`` (temp file in the same folder,
    fsync, rename) and reading with ``torch.load(weights_only=True)`` only (specs/reliability.md §3-§4)."""
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from ptycho.atomic_io import atomic_write

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
            with atomic_write(path, "wb") as fh:
                torch.save(checkpoint, fh)

        def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None) -> dict[str, Any]:
            return load_checkpoint_safely(path)

    return AtomicCheckpointIO()


def load_checkpoint_safely(path: str | Path) -> dict[str, Any]:
    """``torch.load(path, map_location='cpu', weights_only=True)``; a missing, truncated or foreign file is a
    one-line ValueError (FileNotFoundError when missing) naming the path."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: checkpoint not found (expected <output_dir>/checkpoints/last.ckpt)")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for damaged files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{p}: not a loadable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "loops" not in ckpt:
        raise ValueError(f"{p}: expected a Lightning training checkpoint with 'state_dict' and 'loops'")
    return ckpt


def _resume_callbacks(sampler: Any, last_path: Path | None, every_n_steps: int) -> list[Any]:
    """Callbacks that make ``checkpoints/last.ckpt`` a complete resume point (specs/reliability.md §1).

    * data order: records how many batches of the current epoch are done and, on resume, tells the
      epoch-seeded sampler to start the interrupted epoch after them;
    * last checkpoint: ``trainer.save_checkpoint(last.ckpt)`` every ``every_n_steps`` optimizer steps
      (never on an epoch's last batch: the epoch-end save follows after validation and the scheduler step)
      and at the end of every epoch (a ``Checkpoint`` subclass, so it runs after the module's epoch-end hook).
    """
    import lightning.pytorch as L
    from lightning.pytorch.callbacks import Checkpoint

    class _DataOrder(L.Callback):
        def __init__(self) -> None:
            self.batches_done = 0

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self.batches_done = 0

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.batches_done = batch_idx + 1

        def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
            checkpoint["ptycho_data_order"] = {"epoch": int(trainer.current_epoch), "batches_done": self.batches_done,
                                               "epoch_done": self.batches_done >= int(trainer.num_training_batches)}

        def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
            state = checkpoint.get("ptycho_data_order")
            if state is None or sampler is None:
                return
            if state["epoch_done"]:
                sampler.set_epoch(state["epoch"] + 1)
            else:
                sampler.resume_at(state["epoch"], state["batches_done"])
                self.batches_done = state["batches_done"]

    class _LastCheckpoint(Checkpoint):
        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if every_n_steps and trainer.global_step % every_n_steps == 0 \
                    and batch_idx + 1 < trainer.num_training_batches:
                trainer.save_checkpoint(last_path, weights_only=False)  # full state: resumable

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            trainer.save_checkpoint(last_path, weights_only=False)

    cbs: list[Any] = [_DataOrder()]
    if last_path is not None:
        cbs.append(_LastCheckpoint())
    return cbs


def resolve_resume_checkpoint(resume_from: Any, output_dir: str | Path) -> Path | None:
    """``resume_from`` -> checkpoint path: None/False -> None; True -> ``<output_dir>/checkpoints/last.ckpt``;
    a directory -> ``<dir>/checkpoints/last.ckpt`` (or ``<dir>/last.ckpt``); a file -> itself.

    Raises:
        FileNotFoundError: the checkpoint does not exist (one line naming the path).
    """
    if resume_from is None or resume_from is False:
        return None
    p = Path(output_dir) if resume_from is True else Path(resume_from)
    if p.is_dir():
        p = p / "checkpoints" / "last.ckpt" if (p / "checkpoints").is_dir() or not (p / "last.ckpt").exists() \
            else p / "last.ckpt"
    if not p.is_file():
        raise FileNotFoundError(f"resume_from: no checkpoint at {p} (expected <output_dir>/checkpoints/last.ckpt)")
    return p


def _atomic_csv_logger(output_dir: Path) -> Any:
    """Lightning's CSVLogger with ``metrics.csv`` and ``hparams.yaml`` rewritten atomically at each flush
    (Lightning appends in place, which a kill can leave with a torn last row; specs/reliability.md §3)."""
    import csv
    import io

    from lightning.pytorch import loggers
    from lightning.pytorch.loggers.csv_logs import ExperimentWriter

    from ptycho.atomic_io import save_text_atomic

    class AtomicExperimentWriter(ExperimentWriter):
        def log_hparams(self, params: dict[str, Any]) -> None:
            import yaml

            self.hparams.update(params)
            save_text_atomic(Path(self.log_dir) / self.NAME_HPARAMS_FILE,
                             yaml.safe_dump(json.loads(json.dumps(self.hparams, default=str)), sort_keys=True))

        def save(self) -> None:
            if not self.metrics:
                return
            self._record_new_keys()
            path = Path(self.metrics_file_path)
            rows: list[dict[str, Any]] = []
            if path.is_file():
                with open(path, newline="") as fh:
                    rows = list(csv.DictReader(fh))
            rows.extend(self.metrics)
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(rows)
            save_text_atomic(path, buf.getvalue())
            self.metrics = []

    class AtomicCSVLogger(loggers.CSVLogger):
        @property
        def experiment(self) -> Any:
            if self._experiment is None:
                self._fs.makedirs(self.root_dir, exist_ok=True)
                self._experiment = AtomicExperimentWriter(log_dir=self.log_dir)
            return self._experiment

    return AtomicCSVLogger(save_dir=str(output_dir), name="lightning_logs")


def _make_logger(backend: str, output_dir: Path, config: Any) -> Any:
    backend = str(backend).lower()
    if backend not in _LOGGER_BACKENDS:
        raise ValueError(f"execution_config.logger_backend: expected one of {_LOGGER_BACKENDS}, found {backend!r}")
    if backend == "none":
        return False
    from lightning.pytorch import loggers

    if backend == "csv":
        return _atomic_csv_logger(output_dir)
    if backend == "tensorboard":
        return loggers.TensorBoardLogger(save_dir=str(output_dir), name="lightning_logs")
    # MLFLOW_TRACKING_URI (MLflow's own convention) wins; otherwise a local file store inside the run folder.
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or f"file:{output_dir / 'mlruns'}"
    return loggers.MLFlowLogger(experiment_name="PtychoPINN", tracking_uri=tracking_uri)


def _monitor_name(requested: str | None, mode: str, has_validation: bool) -> str | None:
    """Resolve the checkpoint/early-stop metric: 'val_loss' -> '<mode>_val_loss' ('<mode>_train_loss' without validation)."""
    if requested in (None, "val_loss", "loss"):
        return f"{mode}_val_loss" if has_validation else f"{mode}_train_loss"
    if requested == "train_loss":
        return f"{mode}_train_loss"
    return requested


def train_cdi_model_torch(
    train_data: Any, test_data: Any, config: Any, *, execution_config: Any = None, resume_from: Any = None
) -> dict[str, Any]:
    """Train a PtychoPINN_Lightning model on grouped data.

    Args:
        train_data, test_data: RawData or PtychoDataContainerTorch (test_data may be None: no validation).
        config: canonical TrainingConfig (model, n_groups, batch_size, nepochs, nphotons, output_dir, ...).
        execution_config: optional runtime knobs (accelerator, devices, deterministic, num_workers,
            learning_rate, scheduler, enable_progress_bar, enable_checkpointing, checkpoint_save_top_k,
            checkpoint_monitor_metric, checkpoint_mode, early_stop_patience, logger_backend,
            checkpoint_every_n_steps (default 50; 0 = only at epoch ends)).
        resume_from: None (fresh run), True (``<output_dir>/checkpoints/last.ckpt``), a run directory or a
            ``.ckpt`` path. Weights, optimizer, scheduler, RNG states, epoch, loss history and the position in
            the epoch's batch order are restored, so the result equals an uninterrupted run bitwise on CPU
            (specs/reliability.md §1). The checkpoint is read with ``torch.load(weights_only=True)``.

    Returns:
        dict with 'history' ({'train_loss': [...], 'val_loss': [...]}, one float per epoch), 'models'
        ('lightning_module', 'diffraction_to_obj'), 'train_container', 'test_container',
        'intensity_scale', 'probe', 'trainer', 'checkpoint_path' (or None), 'seed'.
    """
    import lightning.pytorch as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    train_container = create_ptycho_data_container(train_data, config)
    s = train_container.intensity_scale
    test_container = None
    if test_data is not None:
        # a small validation scan must not fail at gridsize > 1 because n_groups was sized for training
        val_groups = validation_groups(config, len(test_data.diff3d)) if hasattr(test_data, "diff3d") else config.n_groups
        test_container = create_ptycho_data_container(test_data, config, intensity_scale=s, n_groups=val_groups)
    mode = config.torch_loss_mode
    seed = resolve_seed(config)
    deterministic = bool(_exec_get(execution_config, "deterministic", True))
    L.seed_everything(seed, workers=True, verbose=False)
    learning_rate = float(_exec_get(execution_config, "learning_rate", config.learning_rate))
    scheduler = str(_exec_get(execution_config, "scheduler", config.scheduler))
    # MultiStage milestones default to fractions of the run length, so ask for the kwargs of *this* run.
    kwargs_for = getattr(execution_config, "scheduler_kwargs_for", None)
    if callable(kwargs_for):
        scheduler_kwargs = kwargs_for(config.nepochs)
    else:
        scheduler_kwargs = _exec_get(execution_config, "scheduler_kwargs", None)
    module = _lightning_class()(
        config.model,
        config,
        train_container.probe,
        s,
        learning_rate=learning_rate,
        scheduler=scheduler,
        scheduler_kwargs=scheduler_kwargs,
    )
    num_workers = int(_exec_get(execution_config, "num_workers", 0))
    train_loader = build_dataloader(
        train_container, config.batch_size, shuffle=not config.sequential_sampling, seed=seed, num_workers=num_workers
    )
    val_loader = None
    if test_container is not None:
        val_loader = build_dataloader(test_container, config.batch_size, shuffle=False, num_workers=num_workers)

    output_dir = Path(config.output_dir)
    ckpt_path = resolve_resume_checkpoint(resume_from, config.output_dir)
    if ckpt_path is not None:
        load_checkpoint_safely(ckpt_path)  # one-line error for a damaged/foreign file before training starts
    enable_ckpt = bool(_exec_get(execution_config, "enable_checkpointing", True))
    every_n = int(_exec_get(execution_config, "checkpoint_every_n_steps", 50))
    if every_n < 0:
        raise ValueError(f"execution_config.checkpoint_every_n_steps: expected an integer >= 0, found {every_n}")
    last_path = output_dir_last = Path(config.output_dir) / "checkpoints" / "last.ckpt"
    callbacks: list[Any] = _resume_callbacks(train_loader.sampler, last_path if enable_ckpt else None, every_n)
    has_val = val_loader is not None
    monitor = _monitor_name(_exec_get(execution_config, "checkpoint_monitor_metric", None), mode, has_val)
    ckpt_mode = str(_exec_get(execution_config, "checkpoint_mode", "min"))
    checkpoint_cb = None
    top_k = int(_exec_get(execution_config, "checkpoint_save_top_k", 1))
    if enable_ckpt and top_k != 0:
        checkpoint_cb = ModelCheckpoint(
            dirpath=str(output_dir / "checkpoints"),
            monitor=monitor,
            mode=ckpt_mode,
            save_top_k=top_k,
            save_last=False,  # last.ckpt is written by the resume callback (every N steps + epoch ends)
        )
        callbacks.append(checkpoint_cb)
    patience = _exec_get(execution_config, "early_stop_patience", None)
    if patience is not None and has_val:
        callbacks.append(EarlyStopping(monitor=monitor, mode=ckpt_mode, patience=int(patience)))
    progress = bool(_exec_get(execution_config, "enable_progress_bar", config.debug))
    trainer = L.Trainer(
        max_epochs=int(config.nepochs),
        accelerator=str(_exec_get(execution_config, "accelerator", "auto")),
        devices=_exec_get(execution_config, "devices", 1),
        deterministic=deterministic,
        default_root_dir=str(output_dir),
        enable_progress_bar=progress,
        enable_model_summary=bool(config.debug),
        enable_checkpointing=enable_ckpt,
        logger=_make_logger(_exec_get(execution_config, "logger_backend", "csv"), output_dir, config),
        callbacks=callbacks,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        plugins=[_atomic_checkpoint_io()],
    )
    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                ckpt_path=None if ckpt_path is None else str(ckpt_path), weights_only=True)
    module.eval()
    last = output_dir_last
    history = {"train_loss": list(module.loss_history["train"]), "val_loss": list(module.loss_history["val"])}
    return {
        "history": history,
        "models": _models_dict(module, s),
        "train_container": train_container,
        "test_container": test_container,
        "intensity_scale": s,
        "probe": train_container.probe,
        "trainer": trainer,
        "checkpoint_path": last if (enable_ckpt and last.exists()) else None,
        "seed": seed,
        "module_kwargs": {"learning_rate": learning_rate, "scheduler": scheduler, "scheduler_kwargs": scheduler_kwargs},
    }


# ----------------------------------------------------------------------------------------------------
# persistence
# ----------------------------------------------------------------------------------------------------


def save_torch_model_bundle(results: Mapping[str, Any], config: Any, output_dir: str | Path | None = None) -> Path:
    """Write ``<output_dir>/wts.h5.zip`` for the trained module in ``results`` (specs/bundle-format.md)."""
    from ptycho.config.config import config_to_dict

    module = results["models"]["lightning_module"]
    return save_torch_bundle(
        Path(output_dir if output_dir is not None else config.output_dir),
        state_dict=module.state_dict(),
        config_dict=config_to_dict(config),
        probe=results["probe"],
        intensity_scale=results["intensity_scale"],
        module_kwargs=results.get("module_kwargs") or {},
    )


def load_inference_bundle_torch(output_dir_or_bundle: str | Path, **read_kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Load ``wts.h5.zip`` (a run directory or the zip path) -> (models_dict, TrainingConfig).

    models_dict: 'lightning_module' (PtychoPINN_Lightning in eval mode, weights loaded strictly),
    'diffraction_to_obj' (:class:`DiffractionToObject`), plus 'intensity_scale' (float) and 'probe'
    ((N, N) complex64 tensor). The config is the canonical TrainingConfig stored in the bundle.

    Raises:
        BundleNotFoundError / BundleError: see :func:`ptycho_torch.persistence.read_bundle`; also when the
            stored config or weights do not fit the model they describe.
    """
    from ptycho.config.config import config_from_dict

    bundle = read_bundle(output_dir_or_bundle, **read_kwargs)
    try:
        config = config_from_dict(bundle.config)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{bundle.path}: config.json is not a valid canonical config ({exc})") from None
    if not hasattr(config, "nepochs"):
        raise BundleError(f"{bundle.path}: config.json holds a {type(config).__name__}, expected a TrainingConfig")
    kwargs = dict(bundle.module_kwargs)
    probe = torch.from_numpy(bundle.probe)
    module = _lightning_class()(config.model, config, probe, bundle.intensity_scale, **kwargs)
    try:
        module.load_state_dict(bundle.state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BundleError(f"{bundle.path}: weights do not match the stored model config ({first})") from None
    module.eval()
    models = _models_dict(module, bundle.intensity_scale)
    models["intensity_scale"] = bundle.intensity_scale
    models["probe"] = probe
    return models, config


# ----------------------------------------------------------------------------------------------------
# inference + stitching
# ----------------------------------------------------------------------------------------------------


@torch.inference_mode()
def predict_patches(
    module: nn.Module,
    container: PtychoDataContainerTorch,
    *,
    batch_size: int,
    device: torch.device,
    num_workers: int = 0,
) -> torch.Tensor:
    """Run ``predict_step`` over a container in order -> (n, N, N) complex64 on the CPU."""
    module = module.to(device).eval()
    outs: list[torch.Tensor] = []
    loader = build_dataloader(container, batch_size, shuffle=False, num_workers=num_workers)
    for i, batch in enumerate(loader):
        batch = {k: v.to(device) for k, v in batch.items()}
        obj = module.predict_step(batch, i)["object"]
        outs.append(obj.detach().to("cpu", torch.complex64))
    obj = torch.cat(outs, 0)
    if obj.ndim != 3 or obj.shape[0] != len(container):
        raise RuntimeError(f"predict_step: expected 'object' of shape ({len(container)}, N, N), found {tuple(obj.shape)}")
    return obj


def _reassemble_cdi_image_torch(
    test_data: Any,
    config: Any,
    flip_x: bool = False,
    flip_y: bool = False,
    transpose: bool = False,
    M: int = 20,
    *,
    models: Mapping[str, Any] | None = None,
    execution_config: Any = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Predict one object patch per group and stitch them natively in torch.

    Args:
        test_data: RawData or PtychoDataContainerTorch.
        config: TrainingConfig (or InferenceConfig) giving N, gridsize and the grouping.
        flip_x, flip_y, transpose, M: see :func:`ptycho_torch.stitching.stitch_patches`; an M larger
            than N (the guide's ``M=N*8``) is clamped to N with a warning.
        models: 'lightning_module' from training or :func:`load_inference_bundle_torch`. When None the
            bundle is loaded from ``config.model_path`` (InferenceConfig) or ``config.output_dir``.

    Returns:
        (amplitude (H, W) float32, phase (H, W) float32 radians, results) with results
        'obj_tensor_full' (n, N, N, 1) complex64, 'global_offsets' (n, 1, 2, 1) float64 (after the flips),
        'recon_amp', 'recon_phase', 'stitched_obj' (H, W) complex64, 'test_container'.
    """
    from ptycho_torch.stitching import stitch_patches

    if models is None:
        source = getattr(config, "model_path", None) or getattr(config, "output_dir", None)
        if source is None or not resolve_bundle_path(source).is_file():
            raise ValueError(
                "models: none given and no wts.h5.zip found at config.model_path/output_dir "
                f"({source}); pass models=... from load_inference_bundle_torch or a training run"
            )
        models, _ = load_inference_bundle_torch(source)
    if "lightning_module" not in models:
        raise ValueError(f"models: expected a 'lightning_module' entry, found keys {sorted(models)}")
    module = models["lightning_module"]
    s = models.get("intensity_scale")
    if s is None:
        s = _module_intensity_scale(module, closed_form_intensity_scale(getattr(config, "nphotons", 1e9), config.model.N))
    container = create_ptycho_data_container(test_data, config, intensity_scale=float(s))
    if container.channels != config.model.gridsize**2:
        raise ValueError(
            f"test data: expected C = gridsize² = {config.model.gridsize**2} channels, found {container.channels}"
        )
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 1:
        raise ValueError(f"M: expected a positive integer crop side, found {M!r}")
    if M > container.N:
        warnings.warn(f"M={M} exceeds the patch size N={container.N}; stitching whole patches (M=N)", stacklevel=2)
        M = container.N
    batch_size = int(_exec_get(execution_config, "inference_batch_size", getattr(config, "batch_size", 16)))
    num_workers = int(_exec_get(execution_config, "num_workers", 0))
    obj = predict_patches(module, container, batch_size=batch_size, device=resolve_device(execution_config),
                          num_workers=num_workers)
    canvas, offsets = stitch_patches(
        obj, container.global_offsets, M, flip_x=flip_x, flip_y=flip_y, transpose=transpose
    )
    canvas = canvas.detach().cpu()
    amp = canvas.abs().numpy().astype(np.float32)
    phase = canvas.angle().numpy().astype(np.float32)
    results = {
        "obj_tensor_full": obj.numpy()[..., None],
        "global_offsets": offsets.numpy().reshape(-1, 1, 2, 1),
        "recon_amp": amp,
        "recon_phase": phase,
        "stitched_obj": canvas.numpy().astype(np.complex64),
        "test_container": container,
    }
    return amp, phase, results


# ----------------------------------------------------------------------------------------------------
# end to end
# ----------------------------------------------------------------------------------------------------


def run_cdi_example_torch(
    train_data: Any,
    test_data: Any,
    config: Any,
    do_stitching: bool = False,
    *,
    execution_config: Any = None,
    flip_x: bool = False,
    flip_y: bool = False,
    transpose: bool = False,
    M: int = 20,
    resume_from: Any = None,
) -> tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]:
    """Train, save ``<output_dir>/wts.h5.zip`` and optionally stitch the test reconstruction.

    Returns ``(amp, phase, results)``; ``(None, None, results)`` when ``do_stitching`` is False.
    results: everything from :func:`train_cdi_model_torch`, 'bundle_path', 'backend' = 'pytorch', and with
    stitching the keys of :func:`_reassemble_cdi_image_torch`. ``resume_from``: see
    :func:`train_cdi_model_torch` (continue an interrupted run from ``checkpoints/last.ckpt``).

    Raises:
        ValueError: ``do_stitching`` without ``test_data``; ``config.backend`` set to another backend.
    """
    if getattr(config, "backend", "pytorch") not in ("pytorch", "tensorflow"):
        raise ValueError(f"config.backend: expected 'pytorch', found {config.backend!r}")
    if do_stitching and test_data is None:
        raise ValueError("do_stitching=True: expected test_data to reconstruct, found None")
    if isinstance(M, bool) or not isinstance(M, int) or M < 1:
        raise ValueError(f"M: expected a positive integer crop side, found {M!r}")
    results = train_cdi_model_torch(train_data, test_data, config, execution_config=execution_config,
                                    resume_from=resume_from)
    results["bundle_path"] = save_torch_model_bundle(results, config)
    results["backend"] = "pytorch"
    if not do_stitching:
        return None, None, results
    amp, phase, recon = _reassemble_cdi_image_torch(
        results["test_container"],
        config,
        flip_x,
        flip_y,
        transpose,
        M,
        models=results["models"],
        execution_config=execution_config,
    )
    results.update(recon)
    return amp, phase, results


__all__ = [
    "DiffractionToObject",
    "_reassemble_cdi_image_torch",
    "create_ptycho_data_container",
    "load_inference_bundle_torch",
    "predict_patches",
    "load_checkpoint_safely",
    "resolve_device",
    "resolve_resume_checkpoint",
    "resolve_seed",
    "run_cdi_example_torch",
    "save_torch_model_bundle",
    "train_cdi_model_torch",
]
