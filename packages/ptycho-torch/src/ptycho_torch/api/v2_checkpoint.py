"""The v2 configs inside a Lightning checkpoint (specs/ptychodus-torch.md §4): written as plain data by a
callback during training, read back with ``torch.load(weights_only=True)``; never pickle.

A checkpoint written without the callback (a run of this repository's own workflow) still yields v2 configs:
they are derived from the canonical configs the Lightning module saves as its hyper-parameters.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import lightning.pytorch as L

from ptycho.config.config import config_from_dict
from ptycho_bridge import v2_config as v2
from ptycho_bridge.bridge import from_training_config
from ptycho_bridge.v2_convert import from_native
from ptycho_torch.workflows.resume import load_checkpoint_safely

__all__ = ["V2_KEY", "V2ConfigRecorder", "read_v2_configs", "v2_from_canonical"]

#: checkpoint key holding {'DataConfig': {...}, 'ModelConfig': {...}, 'TrainingConfig': {...}, ...}
V2_KEY = "ptycho_v2_configs"
_ORDER = ("DataConfig", "ModelConfig", "TrainingConfig", "InferenceConfig")


class V2ConfigRecorder(L.Callback):
    """Adds the run's v2 configs, as plain data (:func:`ptycho_bridge.v2_config.plain`), to every checkpoint."""

    def __init__(self, configs: dict[str, Any]) -> None:
        super().__init__()
        self._plain = {name: v2.plain(cfg) for name, cfg in configs.items() if cfg is not None}

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        checkpoint[V2_KEY] = copy.deepcopy(self._plain)


def v2_from_canonical(hparams: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """v2 (data, model, training, inference) equivalent to the canonical configs in a module's hyper-parameters:
    canonical -> native through the mapping table (:func:`ptycho_bridge.bridge.from_training_config`), native -> v2
    through the generated routes (:func:`ptycho_bridge.v2_convert.from_native`). The execution-only settings a
    checkpoint does not record (device, workers, warm-up, ...) read as ``PyTorchExecutionConfig``'s defaults."""
    model = config_from_dict(hparams["model_config"], "ModelConfig")
    training = dataclasses.replace(config_from_dict(hparams["training_config"], "TrainingConfig"), model=model)
    native = from_training_config(training)
    return from_native(native.data, native.model, native.training, native.execution)


def read_v2_configs(path: str | Path) -> tuple[Any, Any, Any, Any]:
    """(data, model, training, inference) v2 configs of a Lightning checkpoint; None for each one absent.

    Raises FileNotFoundError / ValueError (one line naming the file) for a missing, damaged or foreign file.
    """
    ckpt = load_checkpoint_safely(path)
    stored = ckpt.get(V2_KEY)
    try:
        if isinstance(stored, dict):
            return tuple(v2.from_plain(name, stored[name]) if name in stored else None  # type: ignore[return-value]
                         for name in _ORDER)
        hp = ckpt.get("hyper_parameters") or {}
        if "model_config" in hp and "training_config" in hp:
            return v2_from_canonical(hp)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path}: saved configs: {exc}") from None
    return None, None, None, None
