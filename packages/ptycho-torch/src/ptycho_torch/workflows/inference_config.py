"""The canonical ``InferenceConfig`` of a trained PyTorch bundle, for library callers (specs/torch-cli.md §4).

Inference, refinement's fine-tuned start (``ptycho_torch.refine.bundle_start``), the v2 API
(``ptycho_torch.api.base_api``) and the benchmarks build the config a bundle is run with the same way: the model
architecture and grouping knobs come from the bundle's stored canonical TrainingConfig, the paths and the number
of groups from the caller (``ptycho_bridge.flag_configs.inference_config``). A rejected value is one ValueError
line; the command lines report it with exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptycho_bridge.flag_configs import FieldValues, inference_config

__all__ = ["build_inference_config"]


def build_inference_config(training_config: Any, model_path: Path, test_data: Path, output_dir: Path,
                           n_groups: int | None) -> Any:
    """Canonical ``InferenceConfig`` for a bundle's stored canonical TrainingConfig.

    Args:
        training_config: the bundle's stored canonical ``TrainingConfig`` (model and grouping knobs:
            N, gridsize, neighbor_count, subsample_seed, ...).
        model_path: the bundle (a training output folder or its ``wts.h5.zip``).
        test_data: the scan NPZ to reconstruct.
        output_dir: the inference output folder (recorded in the config; nothing is written here).
        n_groups: number of groups (``--n-groups``, the guide's ``--n_images``); None = every scan position.
    Returns:
        ``ptycho.config.config.InferenceConfig``.
    Raises:
        ValueError: one line naming the rejected field, what was expected and what was found.
    """
    values = FieldValues(inference={"model_path": model_path, "test_data_file": test_data, "output_dir": output_dir,
                                    "n_groups": n_groups})
    try:
        return inference_config(values, training_config, backend="pytorch")
    except (ValueError, TypeError) as exc:
        raise ValueError(" ".join(str(exc).split())) from None
