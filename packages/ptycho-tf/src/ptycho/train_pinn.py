"""``ptycho.train_pinn``: legacy training entry points (specs/tf-backend.md §6).

The explicit-config core is :func:`train_with_config`; the legacy functions read the params mirror
(nphotons, N, gridsize, probe, trainable flags) and delegate to it.
"""

from __future__ import annotations

import numpy as np

from ptycho import model as model_mod
from ptycho import params, physics
from ptycho.tf_backend import training
from ptycho.tf_backend.layers import probe_stack

__all__ = ["calculate_intensity_scale", "train", "train_with_config", "eval", "train_eval"]


def calculate_intensity_scale(container) -> float:
    """Closed-form s = sqrt(nphotons) / (N/2) (nphotons from params, N from the container)."""
    n = int(np.asarray(container.X).shape[1])
    return float(physics.intensity_scale(float(params.get("nphotons", 1e9)), n))


def train_with_config(container, training_config, intensity_scale: float | None = None, probe=None,
                      seed: int | None = None, verbose: int = 0, *, checkpoint_path=None, resume_from=None,
                      policy=None, init_weights=None, progress: bool = False):
    """Build models from ``training_config.model`` and fit them on ``container``.

    Args: container (PtychoDataContainer), training_config (TrainingConfig), intensity_scale (default
      closed form from training_config.nphotons), probe (N,N) complex raw probe, or (K,N,N) incoherent modes
      (normalised together here with probe_scale; default container.probe or the default probe).
      checkpoint_path / resume_from: see :func:`ptycho.tf_backend.training.fit` (resume point written
      after every epoch / continue from one).
      policy: a ``ptycho.tf_backend.training.TrainingPolicy`` (validation hold-out, learning-rate plateau,
        early stopping); None = ``TrainingPolicy()`` defaults.
      init_weights: optional callable, called once with the freshly built autoencoder (keras.Model) before
        training, to replace the random initialisation, e.g. with a PyTorch model's weights:
        ``lambda m: ptycho_bridge.weights.torch_to_tf(module, m, include_physics=False)``. A resumed run
        then restores the checkpoint over it.
      progress: one line per finished epoch on stdout (:func:`ptycho.tf_backend.training.fit`).
      A supervised model (``model_type='supervised'``) trains on the container's Y_I / Y_phi; a container
      without ground truth (``has_labels`` False) raises ValueError.
    Returns: (Models, history dict with 'train_loss', 'val_loss', 'keras').
    """
    if init_weights is not None and not callable(init_weights):
        raise ValueError(f"train: init_weights: expected a callable taking the Keras autoencoder, or None, "
                         f"found {type(init_weights).__name__}")
    mc = training_config.model
    n = int(mc.N)
    if container.X.shape[1] != n:
        raise ValueError(f"train: ModelConfig.N={n} but the data have N={container.X.shape[1]}")
    if container.X.shape[-1] != int(mc.gridsize) ** 2:
        raise ValueError(f"train: gridsize={mc.gridsize} expects C={int(mc.gridsize) ** 2} channels, "
                         f"found {container.X.shape[-1]}")
    s = physics.intensity_scale(float(training_config.nphotons), n) if intensity_scale is None else float(intensity_scale)
    raw_probe = probe if probe is not None else container.probe
    if raw_probe is None:
        raw_probe = physics.default_probe(n)
    p = physics.normalize_probe(probe_stack(raw_probe, n, "train: probe").astype(np.complex64), float(mc.probe_scale))
    models = model_mod.build_from_config(mc, probe=p, intensity_scale=s,
                                         probe_trainable=bool(training_config.probe_trainable),
                                         intensity_scale_trainable=bool(training_config.intensity_scale_trainable),
                                         seed=0 if seed is None else int(seed))
    if init_weights is not None:
        init_weights(models.autoencoder)
    training.compile_models(models, training_config)
    hist = training.fit(models, container.X, container.coords_nominal, training_config, s, verbose=verbose,
                        seed=0 if seed is None else int(seed), checkpoint_path=checkpoint_path,
                        resume_from=resume_from, labels=training.container_labels(container), policy=policy,
                        progress=progress)
    model_mod.set_current(models, training_config)
    return models, hist


def train(train_data, intensity_scale=None, model_instance=None):
    """Legacy: train on a container using params (sets params['intensity_scale'] and params['probe']).
    Returns (autoencoder, history)."""
    from ptycho import probe as probe_mod

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
        from ptycho.tf_backend.bundle import load_bundle

        models, _, _ = load_bundle(model_path)
    elif trained_model is not None:
        models = model_mod.models_for(trained_model)
    else:
        models = model_mod.current_models()
    s = np.float32(models.intensity_scale())
    obj, amp_s, inten = models.autoencoder.predict([s * test_data.X, test_data.coords_nominal],
                                                    batch_size=16, verbose=0)
    return {"reconstructed_obj": np.asarray(obj), "pred_amp": np.asarray(amp_s) / s,
            "reconstructed_obj_cdi": np.asarray(inten), "stitched_obj": None, "history": history}


def train_eval(ptycho_dataset, model_instance=None) -> dict:
    """Train on ptycho_dataset.train_data and evaluate on its test_data (if any)."""
    model, hist = train(ptycho_dataset.train_data, model_instance=model_instance)
    out = {"history": hist, "model_instance": model}
    if ptycho_dataset.test_data is not None:
        out.update(eval(ptycho_dataset.test_data, hist, trained_model=model))
    return out
