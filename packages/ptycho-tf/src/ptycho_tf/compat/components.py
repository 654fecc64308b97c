"""``ptycho.workflows.components``: the TensorFlow workflow under the names ptychodus and the seed guide call
(specs/tf-backend.md §7, specs/ptychodus.md).

run_cdi_example(train_raw, test_raw, config) -> (amp, phase, results), train_cdi_model, reassemble_cdi_image,
save_outputs, load_inference_bundle, load_data (= ptycho.raw_data.load_data).

Each function wraps the explicit workflow :mod:`ptycho_tf.workflow` and then updates the legacy mirror
for the callers that read it: ``ptycho.params.cfg`` (the config, the trained intensity scale and probe) and the
current models of ``ptycho.model`` (what ``ptycho.model_manager.save`` persists). Nothing here reads the mirror
back except :func:`reassemble_cdi_image` called without models (the legacy call).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ptycho import params
from ptycho.atomic_io import atomic_write
from ptycho.config.config import update_legacy_dict
from ptycho.raw_data import load_data
from ptycho_tf import workflow
from ptycho_tf.compat import model as model_mod
from ptycho_tf.compat.model_manager import load_inference_bundle
from ptycho_tf.workflow import grouping_seed

__all__ = ["run_cdi_example", "train_cdi_model", "create_ptycho_data_container", "grouping_seed", "reassemble_cdi_image",
           "save_outputs", "load_inference_bundle", "load_data", "mirror_trained"]

#: the legacy name of :func:`ptycho_tf.workflow.create_data_container`
create_ptycho_data_container = workflow.create_data_container


def mirror_trained(models, config) -> None:
    """Update the legacy mirror after training: ``params.cfg`` from ``config``, the trained ``intensity_scale``
    and ``probe`` (N, N, 1), and ``models`` as the current models of ``ptycho.model`` (with ``config``)."""
    update_legacy_dict(params.cfg, config)
    params.set("intensity_scale", models.intensity_scale())
    params.set("probe", models.probe()[..., None])
    model_mod.set_current(models, config)


def train_cdi_model(train_data, test_data, config, seed: int | None = None, *, resume_from=None,
                    checkpoints: bool = True, policy=None, init_weights=None, progress: bool = False) -> dict:
    """:func:`ptycho_tf.workflow.train` (group, train, predict on test data), then the legacy mirror
    (:func:`mirror_trained`). Returns the results dict."""
    return _train(train_data, test_data, config, seed, resume_from=resume_from, checkpoints=checkpoints,
                  policy=policy, init_weights=init_weights, progress=progress)[1]


def _train(train_data, test_data, config, seed, *, resume_from, checkpoints, policy, init_weights, progress=False):
    """(Models, results dict) of :func:`train_cdi_model`."""
    models, results = workflow.train(train_data, test_data, config, seed, resume_from=resume_from,
                                     checkpoints=checkpoints, policy=policy, init_weights=init_weights,
                                     progress=progress)
    mirror_trained(models, config)
    return models, results


def reassemble_cdi_image(test_data, config, flip_x=False, flip_y=False, transpose=False, M=20, coord_scale=1.0,
                         *, models=None):
    """Stitch the predictions of ``models`` (a ``ptycho_tf.network.Models``, e.g. from
    ``ptycho.model_manager.load``) on ``test_data`` (RawData or container). ``models=None`` (the legacy
    call) uses the models most recently trained or loaded in this process.
    Returns (obj (H,W) complex64, amp, phase, global_offsets (P,1,2,1) after transforms)."""
    if models is None:
        models = model_mod.current_models()
    return workflow.reassemble(models, test_data, config, flip_x, flip_y, transpose, M, coord_scale)


def run_cdi_example(train_data, test_data, config, flip_x=False, flip_y=False, transpose=False, M=20,
                    do_stitching=False, *, resume_from=None, policy=None, init_weights=None, checkpoints=None,
                    progress: bool = False):
    """Train on ``train_data`` (RawData) with ``config`` (TrainingConfig); evaluate on ``test_data``.

    :func:`ptycho_tf.workflow.run`, with the legacy mirror updated after training
    (:func:`mirror_trained`), so ``ptycho.model_manager.save(prefix)`` afterwards saves the model trained here.
    Returns ``(amp, phase, results)``: amp/phase (H, W) of the stitched test reconstruction when
    ``do_stitching`` and test data are given, else (None, None).

    ``results`` holds ``history`` ({'train_loss': [...], 'val_loss': [...]} plus the Keras history keys),
    ``history_epochs``, ``model_instance``, ``models``, ``tf_models`` (the trained
    ``ptycho_tf.network.Models`` pair, for ``ptycho_tf.bundle.save_bundle`` and
    ``reassemble_cdi_image(models=...)``), ``train_container``, ``test_container`` and, with test data,
    ``reconstructed_obj``, ``pred_amp``, ``reconstructed_obj_cdi``; with stitching also ``obj_tensor_full``,
    ``global_offsets``, ``recon_amp``, ``recon_phase``.

    ``resume_from``, ``policy``, ``init_weights`` and ``progress`` (one line per epoch on stdout): see
    :func:`ptycho_tf.workflow.train`. ``checkpoints``: see
    :func:`ptycho_tf.workflow.default_checkpoints` (None: none when ``output_dir`` is ``Path()``).
    """
    models, results = _train(train_data, test_data, config, None, resume_from=resume_from,
                             checkpoints=workflow.default_checkpoints(config, checkpoints), policy=policy,
                             init_weights=init_weights, progress=progress)
    if not (do_stitching and test_data is not None):
        return None, None, results
    amp, phase = workflow.stitch_results(models, results, config, flip_x, flip_y, transpose, M)
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
