"""The TensorFlow workflow with explicit state (specs/tf-backend.md §7, specs/architecture.md §4).

Config and data in, models and results out: grouping (:func:`create_data_container`), training
(:func:`fit`, :func:`train`), prediction (:func:`predict`), stitching (:func:`reassemble`) and the whole run
(:func:`run`). Nothing here reads or writes the legacy ``ptycho.params.cfg`` or the "current model" of
``ptycho.model``; the legacy entry points (:mod:`ptycho_tf.compat`: ``ptycho.workflows.components``,
``ptycho.train_pinn``) wrap these
functions and then update that mirror for the callers that read it (ptychodus, the seed guide). The backend
object ``ptycho_tf.backend.BACKEND`` (the ``ptycho.backends`` entry point) calls these functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptycho import physics
from ptycho.config.config import effective_seed, resume_checkpoint, validation_groups

from . import stitching, training
from .data import PtychoDataContainer
from .data import load as load_container
from .layers import probe_stack
from .network import Models, build_models

__all__ = ["grouping_seed", "create_data_container", "default_checkpoints", "fit", "predict", "train",
           "reassemble", "stitch_results", "run"]


def grouping_seed(config, seed: int | None = None) -> int:
    """Seed the grouping of ``config`` uses: the same rule as the PyTorch backend's
    ``PtychoDataContainerTorch.from_raw_data`` (specs/tf-backend.md §7).

    ``seed`` (explicit) wins; else ``effective_seed(config)``: ``config.subsample_seed``, or the
    project-wide ``DEFAULT_SEED`` when that is None (deterministic by default, specs/config.md §3).
    """
    if seed is None:
        return effective_seed(config)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        raise ValueError(f"grouping seed: expected a non-negative integer or None, found {seed!r}")
    return int(seed)


def create_data_container(data, config, seed: int | None = None, n_groups: int | None = None):
    """Group a RawData (or pass a ``ptycho_tf.data.PtychoDataContainer`` through) with the config's grouping
    settings. The grouping seed is :func:`grouping_seed` ``(config, seed)``, recorded as the container's
    ``grouping_seed``; ``nphotons`` is the config's (no legacy fallback)."""
    if isinstance(data, PtychoDataContainer):
        return data
    mc = config.model
    groups = config.n_groups if n_groups is None else n_groups
    nsamples = groups if groups is not None else len(data)
    used = grouping_seed(config, seed)
    d = data.generate_grouped_data(int(mc.N), K=int(config.neighbor_count), nsamples=int(nsamples), seed=used,
                                   sequential_sampling=bool(getattr(config, "sequential_sampling", False)),
                                   gridsize=int(mc.gridsize),
                                   enable_oversampling=bool(config.enable_oversampling),
                                   neighbor_pool_size=config.neighbor_pool_size)
    cont = load_container(lambda: d, data.probeGuess, which=None, create_split=False, nphotons=float(config.nphotons))
    cont.grouping_seed = used
    return cont


def default_checkpoints(config, checkpoints: bool | None) -> bool:
    """Whether a run writes its resume point ``<output_dir>/checkpoints/last.ckpt``: ``checkpoints`` when given;
    None writes it unless ``config.output_dir`` is the empty path ``Path()``, which ptychodus passes to mean "no
    output directory" (specs/ptychodus.md §3)."""
    return str(config.output_dir) != "." if checkpoints is None else bool(checkpoints)


def fit(container, training_config, intensity_scale: float | None = None, probe=None, seed: int | None = None,
        verbose: int = 0, *, checkpoint_path=None, resume_from=None, policy=None, init_weights=None,
        progress: bool = False) -> tuple[Models, dict]:
    """Build models from ``training_config.model`` and fit them on ``container``.

    Args: container (PtychoDataContainer), training_config (TrainingConfig), intensity_scale (default
      closed form from training_config.nphotons), probe (N,N) complex raw probe, or (K,N,N) incoherent modes
      (normalised together here with probe_scale; default container.probe or the default probe).
      checkpoint_path / resume_from: see :func:`ptycho_tf.training.fit` (resume point written
      after every epoch / continue from one).
      policy: a :class:`ptycho_tf.training.TrainingPolicy` (validation hold-out, learning-rate plateau,
        early stopping); None = ``TrainingPolicy()`` defaults.
      init_weights: optional callable, called once with the freshly built autoencoder (keras.Model) before
        training, to replace the random initialisation, e.g. with a PyTorch model's weights:
        ``lambda m: torch_to_tf(module, m, include_physics=False)`` with ``tests-parity/weight_transfer.py``. A resumed run
        then restores the checkpoint over it.
      progress: one line per finished epoch on stdout (:func:`ptycho_tf.training.fit`).
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
    run_seed = 0 if seed is None else int(seed)
    models = build_models(mc, probe=p, intensity_scale=s, probe_trainable=bool(training_config.probe_trainable),
                          intensity_scale_trainable=bool(training_config.intensity_scale_trainable), seed=run_seed)
    if init_weights is not None:
        init_weights(models.autoencoder)
    training.compile_models(models, training_config)
    hist = training.fit(models, container.X, container.coords_nominal, training_config, s, verbose=verbose,
                        seed=run_seed, checkpoint_path=checkpoint_path, resume_from=resume_from,
                        labels=training.container_labels(container), policy=policy, progress=progress)
    return models, hist


def predict(models: Models, container) -> dict:
    """Predict on a container with ``models.autoencoder``: reconstructed_obj (B,N,N,1) complex64, pred_amp
    (B,N,N,C) normalised amplitude, reconstructed_obj_cdi (B,N,N,C) predicted counts, stitched_obj None."""
    s = np.float32(models.intensity_scale())
    obj, amp_s, inten = models.autoencoder.predict([s * container.X, container.coords_nominal], batch_size=16,
                                                   verbose=0)
    return {"reconstructed_obj": np.asarray(obj), "pred_amp": np.asarray(amp_s) / s,
            "reconstructed_obj_cdi": np.asarray(inten), "stitched_obj": None}


def train(train_data, test_data, config, seed: int | None = None, *, resume_from=None, checkpoints: bool = True,
          policy=None, init_weights=None, progress: bool = False) -> tuple[Models, dict]:
    """Group, train and, with test data, predict. Returns ``(models, results)``.

    Seeds (specs/tf-backend.md §7): grouping and training (weight init, validation split, batch order) use
    :func:`grouping_seed` ``(config, seed)``. With ``checkpoints`` the resume point
    ``<config.output_dir>/checkpoints/last.ckpt`` is written atomically after every epoch; ``resume_from``
    (True, a run directory or the file) continues from one (specs/reliability.md §1). ``policy``,
    ``init_weights``, ``progress``: see :func:`fit`. ``results`` holds ``history`` ({'train_loss', 'val_loss'}
    plus the Keras history keys), ``history_epochs``, ``model_instance``, ``models``, ``tf_models``,
    ``train_container``, ``test_container``, ``intensity_scale`` and, with test data, the keys of
    :func:`predict`."""
    resume_path = resume_checkpoint(resume_from, config.output_dir)
    run_seed = grouping_seed(config, seed)
    train_c = create_data_container(train_data, config, run_seed)
    test_c = None
    if test_data is not None:  # a small validation scan must not fail at gridsize > 1 (specs/config.md §3)
        val_groups = validation_groups(config, len(test_data)) if hasattr(test_data, "diff3d") else None
        test_c = create_data_container(test_data, config, run_seed, n_groups=val_groups)
    ckpt = Path(config.output_dir) / "checkpoints" / "last.ckpt" if checkpoints else None
    models, hist = fit(train_c, config, seed=run_seed, checkpoint_path=ckpt, resume_from=resume_path, policy=policy,
                       init_weights=init_weights, progress=progress)
    history = {"train_loss": hist["train_loss"], "val_loss": hist["val_loss"], **hist["keras"]}
    results = {"history": history, "history_epochs": len(hist["train_loss"]), "model_instance": models.autoencoder,
               "models": {"autoencoder": models.autoencoder, "diffraction_to_obj": models.diffraction_to_obj},
               "train_container": train_c, "test_container": test_c, "intensity_scale": models.intensity_scale(),
               "tf_models": models}
    if test_c is not None:
        results.update(predict(models, test_c))
    return models, results


def reassemble(models: Models, test_data, config, flip_x=False, flip_y=False, transpose=False, M=20,
               coord_scale=1.0):
    """Stitch the predictions of ``models`` on ``test_data`` (RawData or container).
    Returns (obj (H,W) complex64, amp, phase, global_offsets (P,1,2,1) after transforms)."""
    cont = create_data_container(test_data, config)
    s = np.float32(models.intensity_scale())
    obj = models.diffraction_to_obj.predict([s * cont.X, cont.local_offsets.astype(np.float32)], batch_size=16,
                                            verbose=0)
    off = np.array(cont.global_offsets, np.float64) * float(coord_scale)
    if flip_x:
        off[:, 0, 0, :] *= -1
    if flip_y:
        off[:, 0, 1, :] *= -1
    if transpose:
        off = off[:, :, ::-1, :].copy()
    img = np.asarray(stitching.reassemble_position(obj, off, M=int(M)))[..., 0]
    return img, np.abs(img), np.angle(img), off


def stitch_results(models: Models, results: dict, config, flip_x=False, flip_y=False, transpose=False,
                   M=20) -> tuple[np.ndarray, np.ndarray]:
    """Stitch the test container of a :func:`train` result into ``results`` (``obj_tensor_full``,
    ``global_offsets``, ``recon_amp``, ``recon_phase``); returns (amp, phase)."""
    img, amp, phase, off = reassemble(models, results["test_container"], config, flip_x, flip_y, transpose, M)
    results.update({"obj_tensor_full": img, "global_offsets": off, "recon_amp": amp, "recon_phase": phase})
    return amp, phase


def run(train_data, test_data, config, flip_x=False, flip_y=False, transpose=False, M=20, do_stitching=False, *,
        resume_from=None, policy=None, init_weights=None, checkpoints=None, progress: bool = False):
    """Train (:func:`train`) and, with ``do_stitching`` and test data, stitch the test reconstruction.

    Returns ``(amp, phase, results)``: amp/phase (H, W) when stitched, else (None, None); with stitching
    ``results`` also holds ``obj_tensor_full``, ``global_offsets``, ``recon_amp``, ``recon_phase``.
    ``checkpoints``: see :func:`default_checkpoints`.
    """
    models, results = train(train_data, test_data, config, None, resume_from=resume_from,
                            checkpoints=default_checkpoints(config, checkpoints), policy=policy,
                            init_weights=init_weights, progress=progress)
    if not (do_stitching and test_data is not None):
        return None, None, results
    amp, phase = stitch_results(models, results, config, flip_x, flip_y, transpose, M)
    return amp, phase, results
