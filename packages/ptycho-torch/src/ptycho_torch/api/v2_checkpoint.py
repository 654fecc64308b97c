"""The v2 configs inside a Lightning checkpoint (specs/ptychodus-torch.md §4): written as plain data by a
callback during training, read back with ``torch.load(weights_only=True)``; never pickle.

A checkpoint written without the callback (a run of this repository's own workflow) still yields v2 configs:
they are derived from the canonical configs the Lightning module saves as its hyper-parameters.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import lightning.pytorch as L

from ptycho.config.config import config_from_dict
from ptycho_bridge import v2_config as v2
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
    """v2 (data, model, training, inference) equivalent to the canonical configs in a module's hyper-parameters."""
    mc = config_from_dict(hparams["model_config"], "ModelConfig")
    tc = config_from_dict(hparams["training_config"], "TrainingConfig")
    g = int(mc.gridsize)
    data = v2.DataConfig(N=int(mc.N), grid_size=(g, g), K=int(tc.neighbor_count), nphotons=float(tc.nphotons),
                         probe_scale=float(mc.probe_scale), subsample_seed=tc.subsample_seed,
                         measurement_domain="normalized_amplitude", scale_contract_version="legacy_v1")
    model = v2.ModelConfig(
        mode="Supervised" if mc.model_type == "supervised" else "Unsupervised", architecture=mc.architecture,
        fno_modes=int(mc.fno_modes), fno_width=int(mc.fno_width), fno_blocks=int(mc.fno_blocks),
        learned_input_channels=int(mc.learned_input_channels), input_projections=int(mc.input_projections),
        n_filters_scale=int(mc.n_filters_scale), amp_activation=mc.amp_activation, object_big=mc.object_big,
        probe_big=mc.probe_big, probe_mask=mc.probe_mask, pad_object=mc.pad_object,
        gaussian_smoothing_sigma=float(mc.gaussian_smoothing_sigma),
        intensity_scale_trainable=bool(tc.intensity_scale_trainable),
        loss_function="MAE" if tc.torch_loss_mode == "mae" else "Poisson")
    training = v2.TrainingConfig(epochs=None if tc.nepochs is None else int(tc.nepochs), batch_size=int(tc.batch_size), n_groups=tc.n_groups,
                                 torch_loss_mode=tc.torch_loss_mode, nll=tc.nll_weight > 0,
                                 learning_rate=float(tc.learning_rate), scheduler=tc.scheduler, optimizer=tc.optimizer,
                                 momentum=float(tc.momentum), weight_decay=float(tc.weight_decay),
                                 adam_beta1=float(tc.adam_beta1), adam_beta2=float(tc.adam_beta2),
                                 gradient_clip_val=tc.gradient_clip_val,
                                 gradient_clip_algorithm=tc.gradient_clip_algorithm)
    return data, model, training, v2.InferenceConfig()


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
