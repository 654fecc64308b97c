"""Losses, compilation and the fit loop (specs/tf-backend.md §4).

Loss = nll_weight * PoissonNLL((s X)^2, (s A_pred)^2) + mae_weight * MAE(s X, s A_pred), Adam.
The realspace loss of the original is identically zero with its default weights and is not
implemented; a non-zero ``realspace_weight`` raises ValueError rather than being ignored.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .network import Models

EPS = 1e-12


@keras.saving.register_keras_serializable(package="ptycho_tf")
def poisson_nll(y_true, y_pred):
    """Mean of ``pred - obs * log(max(pred, 1e-12))`` over all elements (counts; no log(obs!) term)."""
    y_true = tf.cast(y_true, y_pred.dtype)
    return tf.reduce_mean(y_pred - y_true * tf.math.log(tf.maximum(y_pred, EPS)))


@keras.saving.register_keras_serializable(package="ptycho_tf")
def amplitude_mae(y_true, y_pred):
    """Mean absolute error of count-scale amplitudes."""
    return tf.reduce_mean(tf.abs(tf.cast(y_true, y_pred.dtype) - y_pred))


def compile_models(models: Models, training_config, jit_compile: bool = False) -> None:
    """Compile the autoencoder: losses [none, MAE, Poisson NLL] with the config's weights, Adam(lr)."""
    if float(getattr(training_config, "realspace_weight", 0.0)) != 0.0:
        raise ValueError("TrainingConfig.realspace_weight: the TensorFlow backend supports only 0.0, "
                         f"found {training_config.realspace_weight}")
    lr = float(getattr(training_config, "learning_rate", 1e-3))
    models.autoencoder.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=[None, amplitude_mae, poisson_nll],
        loss_weights=[0.0, float(training_config.mae_weight), float(training_config.nll_weight)],
        jit_compile=jit_compile,
    )


def _check_inputs(models: Models, x, coords, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, np.float32)
    coords = np.asarray(coords, np.float32)
    n, c = models.n, models.gridsize**2
    if x.ndim != 4 or x.shape[1:] != (n, n, c):
        raise ValueError(f"{what}: expected diffraction of shape (B, {n}, {n}, {c}), found {x.shape}")
    if coords.shape != (x.shape[0], 1, 2, c):
        raise ValueError(f"{what}: expected coords of shape ({x.shape[0]}, 1, 2, {c}), found {coords.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{what}: diffraction contains non-finite values")
    return x, coords


def fit(models: Models, x, coords, training_config, intensity_scale: float, val_fraction: float = 0.05,
        seed: int = 0, verbose: int = 0) -> dict:
    """Train ``models.autoencoder`` on normalised amplitudes.

    Args:
      x: (B, N, N, C) normalised diffraction amplitude X (float32; mean sum X^2 = (N/2)^2).
      coords: (B, 1, 2, C) coords_relative fed to the physics layer.
      training_config: TrainingConfig (batch_size, nepochs, mae_weight, nll_weight, learning_rate).
      intensity_scale: s; inputs are s*X and targets s*X (MAE) and (s*X)^2 (NLL).
      val_fraction: random held-out fraction (at least one group when B >= 2; none when B < 2).
    Returns: history dict ``{'train_loss': [...], 'val_loss': [...], 'keras': {...}}`` (per epoch).
    """
    x, coords = _check_inputs(models, x, coords, "fit")
    s = np.float32(intensity_scale)
    b = x.shape[0]
    rng = np.random.default_rng(seed)
    order = rng.permutation(b)
    n_val = 0 if b < 2 else max(1, int(round(val_fraction * b)))
    val_idx, tr_idx = np.sort(order[:n_val]), np.sort(order[n_val:])

    def pack(idx):
        xs = s * x[idx]
        return [xs, coords[idx]], [np.zeros((len(idx), models.n, models.n, 1), np.float32), xs, xs**2]

    if getattr(models.autoencoder, "optimizer", None) is None:
        compile_models(models, training_config)
    tr_in, tr_out = pack(tr_idx)
    callbacks = []
    val = None
    if n_val:
        val = tuple(pack(val_idx))
        callbacks = [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_lr=1e-4),
                     keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)]
    hist = models.autoencoder.fit(tr_in, tr_out, batch_size=int(training_config.batch_size),
                                  epochs=int(training_config.nepochs), shuffle=True, validation_data=val,
                                  callbacks=callbacks, verbose=verbose)
    keras_hist = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return {"train_loss": keras_hist.get("loss", []), "val_loss": keras_hist.get("val_loss", []),
            "keras": keras_hist}
