"""Training half of the PyTorch workflow (specs/torch-workflow.md §2-§4): containers, seeded loaders,
Lightning ``Trainer.fit`` with resumable checkpoints and the chosen logger."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptycho.config.config import check_implemented, validation_groups
from ptycho.runtime.console import quiet_third_party_noise
from ptycho_torch.data import build_dataloader, create_ptycho_data_container
from ptycho_torch.denormals import FlushDenormals
from ptycho_torch.generators.refined_input import ensure_refined_estimate
from ptycho_torch.workflows.execution import exec_get, pin_memory_for, resolve_seed, trainer_precision
from ptycho_torch.workflows.models import models_dict
from ptycho_torch.workflows.results import TrainingResults
from ptycho_torch.workflows.resume import load_checkpoint_safely, resolve_resume_checkpoint
from ptycho_torch.workflows.spawn import release_process_group

__all__ = ["lightning_strategy", "monitor_name", "train_cdi_model_torch"]


def lightning_strategy(name: str) -> Any:
    """The Trainer strategy for ``PyTorchExecutionConfig.strategy`` (specs/scaling.md §1).

    'auto' stays 'auto'. 'ddp' becomes Lightning's ``DDPStrategy`` (processes launched by Lightning, by
    torchrun or by SLURM) and 'ddp_spawn' :class:`ptycho_torch.workflows.spawn.SpawnDDPStrategy` (workers
    spawned from this process), both without buffer broadcasts: the model's buffers (probe, masks, fixed
    intensity scale) are constants, identical on every rank.
    """
    if name not in ("ddp", "ddp_spawn"):
        return name
    from lightning.pytorch.strategies import DDPStrategy
    if name == "ddp_spawn":
        from ptycho_torch.workflows.spawn import SpawnDDPStrategy

        return SpawnDDPStrategy(broadcast_buffers=False)

    return DDPStrategy(start_method="popen", broadcast_buffers=False)


def monitor_name(requested: str | None, mode: str, has_validation: bool) -> str | None:
    """Resolve the checkpoint/early-stop metric: 'val_loss' -> '<mode>_val_loss' ('<mode>_train_loss' without validation)."""
    if requested in (None, "val_loss", "loss"):
        return f"{mode}_val_loss" if has_validation else f"{mode}_train_loss"
    if requested == "train_loss":
        return f"{mode}_train_loss"
    return requested



def train_cdi_model_torch(
    train_data: Any, test_data: Any, config: Any, *, execution_config: Any = None, resume_from: Any = None,
    callbacks: Sequence[Any] = (), module_class: type | None = None,
) -> TrainingResults:
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
        callbacks: extra Lightning callbacks, appended after the workflow's own (e.g. the v2 API's config
            recorder and ptychodus's loss collector; specs/ptychodus-torch.md).
        module_class: the LightningModule class to train (default ``PtychoPINN_Lightning``; same constructor).
            With ``config.teacher == 'refine'`` and no ``module_class`` the run is handed to
            :func:`ptycho_torch.teacher.train_with_teacher` (specs/torch-training.md §8), which comes back here
            with its labelled container and ``TeacherPINN_Lightning``.

    Returns:
        :class:`~ptycho_torch.workflows.results.TrainingResults` (also a mapping with the seed guide's keys):
        'history' ({'train_loss': [...], 'val_loss': [...]}, one float per epoch), 'models'
        ('lightning_module', 'diffraction_to_obj'), 'train_container', 'test_container',
        'intensity_scale', 'probe', 'trainer', 'checkpoint_path' (or None), 'seed', 'module_kwargs'.
    """
    import lightning.pytorch as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from ptycho_torch.model import PtychoPINN_Lightning
    from ptycho_torch.workflows.checkpoints import AtomicCheckpointIO, resume_callbacks
    from ptycho_torch.workflows.loggers import make_logger
    from ptycho_torch.workflows.progress import RankSafeProgressBar, progress_callbacks
    from ptycho_torch.workflows.safe_stop import safe_stop
    from ptycho_torch.workflows.sigterm import QuietSigtermWhenPeersAreGone

    check_implemented(config)
    if module_class is None and getattr(config, "teacher", "none") != "none":
        from ptycho_torch.teacher.workflow import train_with_teacher

        return train_with_teacher(train_data, test_data, config, train=train_cdi_model_torch,
                                  execution_config=execution_config, resume_from=resume_from, callbacks=callbacks)
    module_class = module_class or PtychoPINN_Lightning
    train_container = create_ptycho_data_container(train_data, config)
    s = train_container.intensity_scale
    test_container = None
    if test_data is not None:
        # a small validation scan must not fail at gridsize > 1 because n_groups was sized for training
        val_groups = validation_groups(config, len(test_data.diff3d)) if hasattr(test_data, "diff3d") else config.n_groups
        test_container = create_ptycho_data_container(test_data, config, intensity_scale=s, n_groups=val_groups)
    seed = resolve_seed(config)
    deterministic = bool(exec_get(execution_config, "deterministic", True))
    L.seed_everything(seed, workers=True, verbose=False)
    learning_rate = float(exec_get(execution_config, "learning_rate", config.learning_rate))
    scheduler = str(exec_get(execution_config, "scheduler", config.scheduler))
    # MultiStage milestones default to fractions of the run length, so ask for the kwargs of *this* run.
    kwargs_for = getattr(execution_config, "scheduler_kwargs_for", None)
    if callable(kwargs_for):
        scheduler_kwargs = kwargs_for(config.nepochs)
    else:
        scheduler_kwargs = exec_get(execution_config, "scheduler_kwargs", None)
    module = module_class(
        config.model,
        config,
        train_container.probe,
        s,
        learning_rate=learning_rate,
        scheduler=scheduler,
        scheduler_kwargs=scheduler_kwargs,
    )
    # the refined scan as the generator's input (specs/network.md §8.3): computed here unless the teacher did
    for container, data in ((train_container, train_data), (test_container, test_data)):
        ensure_refined_estimate(container, data, module, config, execution_config)
    num_workers = int(exec_get(execution_config, "num_workers", 0))
    pin = pin_memory_for(str(exec_get(execution_config, "accelerator", "auto")))
    train_loader = build_dataloader(
        train_container, config.batch_size, shuffle=not config.sequential_sampling, seed=seed, num_workers=num_workers,
        pin_memory=pin,
    )
    val_loader = None
    if test_container is not None:
        val_loader = build_dataloader(test_container, config.batch_size, shuffle=False, num_workers=num_workers,
                                      pin_memory=pin)

    output_dir = Path(config.output_dir)
    ckpt_path = resolve_resume_checkpoint(resume_from, config.output_dir)
    if ckpt_path is not None:
        load_checkpoint_safely(ckpt_path)  # one-line error for a damaged/foreign file before training starts
    enable_ckpt = bool(exec_get(execution_config, "enable_checkpointing", True))
    every_n = int(exec_get(execution_config, "checkpoint_every_n_steps", 50))
    if every_n < 0:
        raise ValueError(f"execution_config.checkpoint_every_n_steps: expected an integer >= 0, found {every_n}")
    last_path = output_dir_last = Path(config.output_dir) / "checkpoints" / "last.ckpt"
    callbacks = [*resume_callbacks(train_loader.sampler, last_path if enable_ckpt else None, every_n), FlushDenormals(),
                 QuietSigtermWhenPeersAreGone(), *callbacks]
    has_val = val_loader is not None
    # the module's own loss prefix: 'mae' for the supervised baseline whatever torch_loss_mode says
    monitor = monitor_name(exec_get(execution_config, "checkpoint_monitor_metric", None), module.loss_prefix, has_val)
    ckpt_mode = str(exec_get(execution_config, "checkpoint_mode", "min"))
    checkpoint_cb = None
    top_k = int(exec_get(execution_config, "checkpoint_save_top_k", 1))
    if enable_ckpt and top_k != 0:
        checkpoint_cb = ModelCheckpoint(
            dirpath=str(output_dir / "checkpoints"),
            monitor=monitor,
            mode=ckpt_mode,
            save_top_k=top_k,
            save_last=False,  # last.ckpt is written by the resume callback (every N steps + epoch ends)
        )
        callbacks.append(checkpoint_cb)
    patience = exec_get(execution_config, "early_stop_patience", None)
    if patience is not None and has_val:
        callbacks.append(EarlyStopping(monitor=monitor, mode=ckpt_mode, patience=int(patience)))
    progress = bool(exec_get(execution_config, "enable_progress_bar", config.debug))
    strategy = str(exec_get(execution_config, "strategy", "auto"))
    devices, num_nodes = exec_get(execution_config, "devices", 1), int(exec_get(execution_config, "num_nodes", 1))
    if strategy != "auto" and isinstance(devices, int) and config.batch_size % (devices * num_nodes):
        # checked before any process is launched; the sampler repeats the check with the real world size
        raise ValueError(f"batch_size: expected a multiple of the {devices * num_nodes} training processes "
                         f"(devices x num_nodes share the global batch equally), found {config.batch_size}")
    if progress:  # a bar on a terminal, one line per epoch otherwise; same collectives on every rank
        callbacks.extend(progress_callbacks(config.nepochs, config.max_time_s))
        progress = any(isinstance(c, RankSafeProgressBar) for c in callbacks)
    # last: a stop signal is acted on after every checkpoint callback of the step or epoch (reliability §8)
    callbacks.append(safe_stop(last_path if enable_ckpt else None, every_n))
    quiet_third_party_noise()  # Lightning's litlogger advert and its LeafSpec deprecation warning
    trainer = L.Trainer(
        max_epochs=-1 if config.nepochs is None else int(config.nepochs),  # -1: until max_time (Lightning)
        strategy=lightning_strategy(strategy),
        precision=trainer_precision(exec_get(execution_config, "precision", "32")),
        num_nodes=num_nodes,
        use_distributed_sampler=False,  # the epoch-seeded sampler shards global batches itself
        max_time=config.max_time,
        accelerator=str(exec_get(execution_config, "accelerator", "auto")),
        devices=devices,
        deterministic=deterministic,
        default_root_dir=str(output_dir),
        enable_progress_bar=progress,
        enable_model_summary=bool(config.debug),
        enable_checkpointing=enable_ckpt,
        logger=make_logger(exec_get(execution_config, "logger_backend", "csv"), output_dir),
        callbacks=callbacks,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        plugins=[AtomicCheckpointIO()],
    )
    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader,
                ckpt_path=None if ckpt_path is None else str(ckpt_path), weights_only=True)
    # a DDP process started by Lightning's launcher or torchrun ('ddp') closes its connections to the others
    # while Python still runs: left to interpreter exit, gloo's threads could abort the process (SIGABRT,
    # "terminate called without an active exception") after a successful run. No-op without a process group.
    release_process_group()
    last = output_dir_last
    module.eval()
    history = {"train_loss": list(module.loss_history["train"]), "val_loss": list(module.loss_history["val"])}
    return TrainingResults(
        history=history, models=models_dict(module, s), train_container=train_container,
        test_container=test_container, intensity_scale=s, probe=train_container.probe, trainer=trainer,
        checkpoint_path=last if (enable_ckpt and last.exists()) else None, seed=seed,
        module_kwargs={"learning_rate": learning_rate, "scheduler": scheduler, "scheduler_kwargs": scheduler_kwargs},
    )
