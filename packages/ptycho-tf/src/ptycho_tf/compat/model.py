"""``ptycho.model``: legacy model API over :mod:`ptycho_tf.network` (specs/tf-backend.md §6).

Nothing is built at import time. ``create_model_with_gridsize`` builds a fresh pair of models from
the legacy ``ptycho.params.cfg`` mirror (overridden by keyword arguments); the explicit-config entry
point is :func:`build_from_config`. The module attributes ``autoencoder`` / ``diffraction_to_obj``
resolve lazily to the most recently built (or trained) models, which is what
``ptycho.model_manager.save`` persists.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ptycho import params, physics
from ptycho.config.config import ModelConfig, TrainingConfig
from ptycho_tf import network, training
from ptycho_tf.compat import probe as probe_mod
from ptycho_tf.network import Models

__all__ = ["create_model_with_gridsize", "create_compiled_model", "build_from_config", "negloglik",
           "prepare_inputs", "prepare_outputs", "train", "current_models", "set_current",
           "model_config_from_params", "training_config_from_params"]

_state: dict[str, Any] = {"models": None, "config": None}
_by_id: dict[int, Models] = {}

_MODEL_KEYS = {"N": "N", "gridsize": "gridsize", "n_filters_scale": "n_filters_scale", "model_type": "model_type",
               "amp_activation": "amp_activation", "object.big": "object_big", "probe.big": "probe_big",
               "probe.mask": "probe_mask", "pad_object": "pad_object", "probe_scale": "probe_scale",
               "gaussian_smoothing_sigma": "gaussian_smoothing_sigma"}


def model_config_from_params(**overrides):
    """A ModelConfig from the legacy params mirror (legacy keys, e.g. 'object.big'), then ``overrides``
    (ModelConfig field names)."""
    kw = {field: params.cfg[key] for key, field in _MODEL_KEYS.items() if key in params.cfg}
    kw.update(overrides)
    return ModelConfig(**kw)


def training_config_from_params(model_config=None):
    """A TrainingConfig from the legacy mirror (batch_size, nepochs, loss weights, nphotons, trainable flags)."""
    mc = model_config if model_config is not None else model_config_from_params()
    keys = {"batch_size": "batch_size", "nepochs": "nepochs", "mae_weight": "mae_weight",
            "nll_weight": "nll_weight", "nphotons": "nphotons", "probe.trainable": "probe_trainable",
            "intensity_scale.trainable": "intensity_scale_trainable", "learning_rate": "learning_rate"}
    kw = {field: params.cfg[key] for key, field in keys.items() if key in params.cfg}
    return TrainingConfig(model=mc, **kw)


def build_from_config(model_config, probe=None, intensity_scale: float | None = None,
                      probe_trainable: bool = False, intensity_scale_trainable: bool = False,
                      nphotons: float = 1e9, seed: int | None = None) -> Models:
    """Explicit-config factory: models for ``model_config``; probe defaults to the normalised default
    probe, intensity scale to sqrt(nphotons)/(N/2). Registers them as the current models."""
    n = int(model_config.N)
    if probe is None:
        probe = physics.normalize_probe(physics.default_probe(n), float(model_config.probe_scale))
    s = physics.intensity_scale(nphotons, n) if intensity_scale is None else float(intensity_scale)
    models = network.build_models(model_config, probe=np.asarray(probe), intensity_scale=s,
                                  probe_trainable=probe_trainable,
                                  intensity_scale_trainable=intensity_scale_trainable, seed=seed)
    set_current(models)
    return models


def set_current(models: Models, config=None) -> None:
    """Make ``models`` the module's current models (what ``model_manager.save`` persists)."""
    _state["models"] = models
    if config is not None:
        _state["config"] = config
    _by_id[id(models.autoencoder)] = models
    _by_id[id(models.diffraction_to_obj)] = models


def current_models() -> Models:
    """The most recently built or trained models; ValueError if none."""
    if _state["models"] is None:
        raise ValueError("ptycho.model: no model has been built yet (call create_model_with_gridsize or train)")
    return _state["models"]


def current_config():
    """The config the current models were trained with (None if built outside a workflow)."""
    return _state["config"]


def models_for(keras_model) -> Models:
    """The :class:`Models` pair a Keras model belongs to."""
    try:
        return _by_id[id(keras_model)]
    except KeyError:
        raise ValueError("ptycho.model: expected a model built by ptycho.model, found an unknown Keras model") from None


def _legacy_scale(n: int) -> float:
    s = params.cfg.get("intensity_scale")
    if s is None:
        return physics.intensity_scale(float(params.get("nphotons", 1e9)), n)
    return float(s)


def create_model_with_gridsize(gridsize: int, N: int, **kw):
    """Uncompiled ``(autoencoder, diffraction_to_obj)`` for ``gridsize`` and ``N``.

    Other ModelConfig fields come from ``params.cfg`` unless given in ``kw``. The probe is
    ``params['probe']`` if it has size N, else the normalised default probe; the initial intensity
    scale is ``params['intensity_scale']`` or sqrt(nphotons)/(N/2). params.cfg is not modified.
    """
    mc = model_config_from_params(N=int(N), gridsize=int(gridsize), **kw)
    models = build_from_config(mc, probe=probe_mod.get_probe(int(N)), intensity_scale=_legacy_scale(int(N)),
                               probe_trainable=bool(params.cfg.get("probe.trainable", False)),
                               intensity_scale_trainable=bool(params.cfg.get("intensity_scale.trainable", False)))
    return models.autoencoder, models.diffraction_to_obj


def create_compiled_model(gridsize: int | None = None, N: int | None = None):
    """Like :func:`create_model_with_gridsize` (defaults from params) plus compilation with the
    params' loss weights and Adam."""
    gs = int(params.get("gridsize") if gridsize is None else gridsize)
    n = int(params.get("N") if N is None else N)
    auto, d2o = create_model_with_gridsize(gs, n)
    training.compile_models(models_for(auto), training_config_from_params())
    return auto, d2o


def negloglik(y_true, y_pred):
    """Poisson NLL on counts: mean(pred - obs * log(max(pred, 1e-12)))."""
    return training.poisson_nll(y_true, y_pred)


def prepare_inputs(container) -> list:
    """[s * X, coords_nominal] with s = params['intensity_scale'] (or the closed form)."""
    s = _legacy_scale(container.X.shape[1])
    return [np.float32(s) * container.X, container.coords_nominal]


def prepare_outputs(container) -> list:
    """[Y (unused target), s * X, (s * X)^2]."""
    s = np.float32(_legacy_scale(container.X.shape[1]))
    x = s * container.X
    return [container.Y[..., :1], x, x**2]


def train(epochs: int, trainset, model_instance=None, use_streaming=None):
    """Fit ``model_instance`` (default: a new compiled model) on a container for ``epochs`` epochs.
    Returns the history dict (train_loss, val_loss, keras)."""
    if model_instance is None:
        model_instance, _ = create_compiled_model()
    models = models_for(model_instance)
    tc = training_config_from_params(model_config_from_params(N=models.n, gridsize=models.gridsize))
    tc.nepochs = None if epochs is None else int(epochs)  # None (until a budget) fails validation without one
    hist = training.fit(models, trainset.X, trainset.coords_nominal, tc, _legacy_scale(models.n),
                        labels=training.container_labels(trainset))
    set_current(models, tc)
    return hist


def __getattr__(name: str):
    if name in ("autoencoder", "diffraction_to_obj"):
        import warnings

        warnings.warn(f"ptycho.model.{name} is the most recently built model; prefer explicit factories",
                      DeprecationWarning, stacklevel=2)
        if _state["models"] is None:
            create_model_with_gridsize(int(params.get("gridsize")), int(params.get("N")))
        return getattr(_state["models"], name)
    raise AttributeError(f"module 'ptycho.model' has no attribute {name!r}")


