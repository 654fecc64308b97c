"""Rows C and D of ``teacher_training.py``: the PINN generator trained by a plain PyTorch loop on the teacher's
labels (supervised loss), optionally continued with the module's Poisson loss; run in a worker process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

TRAIN_RECORD = "train_record.json"  # written by the C/D worker next to each wts.h5.zip, after it


def generator_config(train_npz: Path, output_dir: Path, epochs: int, batch_size: int, n_train: int,
                     nphotons: float, n: int = 64) -> Any:
    """The canonical TrainingConfig ``ptycho train --backend pytorch`` builds for row A (its recipe:
    n_filters_scale 1; model_type 'pinn', gridsize 1, the canonical learning rate and scheduler)."""
    from ptycho.config.config import ModelConfig, TrainingConfig

    return TrainingConfig(model=ModelConfig(N=int(n), gridsize=1, n_filters_scale=1, model_type="pinn"),
                          backend="pytorch", train_data_file=Path(train_npz), output_dir=Path(output_dir),
                          n_groups=int(n_train), batch_size=int(batch_size), nepochs=int(epochs),
                          nphotons=float(nphotons))


def complex_l1(module: Any, batch: dict) -> Any:
    """Mean over pixels of |o − y|: o the module's object patch (``forward(...)['object']``, (B, N, N) complex,
    what inference stitches), y = label_amp·exp(i·label_phase) of the batch (B, N, N) (gridsize 1)."""
    from ptycho_torch.forward_model import object_patches

    out = module(batch["X"] * module.intensity_scale, batch["coords_relative"])
    label = object_patches(batch["label_amp"][..., 0], batch["label_phase"][..., 0])
    return (out["object"] - label).abs().mean()


def split_mae(module: Any, batch: dict) -> Any:
    """MAE of amplitude plus MAE of phase against the labels: the loss ``PtychoPINN_Lightning`` gives the
    supervised baseline (row B), here on the PINN generator's amp / phase outputs (``--supervised-loss split``)."""
    from ptycho_torch.physics.losses import amplitude_mae

    out = module(batch["X"] * module.intensity_scale, batch["coords_relative"])
    return amplitude_mae(batch["label_amp"], out["amp"]) + amplitude_mae(batch["label_phase"], out["phase"])


SUPERVISED_LOSSES = {"complex": (complex_l1, "complex L1"), "split": (split_mae, "amplitude MAE + phase MAE")}


def poisson_loss(module: Any, batch: dict) -> Any:
    """The module's own training loss (Poisson NLL for model_type 'pinn')."""
    return module.compute_loss(batch)[0]


def _adam(module: Any) -> Any:
    opt = module.configure_optimizers()
    return opt["optimizer"] if isinstance(opt, dict) else opt


def _epochs(module: Any, loader: Any, opt: Any, first: int, count: int, loss_fn: Any, tag: str) -> list[float]:
    """``count`` epochs (numbered from ``first``: the loader's order of those epochs) -> mean loss per epoch."""
    import torch

    history = []
    module.train()
    for epoch in range(first, first + count):
        loader.sampler.set_epoch(epoch)
        total, seen = 0.0, 0
        for batch in loader:
            loss = loss_fn(module, batch)
            if not bool(torch.isfinite(loss)):
                raise SystemExit(f"teacher_training worker: {tag}: non-finite loss at epoch {epoch}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            n = int(batch["X"].shape[0])
            total, seen = total + float(loss.detach()) * n, seen + n
        history.append(total / seen)
        print(f"{tag}: epoch {epoch}: mean loss {history[-1]:.6g}", flush=True)
    return history


def _save(module: Any, container: Any, config: Any, folder: Path, record: dict) -> None:
    from ptycho.atomic_io import save_json_atomic
    from ptycho_torch.bundle import save_torch_model_bundle

    kwargs = {"learning_rate": module.learning_rate, "scheduler": module.scheduler_name,
              "scheduler_kwargs": dict(module.scheduler_kwargs)}
    save_torch_model_bundle({"models": {"lightning_module": module}, "probe": container.probe,
                             "intensity_scale": container.intensity_scale, "module_kwargs": kwargs}, config, folder)
    save_json_atomic(folder / TRAIN_RECORD, record)  # after the bundle: the marker that it is complete


def train_generator(job: dict) -> None:
    """Worker for rows C and D (see the module docstring). ``job``: teacher_npz, epochs, warm_epochs,
    batch_size, n_train, nphotons, c_dir and/or d_dir (None when that row is not wanted)."""
    import copy

    import lightning.pytorch as L
    import torch

    from ptycho.config.config import effective_seed
    from ptycho.raw_data import RawData
    from ptycho_torch.data import PtychoDataContainerTorch, build_dataloader
    from ptycho_torch.lightning_module import PtychoPINN_Lightning

    epochs, warm = int(job["epochs"]), int(job["warm_epochs"])
    c_dir = None if job.get("c_dir") is None else Path(job["c_dir"])
    d_dir = None if job.get("d_dir") is None else Path(job["d_dir"])
    teacher = Path(job["teacher_npz"])
    n = int(np.load(teacher)["diffraction"].shape[-1])
    config = generator_config(teacher, c_dir or d_dir, epochs, job["batch_size"], job["n_train"], job["nphotons"], n)
    container = PtychoDataContainerTorch.from_raw_data(RawData.from_file(teacher), config)
    if container.Y is None or len(container) != int(job["n_train"]):
        raise SystemExit(f"teacher_training worker: {teacher}: expected labels Y and {job['n_train']} groups")
    seed = effective_seed(config)
    torch.set_flush_denormal(True)  # as PtychoPINN_Lightning.on_fit_start
    L.seed_everything(seed, workers=True, verbose=False)
    module = PtychoPINN_Lightning(config.model, config, container.probe, container.intensity_scale)
    loader = build_dataloader(container, config.batch_size, shuffle=True, seed=seed)
    opt = _adam(module)
    print(f"worker: {len(container)} groups, batch {config.batch_size}, lr {module.learning_rate:g}, "
          f"torch threads {torch.get_num_threads()}", flush=True)
    t0 = time.perf_counter()
    sup_epochs = epochs if c_dir is not None else warm
    sup_fn, sup_name = SUPERVISED_LOSSES[job.get("supervised_loss", "complex")]
    first = _epochs(module, loader, opt, 0, min(warm, sup_epochs), sup_fn, f"C ({sup_name})")
    t_warm = time.perf_counter() - t0
    snapshot = copy.deepcopy(module.state_dict()) if d_dir is not None else None
    history = first + _epochs(module, loader, opt, warm, sup_epochs - warm, sup_fn, f"C ({sup_name})")
    if c_dir is not None:
        _save(module, container, generator_config(teacher, c_dir, epochs, config.batch_size, len(container),
                                                  config.nphotons, n), c_dir,
              {"seconds": time.perf_counter() - t0, "loss": sup_name, "history": history})
    if d_dir is not None:
        t1 = time.perf_counter()
        d_config = generator_config(teacher, d_dir, epochs, config.batch_size, len(container), config.nphotons, n)
        d_module = PtychoPINN_Lightning(d_config.model, d_config, container.probe, container.intensity_scale)
        d_module.load_state_dict(snapshot)
        poisson = _epochs(d_module, loader, _adam(d_module), warm, epochs - warm, poisson_loss, "D (Poisson NLL)")
        _save(d_module, container, d_config, d_dir,
              {"seconds": t_warm + time.perf_counter() - t1, "seconds_warm": t_warm, "warm_epochs": warm,
               "loss": f"{sup_name} for {warm} epochs, then Poisson NLL", "history_warm": history[:warm],
               "history_poisson": poisson})
