"""Runtime knobs of the PyTorch workflows (specs/torch-workflow.md §1): reading an execution config and
choosing the inference device.

An execution config is a ``ptycho_bridge.PyTorchExecutionConfig``, a mapping, a namespace or None; a field
that is absent or None takes the caller's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ptycho.config.config import effective_seed

__all__ = ["autocast_for", "exec_get", "pin_memory_for", "resolve_device", "resolve_seed", "trainer_precision"]

_AUTOCAST_DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def exec_get(execution_config: Any, name: str, default: Any = None) -> Any:
    """``execution_config.<name>`` (attribute or key); ``default`` when absent or None."""
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
    acc = str(exec_get(execution_config, "accelerator", "auto")).lower()
    if acc in ("cuda", "gpu"):
        if not torch.cuda.is_available():
            raise ValueError(f"execution_config.accelerator: {acc!r} requested but no CUDA device is available")
        return torch.device("cuda")
    if acc == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if acc == "cpu":
        return torch.device("cpu")
    raise ValueError(f"execution_config.accelerator: expected 'auto', 'cpu', 'cuda' or 'gpu', found {acc!r}")


def trainer_precision(precision: str) -> str:
    """Lightning's precision name for ``PyTorchExecutionConfig.precision`` ('32' -> '32-true')."""
    return "32-true" if str(precision) == "32" else str(precision)


def autocast_for(device: torch.device, precision: str) -> Any:
    """The autocast region of plain (non-Trainer) inference: the network in bf16/fp16 for a mixed
    ``precision``, disabled for '32'. The model's physics leaves it itself (specs/scaling.md §4)."""
    dtype = _AUTOCAST_DTYPES.get(str(precision))
    return torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None)


def pin_memory_for(accelerator: str) -> bool:
    """Page-locked DataLoader batches (faster, asynchronous host-to-GPU copies) when the run uses CUDA."""
    acc = str(accelerator).lower()
    return acc in ("cuda", "gpu") or (acc == "auto" and torch.cuda.is_available())
