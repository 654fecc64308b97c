"""``ptycho.workflows.components``: end-to-end TensorFlow workflow used by ptychodus (specs/tf-backend.md §7).

run_cdi_example(train_raw, test_raw, config) -> (amp, phase, results), save_outputs, load_inference_bundle,
load_data (= ptycho.raw_data.load_data).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ptycho import loader, params
from ptycho.config.config import effective_seed, resume_checkpoint, validation_groups
from ptycho.model_manager import load_inference_bundle
from ptycho.raw_data import load_data

__all__ = ["run_cdi_example", "train_cdi_model", "create_ptycho_data_container", "grouping_seed", "reassemble_cdi_image",
           "save_outputs", "load_inference_bundle", "load_data"]


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


def create_ptycho_data_container(data, config, seed: int | None = None, n_groups: int | None = None):
    """Group a RawData (or pass a container through) with the config's grouping settings.

    The grouping seed is :func:`grouping_seed` ``(config, seed)`` (``config.subsample_seed``, else
    ``DEFAULT_SEED``, as in the PyTorch backend); it is recorded as the container's ``grouping_seed``.
    """
    if isinstance(data, loader.PtychoDataContainer):
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
    cont = loader.load(lambda: d, data.probeGuess, which=None, create_split=False, nphotons=float(config.nphotons))
    cont.grouping_seed = used
    return cont


def train_cdi_model(train_data, test_data, config, seed: int | None = None, *, resume_from=None,
                    checkpoints: bool = True, policy=None, init_weights=None, progress: bool = False) -> dict:
    """Group, train (explicit config) and, with test data, predict. Returns the results dict.

    Seeds (specs/tf-backend.md §7): grouping and training (weight init, validation split, batch order) use
    :func:`grouping_seed` ``(config, seed)`` - ``seed``, else ``config.subsample_seed``, else ``DEFAULT_SEED``
    (the rule both backends share, so one config groups and trains identically in each).
    With ``checkpoints`` the resume point ``<config.output_dir>/checkpoints/last.ckpt`` is written atomically
    after every epoch; ``resume_from`` (True, a run directory or the file) continues from one
    (specs/reliability.md §1). ``policy``: a ``ptycho.tf_backend.training.TrainingPolicy`` (validation
    hold-out, learning-rate plateau, early stopping); None = the trainer's defaults.
    ``init_weights``, ``progress`` (one line per epoch on stdout): see :func:`ptycho.train_pinn.train_with_config`.
    The legacy mirror ``ptycho.params`` receives the config, the trained intensity scale and probe
    (what ptychodus reads after training); nothing in this workflow reads it back."""
    return _train(train_data, test_data, config, seed, resume_from=resume_from, checkpoints=checkpoints,
                  policy=policy, init_weights=init_weights, progress=progress)[1]


def _train(train_data, test_data, config, seed, *, resume_from, checkpoints, policy, init_weights, progress=False):
    """(Models, results dict) of :func:`train_cdi_model`."""
    from ptycho import train_pinn
    from ptycho.config.config import update_legacy_dict

    resume_path = resume_checkpoint(resume_from, config.output_dir)
    run_seed = grouping_seed(config, seed)
    train_c = create_ptycho_data_container(train_data, config, run_seed)
    test_c = None
    if test_data is not None:  # a small validation scan must not fail at gridsize > 1 (specs/config.md §3)
        val_groups = validation_groups(config, len(test_data)) if hasattr(test_data, "diff3d") else None
        test_c = create_ptycho_data_container(test_data, config, run_seed, n_groups=val_groups)
    ckpt = Path(config.output_dir) / "checkpoints" / "last.ckpt" if checkpoints else None
    models, hist = train_pinn.train_with_config(train_c, config, seed=run_seed,
                                                checkpoint_path=ckpt, resume_from=resume_path, policy=policy,
                                                init_weights=init_weights, progress=progress)
    update_legacy_dict(params.cfg, config)
    params.set("intensity_scale", models.intensity_scale())
    params.set("probe", models.probe()[..., None])
    history = {"train_loss": hist["train_loss"], "val_loss": hist["val_loss"], **hist["keras"]}
    results = {"history": history, "history_epochs": len(hist["train_loss"]), "model_instance": models.autoencoder,
               "models": {"autoencoder": models.autoencoder, "diffraction_to_obj": models.diffraction_to_obj},
               "train_container": train_c, "test_container": test_c, "intensity_scale": models.intensity_scale(),
               "tf_models": models}
    if test_c is not None:
        results.update({k: v for k, v in train_pinn.eval(test_c, hist, models.autoencoder).items() if k != "history"})
    return models, results


def reassemble_cdi_image(test_data, config, flip_x=False, flip_y=False, transpose=False, M=20, coord_scale=1.0,
                         *, models=None):
    """Stitch the predictions of ``models`` (a ``ptycho.tf_backend.network.Models``, e.g. from
    ``ptycho.model_manager.load``) on ``test_data`` (RawData or container). ``models=None`` (the legacy
    call) uses the models most recently trained or loaded in this process.
    Returns (obj (H,W) complex64, amp, phase, global_offsets (P,1,2,1) after transforms)."""
    from ptycho import tf_helper

    cont = create_ptycho_data_container(test_data, config)
    if models is None:
        from ptycho import model as model_mod

        models = model_mod.current_models()
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
    img = np.asarray(tf_helper.reassemble_position(obj, off, M=int(M)))[..., 0]
    return img, np.abs(img), np.angle(img), off


def run_cdi_example(train_data, test_data, config, flip_x=False, flip_y=False, transpose=False, M=20,
                    do_stitching=False, *, resume_from=None, policy=None, init_weights=None, checkpoints=None,
                    progress: bool = False):
    """Train on ``train_data`` (RawData) with ``config`` (TrainingConfig); evaluate on ``test_data``.

    Returns ``(amp, phase, results)``: amp/phase (H, W) of the stitched test reconstruction when
    ``do_stitching`` and test data are given, else (None, None).

    ``results`` holds ``history`` ({'train_loss': [...], 'val_loss': [...]} plus the Keras history keys),
    ``history_epochs``, ``model_instance``, ``models``, ``tf_models`` (the trained
    ``ptycho.tf_backend.network.Models`` pair, for ``ptycho.tf_backend.bundle.save_bundle`` and
    ``reassemble_cdi_image(models=...)``), ``train_container``, ``test_container`` and, with test data,
    ``reconstructed_obj``, ``pred_amp``, ``reconstructed_obj_cdi``; with stitching also ``obj_tensor_full``,
    ``global_offsets``, ``recon_amp``, ``recon_phase``. ``ptycho.model_manager.save(prefix)`` afterwards saves
    the model trained here.

    ``resume_from``, ``policy``, ``init_weights`` and ``progress`` (one line per epoch on stdout): see
    :func:`train_cdi_model`. ``checkpoints``: write the resume point ``<output_dir>/checkpoints/last.ckpt``;
    None (the legacy call) writes it unless ``config.output_dir`` is the empty path ``Path()``, which
    ptychodus passes to mean "no output directory" (specs/ptychodus.md §3).
    """
    if checkpoints is None:
        checkpoints = str(config.output_dir) != "."
    models, results = _train(train_data, test_data, config, None, resume_from=resume_from,
                             checkpoints=bool(checkpoints), policy=policy, init_weights=init_weights,
                             progress=progress)
    if not (do_stitching and test_data is not None):
        return None, None, results
    img, amp, phase, off = reassemble_cdi_image(results["test_container"], config, flip_x, flip_y, transpose, M,
                                                models=models)
    results.update({"obj_tensor_full": img, "global_offsets": off, "recon_amp": amp, "recon_phase": phase})
    return amp, phase, results


def _png_bytes(image, cmap: str, title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 8))
    ax = fig.add_subplot(111)
    im = ax.imshow(np.asarray(image), cmap=cmap)
    fig.colorbar(im, ax=ax)
    ax.set_title(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def save_outputs(amplitude, phase, results, output_prefix) -> None:
    """Write ``reconstructed_amplitude.png`` (gray) and ``reconstructed_phase.png`` (viridis) into
    ``output_prefix`` (created) when both images are given; atomic writes."""
    from ptycho.atomic_io import atomic_write

    out = Path(output_prefix)
    out.mkdir(parents=True, exist_ok=True)
    if amplitude is None or phase is None:
        return
    for name, img, cmap, title in (("reconstructed_amplitude.png", amplitude, "gray", "Amplitude"),
                                   ("reconstructed_phase.png", phase, "viridis", "Phase")):
        img = np.squeeze(np.asarray(img))
        if img.ndim != 2:
            raise ValueError(f"save_outputs: {name}: expected a 2-D image, found shape {img.shape}")
        data = _png_bytes(img, cmap, title)
        with atomic_write(out / name, "wb") as fh:
            fh.write(data)
