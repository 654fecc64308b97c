"""The ``wts.h5.zip`` model bundle (specs/tf-backend.md §5, specs/bundle-format.md).

Zip members (all at the root):
  manifest.json      {"backend": "tensorflow", "format_version": 1, "weights": "model.weights.h5",
                      "module_kwargs": {}, "models", "N", "gridsize", "files": {member: sha256}}
  config.json        the canonical config (``ptycho.config.config.config_to_dict``)
  model.weights.h5   Keras 3 weights of the autoencoder (diffraction_to_obj shares them)
  physics.npz        intensity_scale (float64 scalar), probe ((N, N) complex64, or (K, N, N) incoherent modes);
                     np.load(allow_pickle=False)

Loading never executes code from the file: the models are rebuilt from config.json with
:func:`ptycho_tf.network.build_models` and ``load_weights`` fills them.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ptycho.bundle_zip import (
    MAX_UNCOMPRESSED_BYTES,
    BundleError,
    open_checked,
    read_json_member,
    read_member,
    resolve_bundle,
)

from .layers import MAX_PROBE_MODES
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


# Safe zip reading (names, sizes, bounded reads), MAX_UNCOMPRESSED_BYTES and BundleError come from
# ptycho.bundle_zip, shared with the PyTorch backend.
_REQUIRED = ("config.json", "model.weights.h5", "physics.npz")


def _manifest(zf, path: Path) -> dict:
    names = set(zf.namelist())
    if "manifest.json" not in names:
        found = "manifest.dill (an original PtychoPINN bundle)" if "manifest.dill" in names else sorted(names)[:5]
        raise BundleError(f"{path}: expected manifest.json at the zip root, found {found}")
    return read_json_member(zf, path, "manifest.json")


def read_manifest(path, *, max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES) -> dict:
    """Manifest of a bundle; FileNotFoundError / BundleError (a ValueError) with the path on bad input."""
    path = resolve_bundle(path, BUNDLE_NAME)
    with open_checked(path, max_uncompressed_bytes) as zf:
        return _manifest(zf, path)


def load_bundle(location, *, max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES):
    """Load a TensorFlow bundle without executing anything stored in it (specs/bundle-format.md §4).

    ``location``: the bundle zip, a folder holding ``wts.h5.zip``, or a folder of its unzipped members
    (ptychodus's "open model", specs/ptychodus.md §4).
    Returns: ``(models, config, extras)`` where ``config`` is the canonical config object stored in
    config.json and ``extras = {'intensity_scale': float, 'probe': (N, N) complex64 (or (K, N, N) modes: the
    model is rebuilt with K), 'manifest': dict}``.
    Raises: FileNotFoundError (no file); BundleError (a ValueError, one line naming the file) when the
    bundle was written by another backend (naming both), is truncated, foreign, unsafe (member names,
    size), tampered (sha256) or does not fit the model its config describes.
    """
    from ptycho.config.config import config_from_dict

    path = resolve_bundle(location, BUNDLE_NAME)
    with open_checked(path, max_uncompressed_bytes) as zf:
        manifest = _manifest(zf, path)
        backend = manifest.get("backend")
        if backend != BACKEND:
            raise BundleError(f"{path}: bundle was written by the {backend!r} backend but is being loaded by the "
                              f"'tensorflow' backend; load it with the pytorch backend (ptycho_torch)")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"{path}: manifest.json format_version: expected {FORMAT_VERSION}, "
                              f"found {manifest.get('format_version')!r}")
        files = manifest.get("files")
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise BundleError(f"{path}: manifest 'files' must map member names to sha256 hex strings")
        missing = [f for f in _REQUIRED if f not in zf.namelist() or f not in files]
        if missing:
            raise BundleError(f"{path}: bundle member(s) missing: {', '.join(missing)}")
        extra = sorted(set(zf.namelist()) - set(files) - {"manifest.json"})
        if extra:
            raise BundleError(f"{path}: members not listed in manifest.json files: {', '.join(extra)}")
        blobs, budget = {}, max_uncompressed_bytes
        for name, digest in files.items():
            data = read_member(zf, path, name, budget)
            budget -= len(data)
            if hashlib.sha256(data).hexdigest() != digest:
                raise BundleError(f"{path}: {name}: sha256 does not match manifest.json")
            blobs[name] = data
    try:
        config = config_from_dict(json.loads(blobs["config.json"]))
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: config.json is not a valid canonical config ({exc})") from None
    try:
        with np.load(io.BytesIO(blobs["physics.npz"]), allow_pickle=False) as z:
            s = float(z["intensity_scale"])
            probe = np.asarray(z["probe"])
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise BundleError(f"{path}: physics.npz must hold 'intensity_scale' and 'probe' ({exc})") from None
    model_cfg = config.model if hasattr(config, "model") else config
    n = int(model_cfg.N)
    modes_ok = probe.ndim == 3 and probe.shape[1:] == (n, n) and 2 <= probe.shape[0] <= MAX_PROBE_MODES
    if (probe.shape != (n, n) and not modes_ok) or not np.iscomplexobj(probe) or not np.isfinite(s) or s <= 0:
        raise BundleError(f"{path}: physics.npz: expected a ({n}, {n}) complex probe or (K, {n}, {n}) modes (config "
                          f"N={n}) and a positive finite intensity_scale, found {probe.shape} {probe.dtype} and {s}")
    models = build_models(model_cfg, probe=probe.astype(np.complex64), intensity_scale=s)
    with tempfile.TemporaryDirectory() as tmp:
        wpath = Path(tmp) / "model.weights.h5"
        wpath.write_bytes(blobs["model.weights.h5"])
        try:  # HDF5 arrays only: Keras reads the weight datasets, never code
            models.autoencoder.load_weights(str(wpath))
        except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types for damaged or mismatched files
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise BundleError(f"{path}: model.weights.h5 does not fit the stored model config ({first})") from None
    return models, config, {"intensity_scale": models.intensity_scale(), "probe": models.probe(),
                            "manifest": manifest}
