"""Saving and loading the trained model of the PyTorch workflow as ``wts.h5.zip`` (specs/bundle-format.md,
specs/torch-workflow.md §5). The file format itself is :mod:`ptycho_torch.persistence`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ptycho_torch.persistence import BundleError, read_bundle, save_torch_bundle
from ptycho_torch.workflows.models import models_dict

__all__ = ["load_inference_bundle_torch", "save_torch_model_bundle"]


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
    from ptycho_torch.model import PtychoPINN_Lightning

    bundle = read_bundle(output_dir_or_bundle, **read_kwargs)
    try:
        config = config_from_dict(bundle.config)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{bundle.path}: config.json is not a valid canonical config ({exc})") from None
    if not hasattr(config, "nepochs"):
        raise BundleError(f"{bundle.path}: config.json holds a {type(config).__name__}, expected a TrainingConfig")
    kwargs = dict(bundle.module_kwargs)
    probe = torch.from_numpy(bundle.probe)
    module = PtychoPINN_Lightning(config.model, config, probe, bundle.intensity_scale, **kwargs)
    try:
        module.load_state_dict(bundle.state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BundleError(f"{bundle.path}: weights do not match the stored model config ({first})") from None
    module.eval()
    models = models_dict(module, bundle.intensity_scale)
    models["intensity_scale"] = bundle.intensity_scale
    models["probe"] = probe
    return models, config
