"""``ptycho.model_manager``: save / load the ``wts.h5.zip`` bundle (specs/tf-backend.md §5).

``save(out_prefix)`` persists the models most recently trained (or built) in this process together
with the config they were trained with — the call ptychodus makes right after ``run_cdi_example``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptycho import params
from ptycho.config.config import update_legacy_dict
from ptycho_tf import bundle
from ptycho_tf.compat import model as model_mod

__all__ = ["save", "load", "ModelManager", "load_inference_bundle"]


def save(out_prefix) -> Path:
    """Write ``<out_prefix>/wts.h5.zip`` for the current models; returns the bundle path."""

    models = model_mod.current_models()
    cfg = model_mod.current_config()
    if cfg is None:
        cfg = model_mod.training_config_from_params(
            model_mod.model_config_from_params(N=models.n, gridsize=models.gridsize))
    return bundle.save_bundle(out_prefix, models, cfg)


def load(model_dir):
    """(Models, config, extras) of a bundle directory or zip path (see ptycho_tf.bundle.load_bundle)."""
    return bundle.load_bundle(model_dir)


def load_inference_bundle(model_dir):
    """Load a bundle for inference: returns ``(diffraction_to_obj, params_dict)``.

    The legacy mirror is updated from the bundle (config fields, ``intensity_scale``, ``probe``) so
    ptychodus can read ``ptycho.params.get('intensity_scale')``; the returned dict is a copy of it.
    Raises ValueError if ``model_dir`` is not a directory / zip, FileNotFoundError if no bundle.
    """
    p = Path(model_dir)
    if not (p.is_dir() or p.suffix == ".zip"):
        raise ValueError(f"{p}: expected a directory containing {bundle.BUNDLE_NAME} (or the zip itself)")
    models, cfg, extras = bundle.load_bundle(p)
    update_legacy_dict(params.cfg, cfg.model if hasattr(cfg, "model") else cfg)
    params.set("intensity_scale", float(extras["intensity_scale"]))
    params.set("probe", np.asarray(extras["probe"], np.complex64)[..., None])
    model_mod.set_current(models, cfg)
    return models.diffraction_to_obj, dict(params.cfg)


class ModelManager:
    """Static helpers kept for the legacy API."""

    @staticmethod
    def save_model(models, out_dir, config) -> Path:
        return bundle.save_bundle(out_dir, models, config)

    @staticmethod
    def load_model(model_dir):
        return bundle.load_bundle(model_dir)

    @staticmethod
    def save_multiple_models(models, base_path, config) -> Path:
        """``base_path`` is the bundle path without '.zip' (legacy spelling) or a directory."""
        p = Path(base_path)
        return bundle.save_bundle(p.with_name(p.name + ".zip") if p.suffix == ".h5" else p, models, config)

    @staticmethod
    def load_multiple_models(base_path, model_names=None) -> dict:
        p = Path(base_path)
        models, _, _ = bundle.load_bundle(p.with_name(p.name + ".zip") if p.suffix == ".h5" else p)
        out = {"autoencoder": models.autoencoder, "diffraction_to_obj": models.diffraction_to_obj}
        return out if model_names is None else {k: out[k] for k in model_names}
