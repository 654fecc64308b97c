"""Inference half of the PyTorch workflow (specs/torch-workflow.md §6): batched prediction of object patches
and their native torch stitching into one object."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ptycho.physics import intensity_scale
from ptycho.physics.patches import canvas_origin
from ptycho_torch.bundle import load_inference_bundle_torch, resolve_bundle_path
from ptycho_torch.data import (
    PtychoDataContainerTorch,
    build_dataloader,
    create_ptycho_data_container,
)
from ptycho_torch.denormals import denormals_flushed
from ptycho_torch.generators.refined_input import ensure_refined_estimate, place_on_grid
from ptycho_torch.lazy_data import LazyGroupedStack
from ptycho_torch.stitching import StreamingStitcher, stitch_patches
from ptycho_torch.workflows.execution import autocast_for, exec_get, resolve_device
from ptycho_torch.workflows.models import module_intensity_scale
from ptycho_torch.workflows.results import ReconstructionResults

__all__ = ["BatchCallback", "batch_count", "predict_patches", "reassemble_cdi_image_torch", "stitch_offsets",
           "stream_stitch"]

#: ``on_batch(done, total)``: called after each prediction batch with the batches done and the batches in all
BatchCallback = Callable[[int, int], None]


def stitch_offsets(container: PtychoDataContainerTorch) -> torch.Tensor:
    """(n·C, 1, 2, 1) float64 positions [x, y] of the patches the canvas is stitched from (§6): the group
    centres ``global_offsets`` at gridsize 1; at C = gridsize² > 1 every member's own scan position, group-major
    (row g·C + c is member c of group g): centre − ``coords_relative``."""
    centres = container.global_offsets.to(torch.float64)
    channels = int(container.coords_relative.shape[-1])
    if channels == 1:
        return centres
    members = centres - container.coords_relative.to(torch.float64)  # (n, 1, 2, C)
    return members[:, 0].permute(0, 2, 1).reshape(-1, 1, 2, 1).contiguous()


def _batch_patches(module: nn.Module, batch: dict, i: int, channels: int, corrections: bool = False) -> torch.Tensor:
    """The patches one batch adds to the canvas: (B, N, N) trimmed objects at gridsize 1, (B·C, N, N) every
    member's patch (``predict_step``'s 'members', group-major) at C > 1; with ``corrections`` each member's
    patch minus its refined estimate (the batch's 'estimate', specs/network.md §8.3)."""
    out = module.predict_step(batch, i)
    if corrections:
        d = out["members"] - _members(batch["estimate"]).to(out["members"].dtype)
        return d.reshape(-1, *d.shape[-2:])
    if channels == 1:
        return out["object"]
    members = out["members"]
    return members.reshape(-1, *members.shape[-2:])


@torch.inference_mode()
def predict_patches(
    module: nn.Module,
    container: PtychoDataContainerTorch,
    *,
    batch_size: int,
    device: torch.device,
    num_workers: int = 0,
    precision: str = "32",
    on_batch: BatchCallback | None = None,
) -> torch.Tensor:
    """Run ``predict_step`` over a container in order -> the patches to stitch, complex64 on the CPU: (n, N, N)
    at gridsize 1, (n·C, N, N) every group member's patch at C > 1, in the order of :func:`stitch_offsets` (§6;
    ``precision``: the
    network's autocast, :func:`ptycho_torch.workflows.execution.autocast_for`; ``on_batch(done, total)`` after
    each batch, :func:`batch_count` batches in all)."""
    module = module.to(device).eval()
    outs: list[torch.Tensor] = []
    total = batch_count(len(container), batch_size)
    channels = container.channels
    for i, batch in _device_batches(container, batch_size, device, num_workers):
        with autocast_for(device, precision), denormals_flushed(device):
            obj = _batch_patches(module, batch, i, channels)
        outs.append(obj.detach().to("cpu", torch.complex64))
        if on_batch is not None:
            on_batch(i + 1, total)
    obj = torch.cat(outs, 0)
    if obj.ndim != 3 or obj.shape[0] != len(container) * channels:
        raise RuntimeError(f"predict_step: expected {len(container) * channels} patches (N, N), found {tuple(obj.shape)}")
    return obj


def _members(estimate: torch.Tensor) -> torch.Tensor:
    """(B, N, N, C) channel-last estimates -> (B, C, N, N), the layout of ``predict_step``'s 'members'."""
    return estimate.permute(0, 3, 1, 2)


def refined_members(container: PtychoDataContainerTorch) -> torch.Tensor:
    """(n·C, N, N) complex64: every member's refined estimate in the order of :func:`stitch_offsets`."""
    est = _members(container.estimate)
    return est.reshape(-1, *est.shape[-2:]).to(torch.complex64)


def batch_count(n: int, batch_size: int) -> int:
    """Batches of ``batch_size`` covering ``n`` items (the last one may be short): ``ceil(n / batch_size)``."""
    return -(-int(n) // max(1, int(batch_size)))


def _device_batches(container: PtychoDataContainerTorch, batch_size: int, device: torch.device, num_workers: int):
    """(index, batch on ``device``) in order; page-locked host batches and asynchronous copies on CUDA."""
    cuda = device.type == "cuda"
    loader = build_dataloader(container, batch_size, shuffle=False, num_workers=num_workers, pin_memory=cuda)
    for i, batch in enumerate(loader):
        yield i, {k: v.to(device, non_blocking=cuda) for k, v in batch.items()}


@torch.inference_mode()
def stream_stitch(module: nn.Module, container: PtychoDataContainerTorch, M: int, *, batch_size: int,
                  device: torch.device, num_workers: int = 0, flip_x: bool = False, flip_y: bool = False,
                  transpose: bool = False, precision: str = "32", corrections: bool = False,
                  on_batch: BatchCallback | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Predict batch by batch and add each batch to the canvas at once (specs/scaling.md §3): peak memory is
    the canvas plus one batch, not every patch. Returns (canvas (H, W) complex64, offsets (n·C, 2) float64
    after the flips), as :func:`ptycho_torch.stitching.stitch_patches` would; ``on_batch`` as in
    :func:`predict_patches`; ``corrections`` as in :func:`_batch_patches`."""
    module = module.to(device).eval()
    stitcher = StreamingStitcher(stitch_offsets(container), container.N, M, flip_x=flip_x, flip_y=flip_y,
                                 transpose=transpose, device=device)
    channels = container.channels
    for i, batch in _device_batches(container, batch_size, device, num_workers):
        with autocast_for(device, precision), denormals_flushed(device):
            obj = _batch_patches(module, batch, i, channels, corrections)
        rows = (batch["index"].to(torch.int64)[:, None] * channels + torch.arange(channels, device=obj.device)).reshape(-1)
        stitcher.add(obj, rows)
        if on_batch is not None:
            on_batch(i + 1, batch_count(len(container), batch_size))
    if stitcher.added != len(container) * channels:
        raise RuntimeError(f"stream_stitch: expected {len(container) * channels} patches, stitched {stitcher.added}")
    return stitcher.result(), stitcher.offsets


def reassemble_cdi_image_torch(test_data: Any, config: Any, flip_x: bool = False, flip_y: bool = False,
                               transpose: bool = False, M: int = 20, *, models: Mapping[str, Any] | None = None,
                               execution_config: Any = None,
                               on_batch: BatchCallback | None = None) -> tuple[np.ndarray, np.ndarray, ReconstructionResults]:
    """Predict the object patches of a scan and stitch them natively in torch: one per group at gridsize 1,
    every group member's own patch at its own position at gridsize > 1 (specs/torch-workflow.md §6).

    Args:
        test_data: RawData or PtychoDataContainerTorch.
        config: TrainingConfig (or InferenceConfig) giving N, gridsize and the grouping.
        flip_x, flip_y, transpose, M: see :func:`ptycho_torch.stitching.stitch_patches`; an M larger
            than N (the guide's ``M=N*8``) is clamped to N with a warning.
        models: 'lightning_module' from training or :func:`load_inference_bundle_torch`. When None the
            bundle is loaded from ``config.model_path`` (InferenceConfig) or ``config.output_dir``.
        on_batch: called as ``on_batch(batches done, batches in all)`` after each prediction batch (a
            progress display, :class:`ptycho.runtime.progress.StepProgress`), or None.

    Returns:
        (amplitude (H, W) float32, phase (H, W) float32 radians, results) with results a
        :class:`~ptycho_torch.workflows.results.ReconstructionResults` (also a mapping):
        'obj_tensor_full' (n·C, N, N, 1) complex64, the stitched patches (absent for a scan read from disk,
        whose patches are stitched batch by batch, :func:`stream_stitch`), 'global_offsets' (n·C, 1, 2, 1)
        float64 their positions after the flips (:func:`stitch_offsets`; C = 1 at gridsize 1),
        'recon_amp', 'recon_phase', 'stitched_obj' (H, W) complex64, 'test_container'.
    """
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
        s = module_intensity_scale(module, intensity_scale(getattr(config, "nphotons", 1e9), config.model.N))
    container = create_ptycho_data_container(test_data, config, intensity_scale=float(s))
    ensure_refined_estimate(container, test_data, module, config, execution_config)  # specs/network.md §8.3
    if container.channels != config.model.gridsize**2:
        raise ValueError(
            f"test data: expected C = gridsize² = {config.model.gridsize**2} channels, found {container.channels}"
        )
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 1:
        raise ValueError(f"M: expected a positive integer crop side, found {M!r}")
    if M > container.N:
        warnings.warn(f"M={M} exceeds the patch size N={container.N}; stitching whole patches (M=N)", stacklevel=2)
        M = container.N
    batch_size = int(exec_get(execution_config, "inference_batch_size", getattr(config, "batch_size", 16)))
    num_workers = int(exec_get(execution_config, "num_workers", 0))
    device = resolve_device(execution_config)
    precision = str(exec_get(execution_config, "precision", "32"))
    # the refined scan as input (specs/network.md §8.3): the canvas is the refined object plus the network's
    # stitched corrections (the object itself is not blurred by the stitch); not with the alignment transforms
    refined = getattr(container, "refined", None) if not (flip_x or flip_y or transpose) else None
    if isinstance(container.X, LazyGroupedStack):  # a scan larger than memory: never hold every patch
        obj = None
        canvas, offsets = stream_stitch(module, container, M, batch_size=batch_size, device=device,
                                        num_workers=num_workers, flip_x=flip_x, flip_y=flip_y, transpose=transpose,
                                        precision=precision, corrections=refined is not None, on_batch=on_batch)
    else:
        obj = predict_patches(module, container, batch_size=batch_size, device=device, num_workers=num_workers,
                              precision=precision, on_batch=on_batch)
        stitched = obj if refined is None else obj - refined_members(container)
        canvas, offsets = stitch_patches(
            stitched, stitch_offsets(container), M, flip_x=flip_x, flip_y=flip_y, transpose=transpose
        )
    canvas = canvas.detach().cpu()
    if refined is not None:
        grid = canvas_origin(offsets.cpu().numpy(), canvas.shape[0], M)
        canvas = canvas + place_on_grid(refined.object, refined.origin_xy, grid, tuple(canvas.shape))
    amp = canvas.abs().numpy().astype(np.float32)
    phase = canvas.angle().numpy().astype(np.float32)
    results = ReconstructionResults(
        obj_tensor_full=None if obj is None else obj.numpy()[..., None],
        global_offsets=offsets.cpu().numpy().reshape(-1, 1, 2, 1),
        recon_amp=amp, recon_phase=phase, stitched_obj=canvas.numpy().astype(np.complex64), test_container=container,
    )
    return amp, phase, results
