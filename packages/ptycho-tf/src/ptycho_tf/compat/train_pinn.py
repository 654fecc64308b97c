"""``ptycho.train_pinn``: legacy training entry points (specs/tf-backend.md §6).

The explicit-config core is :func:`ptycho_tf.workflow.fit`; :func:`train_with_config` wraps it and
records the trained models as the current ones; the legacy functions read the params mirror (nphotons, N,
gridsize, probe, trainable flags) and delegate to it.
"""

from __future__ import annotations

import numpy as np

from ptycho import params, physics
from ptycho_tf import workflow
from ptycho_tf.bundle import load_bundle
from ptycho_tf.compat import model as model_mod
from ptycho_tf.compat import probe as probe_mod

__all__ = ["calculate_intensity_scale", "train", "train_with_config", "eval", "train_eval"]


def calculate_intensity_scale(container) -> float:
    """Closed-form s = sqrt(nphotons) / (N/2) (nphotons from params, N from the container)."""
    n = int(np.asarray(container.X).shape[1])
    return float(physics.intensity_scale(float(params.get("nphotons", 1e9)), n))


def train_with_config(container, training_config, intensity_scale: float | None = None, probe=None,
                      seed: int | None = None, verbose: int = 0, *, checkpoint_path=None, resume_from=None,
                      policy=None, init_weights=None, progress: bool = False):
    """:func:`ptycho_tf.workflow.fit` (build models from ``training_config.model`` and fit them on
    ``container``; the arguments are its own), then make the trained models the current models of
    ``ptycho.model`` (the legacy mirror ``ptycho.model_manager.save`` reads).

    Returns: (Models, history dict with 'train_loss', 'val_loss', 'keras').
    """
    models, hist = workflow.fit(container, training_config, intensity_scale, probe, seed, verbose,
                                checkpoint_path=checkpoint_path, resume_from=resume_from, policy=policy,
                                init_weights=init_weights, progress=progress)
    model_mod.set_current(models, training_config)
    return models, hist


def train(train_data, intensity_scale=None, model_instance=None):
    """Legacy: train on a container using params (sets params['intensity_scale'] and params['probe']).
    Returns (autoencoder, history)."""
    s = calculate_intensity_scale(train_data) if intensity_scale is None else float(intensity_scale)
    params.set("intensity_scale", s)
    probe_mod.set_probe_guess(None, train_data.probe)
    if model_instance is not None:
        hist = model_mod.train(params.get("nepochs"), train_data, model_instance)
        return model_instance, hist
    tc = model_mod.training_config_from_params()
    models, hist = train_with_config(train_data, tc, intensity_scale=s, probe=train_data.probe)
    params.set("intensity_scale", models.intensity_scale())
    return models.autoencoder, hist


def eval(test_data, history=None, trained_model=None, model_path=None):  # noqa: A001 - legacy name
    """Predict on a container with the autoencoder: returns reconstructed_obj (B,N,N,1) complex64,
    pred_amp (B,N,N,C) normalised amplitude, reconstructed_obj_cdi (B,N,N,C) predicted counts,
    stitched_obj None (grid stitching is not part of this backend), history."""
    if model_path is not None:
        models, _, _ = load_bundle(model_path)
    elif trained_model is not None:
        models = model_mod.models_for(trained_model)
    else:
        models = model_mod.current_models()
    return {**workflow.predict(models, test_data), "history": history}


def train_eval(ptycho_dataset, model_instance=None) -> dict:
    """Train on ptycho_dataset.train_data and evaluate on its test_data (if any)."""
    model, hist = train(ptycho_dataset.train_data, model_instance=model_instance)
    out = {"history": hist, "model_instance": model}
    if ptycho_dataset.test_data is not None:
        out.update(eval(ptycho_dataset.test_data, hist, trained_model=model))
    return out
