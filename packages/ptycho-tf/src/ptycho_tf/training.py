"""Losses, compilation and the fit loop (specs/tf-backend.md §4).

PINN: loss = nll_weight * PoissonNLL((s X)^2, (s A_pred)^2) + mae_weight * MAE(s X, s A_pred), Adam.
Supervised baseline: loss = MAE(label_amp, amp) + MAE(label_phase, phase) on the generator's object
amplitude and phase (the PyTorch backend's definition), Adam.
Fields neither backend implements (realspace loss weights, probe-mask sigma/diameter) raise ValueError when
set (``ptycho.config.config.check_implemented``), and so does ``torch_loss_mode='mae'``, a PyTorch-only loss, and
``teacher`` other than 'none' (the refinement teacher, PyTorch only).
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ptycho.config.config import check_implemented
from ptycho.config.training_options import tf_unsupported
from ptycho.config.validation import max_time_seconds
from ptycho.sampling import epoch_order  # noqa: F401  (re-exported: the batch order of fit)

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
    """Compile ``models.training_model`` with Adam(lr).

    PINN: the autoencoder, losses [none, MAE, Poisson NLL] with the config's mae/nll weights.
    Supervised: the generator, losses [MAE(label_amp, amp), MAE(label_phase, phase)] with weights 1, 1
    (mae_weight / nll_weight do not apply).
    """
    check_implemented(training_config)
    problem = tf_unsupported(training_config)
    if problem is not None:
        raise ValueError(problem)
    if getattr(training_config, "torch_loss_mode", "poisson") != "poisson":
        raise ValueError("TrainingConfig.torch_loss_mode: the TensorFlow backend trains with the weighted "
                         f"Poisson/MAE loss only; expected 'poisson', found {training_config.torch_loss_mode!r}")
    if getattr(training_config, "teacher", "none") != "none":
        raise ValueError("TrainingConfig.teacher: the refinement teacher is implemented by the PyTorch backend only "
                         f"(specs/torch-training.md §8); expected 'none', found {training_config.teacher!r}")
    lr = float(getattr(training_config, "learning_rate", 1e-3))
    if models.supervised:
        models.training_model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr),
                                      loss=[amplitude_mae, amplitude_mae], loss_weights=[1.0, 1.0],
                                      jit_compile=jit_compile)
        return
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


class NonFiniteLossError(RuntimeError):
    """A training batch gave a NaN/inf loss; raised at once (epoch and step in the message). The epoch-end
    checkpoint written before it holds the last finite state; no bundle is written (specs/reliability.md §2)."""


CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class TrainingPolicy:
    """How one :func:`fit` runs: the validation hold-out and the epoch-level learning-rate and stopping rules.

    The defaults: a random 5 % of the groups held out for validation,
    Keras ReduceLROnPlateau(val_loss, factor 0.5, patience 2, min_lr 1e-4, min_delta 1e-4) and
    EarlyStopping(val_loss, patience 3), re-implemented as plain state so that they can be checkpointed and
    resumed. :data:`PYTORCH_DEFAULTS` is the PyTorch backend's behaviour (every group trains, constant learning
    rate, every epoch runs), for runs that must compare the two backends (``benchmarks/fidelity.py``).

    Fields:
      validation_fraction: fraction in [0, 1) of the groups held out (at least one group when > 0 and B >= 2);
        0 = no validation, and then no plateau or early-stopping rule can fire (they watch val_loss).
      plateau_factor: learning-rate factor in (0, 1) after ``plateau_patience`` epochs (>= 1) without a val_loss
        improvement of more than ``plateau_min_delta`` (>= 0), never below ``plateau_min_lr`` (>= 0);
        None = constant learning rate.
      early_stop_patience: stop after this many epochs (>= 1) without a new best val_loss; None = run all
        ``nepochs``.
    """

    validation_fraction: float = 0.05
    plateau_factor: float | None = 0.5
    plateau_patience: int = 2
    plateau_min_lr: float = 1e-4
    plateau_min_delta: float = 1e-4
    early_stop_patience: int | None = 3

    def __post_init__(self) -> None:
        def bad(field: str, expected: str) -> ValueError:
            return ValueError(f"TrainingPolicy.{field}: expected {expected}, found {getattr(self, field)!r}")

        def number(v) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        def count(v) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 1

        if not (number(self.validation_fraction) and 0.0 <= self.validation_fraction < 1.0):
            raise bad("validation_fraction", "a number in [0, 1)")
        if self.plateau_factor is not None and not (number(self.plateau_factor) and 0.0 < self.plateau_factor < 1.0):
            raise bad("plateau_factor", "a number in (0, 1) or None")
        if not count(self.plateau_patience):
            raise bad("plateau_patience", "an integer >= 1")
        for field in ("plateau_min_lr", "plateau_min_delta"):
            if not (number(getattr(self, field)) and getattr(self, field) >= 0.0):
                raise bad(field, "a number >= 0")
        if self.early_stop_patience is not None and not count(self.early_stop_patience):
            raise bad("early_stop_patience", "an integer >= 1 or None")


#: The PyTorch backend's defaults (scheduler 'Default', no hold-out from the training groups, early stopping
#: that never fires within nepochs): every group trains at a constant learning rate for every epoch.
PYTORCH_DEFAULTS = TrainingPolicy(validation_fraction=0.0, plateau_factor=None, early_stop_patience=None)


class TimeBudget(keras.callbacks.Callback):
    """Stop ``fit`` after the batch that exhausts a wall-clock budget (``TrainingConfig.max_time``, seconds).

    The clock starts when the object is made (before the first epoch) and runs across the per-epoch ``fit``
    calls; :attr:`exhausted` tells the epoch loop to stop.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = float(seconds)
        self.start = time.monotonic()
        self.exhausted = False

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start >= self.seconds:
            self.exhausted = True
            self.model.stop_training = True


class _FiniteGuard(keras.callbacks.Callback):
    """Raise :class:`NonFiniteLossError` on the first batch whose (running mean) loss is NaN/inf."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = int(epoch)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            raise NonFiniteLossError(f"tf training: non-finite training loss ({float(loss)}) at epoch {self.epoch}, "
                                     f"step {int(batch)}; the last epoch-end checkpoint keeps the last finite state")


def _optimizer_variables(models: Models) -> list:
    opt = models.training_model.optimizer
    if not opt.built:
        opt.build(models.training_model.trainable_variables)
    return list(opt.variables)


def save_checkpoint(path, models: Models, state: dict) -> None:
    """Write the resume point atomically as an NPZ (``np.load(allow_pickle=False)`` readable).

    Members: ``backend`` 'tensorflow', ``format`` 1, ``state_json`` (epochs done, history, plateau and
    early-stopping counters, seed, split sizes), ``w_<i>`` autoencoder weights in ``get_weights`` order,
    ``opt_<i>`` Adam variables (iterations, learning rate, moments) in ``optimizer.variables`` order.
    """
    import json

    from ptycho.atomic_io import save_npz_atomic

    arrays = {"backend": np.array("tensorflow"), "format": np.int64(CHECKPOINT_FORMAT),
              "state_json": np.array(json.dumps(state, allow_nan=True))}
    arrays.update({f"w_{i}": w for i, w in enumerate(models.autoencoder.get_weights())})
    arrays.update({f"opt_{i}": np.asarray(v.numpy()) for i, v in enumerate(_optimizer_variables(models))})
    save_npz_atomic(path, **arrays)


def load_checkpoint(path, models: Models) -> dict:
    """Restore weights and optimizer state from :func:`save_checkpoint`'s file; returns the state dict.

    Raises:
        FileNotFoundError: no file. ValueError: one line naming the file for a truncated, foreign or
            mismatched checkpoint (another backend, other network shapes).
    """
    import json
    import zipfile
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"resume_from: no checkpoint at {path} (expected <output_dir>/checkpoints/last.ckpt)")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: np.asarray(z[k]) for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"{path}: not a loadable TensorFlow checkpoint ({type(exc).__name__}: {exc})") from None
    if str(data.get("backend", "")) != "tensorflow" or int(data.get("format", -1)) != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: expected a TensorFlow checkpoint (backend 'tensorflow', format "
                         f"{CHECKPOINT_FORMAT}), found backend {str(data.get('backend'))!r}")
    weights = models.autoencoder.get_weights()
    saved_w = [data.get(f"w_{i}") for i in range(len(weights))]
    variables = _optimizer_variables(models)
    saved_o = [data.get(f"opt_{i}") for i in range(len(variables))]
    for kind, have, saved in (("weight", weights, saved_w), ("optimizer variable", [v.numpy() for v in variables], saved_o)):
        for i, (a, b) in enumerate(zip(have, saved, strict=True)):
            if b is None or np.shape(a) != b.shape:
                raise ValueError(f"{path}: {kind} {i}: expected shape {np.shape(a)}, found "
                                 f"{None if b is None else b.shape} (checkpoint of another model?)")
    models.autoencoder.set_weights(saved_w)
    for v, b in zip(variables, saved_o, strict=True):
        v.assign(b.astype(v.dtype))
    return json.loads(str(data["state_json"]))


def _plateau_and_stop(state: dict, models: Models, epoch: int, val_loss: float, policy: TrainingPolicy) -> bool:
    """One epoch of ReduceLROnPlateau + EarlyStopping bookkeeping on ``val_loss``; True = stop now."""
    pl = state["plateau"]
    if val_loss < pl["best"] - policy.plateau_min_delta:
        pl["best"], pl["wait"] = val_loss, 0
    else:
        pl["wait"] += 1
        if policy.plateau_factor is not None and pl["wait"] >= policy.plateau_patience:
            opt = models.training_model.optimizer
            old = float(np.asarray(opt.learning_rate))
            if old > policy.plateau_min_lr:
                opt.learning_rate = max(old * policy.plateau_factor, policy.plateau_min_lr)
            pl["wait"] = 0
    st = state["stop"]
    st["wait"] += 1
    if val_loss < st["best"]:
        st["best"], st["wait"] = val_loss, 0
        return False
    return policy.early_stop_patience is not None and st["wait"] >= policy.early_stop_patience and epoch > 0


def _check_labels(models: Models, labels, b: int) -> tuple[np.ndarray, np.ndarray]:
    """(label_amp, label_phase) for a supervised fit, each (B, N, N, C) float32; one-line ValueError otherwise."""
    n, c = models.n, models.gridsize**2
    if labels is None:
        raise ValueError(f"fit: model_type='supervised': expected labels (label_amp, label_phase) of shape "
                         f"({b}, {n}, {n}, {c}), found none (the data have no ground-truth object patches Y)")
    try:
        amp, phase = labels
    except (TypeError, ValueError):
        raise ValueError(f"fit: labels: expected a pair (label_amp, label_phase), found {type(labels).__name__}") from None
    out = []
    for name, arr in (("label_amp", amp), ("label_phase", phase)):
        arr = np.asarray(arr, np.float32)
        if arr.shape != (b, n, n, c):
            raise ValueError(f"fit: {name}: expected shape ({b}, {n}, {n}, {c}), found {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"fit: {name}: contains non-finite values")
        out.append(arr)
    return out[0], out[1]


def container_labels(container) -> tuple[np.ndarray, np.ndarray] | None:
    """(Y_I, Y_phi) of a ``ptycho_tf.data.PtychoDataContainer`` as supervised labels, or None when the
    container has no ground truth (``has_labels`` False: its Y_I/Y_phi are placeholder ones/zeros)."""
    if not getattr(container, "has_labels", True):
        return None
    return container.Y_I, container.Y_phi


def _budget_seconds(training_config) -> float | None:
    """The wall-clock budget in seconds: the canonical config's parsed ``max_time_s``, else ``max_time`` parsed
    here (a legacy config object without the property)."""
    if hasattr(training_config, "max_time_s"):
        return training_config.max_time_s
    text = getattr(training_config, "max_time", None)
    return None if text is None else max_time_seconds(text)


def _print_epoch(epoch: int, history: dict, nepochs: int | None, elapsed_s: float, budget_s: float | None) -> None:
    """The progress line of finished 0-based ``epoch`` (Keras ``history`` of its ``fit`` call)."""
    from ptycho.progress_text import epoch_line, run_eta

    last = {k: float(v[-1]) for k, v in history.items() if v}
    fraction = (epoch + 1) / max(1, nepochs or 1)
    print(epoch_line(epoch + 1, nepochs, last.get("loss"), last.get("val_loss"), elapsed_s,
                     run_eta(fraction, elapsed_s, nepochs, budget_s)), flush=True)


def _epochs(state: dict, nepochs: int | None):
    """0-based epochs still to run: from ``state['epochs_done']`` to ``nepochs`` (without end when ``nepochs``
    is None: the time budget stops the loop). A run that stopped early or on its budget is finished: resuming it
    trains nothing more."""
    if state.get("stopped"):
        return iter(())
    first = int(state["epochs_done"])
    return itertools.count(first) if nepochs is None else iter(range(first, int(nepochs)))


def fit(models: Models, x, coords, training_config, intensity_scale: float,
        seed: int = 0, verbose: int = 0, *, checkpoint_path=None, resume_from=None, labels=None,
        policy: TrainingPolicy | None = None, progress: bool = False) -> dict:
    """Train ``models.training_model`` (the autoencoder; a supervised model's generator) on normalised
    amplitudes, one Keras ``fit`` call per epoch.

    Args:
      x: (B, N, N, C) normalised diffraction amplitude X (float32; mean sum X^2 = (N/2)^2).
      coords: (B, 1, 2, C) coords_relative fed to the physics layer.
      training_config: TrainingConfig (batch_size, nepochs, mae_weight, nll_weight, learning_rate).
      intensity_scale: s; inputs are s*X and targets s*X (MAE) and (s*X)^2 (NLL).
      seed: fixes the validation split and every epoch's batch order (:func:`epoch_order`).
      checkpoint_path: where the resume point is written atomically after every epoch (None: nowhere).
      resume_from: a checkpoint written by this function: weights, Adam state, learning rate, epoch,
        history and the plateau/early-stopping counters are restored and training continues to
        ``nepochs`` (specs/reliability.md §1); ``nepochs`` None trains until ``max_time``.
      labels: supervised models only (required there, ignored by PINN models): (label_amp, label_phase),
        each (B, N, N, C) float32 ground-truth object amplitude and phase (radians) of every group.
      policy: :class:`TrainingPolicy` (hold-out, learning-rate plateau, early stopping); None = the defaults.
      progress: print one line per finished epoch on stdout (``ptycho.progress_text.epoch_line``: epoch, loss,
        validation loss, elapsed, time left), the PyTorch backend's format.
    Returns: history dict ``{'train_loss': [...], 'val_loss': [...], 'keras': {...}}`` (per epoch).
    Raises: NonFiniteLossError at the first NaN/inf batch loss (epoch and step in the message);
      ValueError for a supervised model without (valid) labels.
    """
    x, coords = _check_inputs(models, x, coords, "fit")
    policy = TrainingPolicy() if policy is None else policy
    if not isinstance(policy, TrainingPolicy):
        raise ValueError(f"fit: policy: expected a TrainingPolicy or None, found {type(policy).__name__}")
    val_fraction = policy.validation_fraction
    if models.supervised:
        label_amp, label_phase = _check_labels(models, labels, x.shape[0])
    s = np.float32(intensity_scale)
    b = x.shape[0]
    rng = np.random.default_rng(seed)
    order = rng.permutation(b)
    n_val = 0 if b < 2 or val_fraction <= 0 else max(1, int(round(val_fraction * b)))
    val_idx, tr_idx = np.sort(order[:n_val]), np.sort(order[n_val:])

    def pack(idx):
        xs = s * x[idx]
        if models.supervised:
            return [xs], [label_amp[idx], label_phase[idx]]
        return [xs, coords[idx]], [np.zeros((len(idx), models.n, models.n, 1), np.float32), xs, xs**2]

    def single(inputs):  # a one-input Keras model (the supervised generator) takes the array itself
        return inputs[0] if len(inputs) == 1 else inputs

    if getattr(models.training_model, "optimizer", None) is None:
        compile_models(models, training_config)
    tr_in, tr_out = pack(tr_idx)
    val = None
    if n_val:
        val_in, val_out = pack(val_idx)
        val = (single(val_in), val_out)
    state = {"epochs_done": 0, "keras": {}, "seed": int(seed), "n_train": int(len(tr_idx)),
             "plateau": {"best": float("inf"), "wait": 0}, "stop": {"best": float("inf"), "wait": 0}}
    if resume_from is not None:
        loaded = load_checkpoint(resume_from, models)
        if (loaded.get("seed"), loaded.get("n_train")) != (state["seed"], state["n_train"]):
            raise ValueError(f"{resume_from}: checkpoint of a run with seed {loaded.get('seed')} and "
                             f"{loaded.get('n_train')} training groups, found seed {seed} and {len(tr_idx)}")
        state = loaded
    guard = _FiniteGuard()
    budget_s = _budget_seconds(training_config)
    budget = None if budget_s is None else TimeBudget(budget_s)
    callbacks = [guard] if budget is None else [guard, budget]
    t0 = time.monotonic()
    for epoch in _epochs(state, training_config.nepochs):
        perm = epoch_order(len(tr_idx), seed, epoch)
        hist = models.training_model.fit(single([a[perm] for a in tr_in]), [t[perm] for t in tr_out],
                                      batch_size=int(training_config.batch_size), epochs=epoch + 1,
                                      initial_epoch=epoch, shuffle=False, validation_data=val,
                                      callbacks=callbacks, verbose=verbose)
        for k, vals in hist.history.items():
            state["keras"].setdefault(k, []).extend(float(v) for v in vals)
        state["epochs_done"] = epoch + 1
        if progress:
            _print_epoch(epoch, hist.history, training_config.nepochs, time.monotonic() - t0, budget_s)
        stop = bool(n_val) and _plateau_and_stop(state, models, epoch, float(hist.history["val_loss"][-1]), policy)
        stop = stop or (budget is not None and budget.exhausted)
        state["stopped"] = stop
        if checkpoint_path is not None:
            if not all(np.all(np.isfinite(w)) for w in models.autoencoder.get_weights()):
                raise NonFiniteLossError(f"tf training: non-finite weights after epoch {epoch}; checkpoint not "
                                         "overwritten")
            save_checkpoint(checkpoint_path, models, state)
        if stop:
            break
    keras_hist = state["keras"]
    return {"train_loss": keras_hist.get("loss", []), "val_loss": keras_hist.get("val_loss", []),
            "keras": keras_hist}
