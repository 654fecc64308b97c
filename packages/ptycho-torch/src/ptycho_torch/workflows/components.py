"""PyTorch workflow entry points (normative text: specs/torch-workflow.md), the names the seed guide and
ptychodus import. Each job lives in its own module of :mod:`ptycho_torch.workflows`:

* :mod:`.training` - :func:`train_cdi_model_torch` (containers, seeded loaders, Trainer.fit);
* :mod:`ptycho_torch.bundle` - :func:`save_torch_model_bundle`, :func:`load_inference_bundle_torch` (``wts.h5.zip``);
* :mod:`.reassembly` - :func:`predict_patches`, :func:`reassemble_cdi_image_torch` (inference + stitching);
* :mod:`.results` - :class:`TrainingResults`, :class:`ReconstructionResults` (typed, and mappings with the
  seed guide's keys);
* :mod:`.models`, :mod:`.execution`, :mod:`.resume`, :mod:`.checkpoints`, :mod:`.loggers` - the pieces those use.

This module adds :func:`run_cdi_example_torch` (train -> bundle -> optional stitching) and keeps the seed
guide's name ``_reassemble_cdi_image_torch`` (= :func:`reassemble_cdi_image_torch`). Nothing here imports
tensorflow or keras.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ptycho_torch.bundle import load_inference_bundle_torch, save_torch_model_bundle
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.workflows.execution import resolve_device, resolve_seed
from ptycho_torch.workflows.models import DiffractionToObject
from ptycho_torch.workflows.reassembly import predict_patches, reassemble_cdi_image_torch
from ptycho_torch.workflows.results import ReconstructionResults, TrainingResults
from ptycho_torch.workflows.resume import load_checkpoint_safely, resolve_resume_checkpoint
from ptycho_torch.workflows.training import train_cdi_model_torch

#: the seed guide's spelling (pytorch-workflow-guide.md §7); the same function as reassemble_cdi_image_torch
_reassemble_cdi_image_torch = reassemble_cdi_image_torch


def run_cdi_example_torch(train_data: Any, test_data: Any, config: Any, do_stitching: bool = False, *,
                          execution_config: Any = None, flip_x: bool = False, flip_y: bool = False,
                          transpose: bool = False, M: int = 20, resume_from: Any = None,
                          ) -> tuple[np.ndarray | None, np.ndarray | None, TrainingResults]:
    """Train, save ``<output_dir>/wts.h5.zip`` and optionally stitch the test reconstruction.

    Returns ``(amp, phase, results)``; ``(None, None, results)`` when ``do_stitching`` is False.
    results: the :class:`TrainingResults` of :func:`train_cdi_model_torch` (a mapping with the seed guide's
    keys) with 'bundle_path', 'backend' = 'pytorch', and with stitching the keys of
    :func:`reassemble_cdi_image_torch`. ``resume_from``: see :func:`train_cdi_model_torch` (continue an
    interrupted run from ``checkpoints/last.ckpt``).

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
    trainer = results.get("trainer")
    # in a DDP run every process trains; only the first (global rank 0) writes the bundle (specs/scaling.md §1)
    is_zero = bool(getattr(trainer, "is_global_zero", True))
    results.bundle_path = save_torch_model_bundle(results, config) if is_zero else None
    results.backend = "pytorch"
    if not do_stitching:
        return None, None, results
    amp, phase, recon = reassemble_cdi_image_torch(results.test_container, config, flip_x, flip_y, transpose, M,
                                                   models=results.models, execution_config=execution_config)
    results.update(recon)
    return amp, phase, results


__all__ = [
    "DiffractionToObject",
    "ReconstructionResults",
    "TrainingResults",
    "_reassemble_cdi_image_torch",
    "create_ptycho_data_container",
    "load_inference_bundle_torch",
    "predict_patches",
    "load_checkpoint_safely",
    "reassemble_cdi_image_torch",
    "resolve_device",
    "resolve_resume_checkpoint",
    "resolve_seed",
    "run_cdi_example_torch",
    "save_torch_model_bundle",
    "train_cdi_model_torch",
]
