"""The ``wts.h5.zip`` model bundle (specs/tf-backend.md §5, specs/bundle-format.md).

Zip members (all at the root):
  manifest.json      {"backend": "tensorflow", "format_version": 1, "weights": "model.weights.h5",
                      "module_kwargs": {}, "models", "N", "gridsize", "files": {member: sha256}}
  config.json        the canonical config (``ptycho.config.config.config_to_dict``)
  model.weights.h5   Keras 3 weights of the autoencoder (diffraction_to_obj shares them)
  physics.npz        intensity_scale (float64 scalar), probe ((N, N) complex64); np.load(allow_pickle=False)

Loading never executes code from the file: the models are rebuilt from config.json with
:func:`ptycho.tf_backend.network.build_models` and ``load_weights`` fills them.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .network import Models, build_models

BUNDLE_NAME = "wts.h5.zip"
FORMAT_VERSION = 1
BACKEND = "tensorflow"
MODEL_NAMES = ["autoencoder", "diffraction_to_obj"]


def bundle_path(location) -> Path:
    """``location`` if it ends in .zip, else ``location / 'wts.h5.zip'``."""
    p = Path(location)
    return p if p.suffix == ".zip" else p / BUNDLE_NAME


def save_bundle(location, models: Models, config) -> Path:
    """Write the bundle atomically; returns its path.

    Args:
      location: output directory (created) or an explicit ``*.zip`` path.
      models: the trained :class:`Models` (intensity scale and probe are read from their weights).
      config: a canonical TrainingConfig / InferenceConfig / ModelConfig describing the network.
    """
    from ptycho.atomic_io import atomic_write
    from ptycho.config.config import config_to_dict

    path = bundle_path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg_dict = config_to_dict(config)
    from ptycho.atomic_io import write_npz

    phys = io.BytesIO()
    write_npz(phys, {"intensity_scale": np.float64(models.intensity_scale()), "probe": models.probe()})
    with tempfile.TemporaryDirectory() as tmp:
        wpath = Path(tmp) / "model.weights.h5"
        models.autoencoder.save_weights(str(wpath))
        members = {"config.json": json.dumps(cfg_dict, indent=2).encode(), "model.weights.h5": wpath.read_bytes(),
                   "physics.npz": phys.getvalue()}
    manifest = {"backend": BACKEND, "format_version": FORMAT_VERSION, "models": MODEL_NAMES,
                "N": models.n, "gridsize": models.gridsize, "weights": "model.weights.h5", "module_kwargs": {},
                "files": {k: hashlib.sha256(v).hexdigest() for k, v in members.items()}}
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        for k, v in members.items():
            zf.writestr(k, v)
    return path


def read_manifest(path) -> dict:
    """Manifest of a bundle; raises ValueError/FileNotFoundError with the path on bad input."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model bundle not found (expected a {BUNDLE_NAME} file)")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "manifest.json" not in names:
                found = "manifest.dill (an original PtychoPINN bundle)" if "manifest.dill" in names else sorted(names)[:5]
                raise ValueError(f"{path}: expected manifest.json at the zip root, found {found}")
            return json.loads(zf.read("manifest.json"))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: expected a zip model bundle, found an unreadable file ({exc})") from exc


def load_bundle(location):
    """Load a TensorFlow bundle.

    Returns: ``(models, config, extras)`` where ``config`` is the canonical config object stored in
    config.json and ``extras = {'intensity_scale': float, 'probe': (N, N) complex64, 'manifest': dict}``.
    Raises ValueError when the bundle was written by another backend (naming both) or is malformed.
    """
    from ptycho.config.config import config_from_dict

    path = bundle_path(location)
    manifest = read_manifest(path)
    backend = manifest.get("backend")
    if backend != BACKEND:
        raise ValueError(f"{path}: bundle was written by the {backend!r} backend but is being loaded by the "
                         f"'tensorflow' backend; load it with the pytorch backend (ptycho_torch)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: manifest.json format_version: expected {FORMAT_VERSION}, "
                         f"found {manifest.get('format_version')!r}")
    with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as tmp:
        missing = [f for f in ("config.json", "model.weights.h5", "physics.npz") if f not in zf.namelist()]
        if missing:
            raise ValueError(f"{path}: bundle member(s) missing: {', '.join(missing)}")
        files = manifest.get("files") or {}
        extra = sorted(set(zf.namelist()) - set(files) - {"manifest.json"})
        if extra:
            raise ValueError(f"{path}: members not listed in manifest.json files: {', '.join(extra)}")
        for name, digest in files.items():
            if hashlib.sha256(zf.read(name)).hexdigest() != digest:
                raise ValueError(f"{path}: {name}: sha256 does not match manifest.json")
        config = config_from_dict(json.loads(zf.read("config.json")))
        with np.load(io.BytesIO(zf.read("physics.npz")), allow_pickle=False) as z:
            s = float(z["intensity_scale"])
            probe = np.asarray(z["probe"], np.complex64)
        model_cfg = config.model if hasattr(config, "model") else config
        models = build_models(model_cfg, probe=probe, intensity_scale=s)
        zf.extract("model.weights.h5", tmp)
        models.autoencoder.load_weights(str(Path(tmp) / "model.weights.h5"))
    return models, config, {"intensity_scale": models.intensity_scale(), "probe": models.probe(),
                            "manifest": manifest}
