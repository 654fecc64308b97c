"""Model bundle ``wts.h5.zip``: safe, backend-tagged save/load (normative text: specs/bundle-format.md).

A bundle is a ZIP archive holding only data, never code:

    manifest.json         {'backend', 'format_version', 'package_version', 'models', 'weights',
                           'module_kwargs', 'files': {member: sha256 hex}}
    config.json           canonical TrainingConfig as ``ptycho.config.config.config_to_dict`` writes it
    weights.safetensors   state dict of the Lightning module (float32 tensors)
    physics.npz           'probe' (N, N) (or (K, N, N) modes) complex64 normalised probe,
                          'intensity_scale' () float64

Loading executes nothing from the file: JSON, safetensors and ``numpy.load(allow_pickle=False)``
only. Member names, sizes, hashes and the backend tag are checked before anything is decoded; any
violation raises :class:`BundleError` (a ``ValueError``) whose one-line message names the file.

The format (:func:`save_torch_bundle`, :func:`read_bundle`) and the trained model saved and loaded through it
(:func:`save_torch_model_bundle`, :func:`load_inference_bundle_torch`) - the job of the TensorFlow backend's
``ptycho_tf.bundle``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.bundle_zip import (
    MAX_UNCOMPRESSED_BYTES,
    BundleError,
    BundleNotFoundError,
    open_checked,
    read_json_member,
    read_member,
)

BUNDLE_NAME = "wts.h5.zip"
FORMAT_VERSION = 1
BACKEND = "pytorch"
MANIFEST = "manifest.json"
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
PHYSICS = "physics.npz"
# Safe zip reading (names, sizes, bounded reads) and BundleError live in ptycho.bundle_zip, shared with
# the TensorFlow backend; MAX_UNCOMPRESSED_BYTES (zip-bomb guard) is re-exported from there.


@dataclass
class Bundle:
    """Decoded bundle contents.

    Attributes:
        path: the ``.zip`` file read.
        manifest: parsed manifest.json.
        config: parsed config.json (canonical config dict; decode with ``config_from_dict``).
        state_dict: weights, name -> tensor (CPU).
        probe: (N, N) complex64 normalised probe, or (K, N, N) incoherent modes.
        intensity_scale: float, s = sqrt(nphotons)/(N/2) used by the model.
    """

    path: Path
    manifest: dict[str, Any]
    config: dict[str, Any]
    state_dict: dict[str, Any]
    probe: np.ndarray
    intensity_scale: float
    module_kwargs: dict[str, Any] = field(default_factory=dict)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _package_version() -> str:
    from ptycho_torch import __version__

    return __version__


def resolve_bundle_path(output_dir_or_bundle: str | Path) -> Path:
    """Map a run directory (containing ``wts.h5.zip``), a ``.../wts.h5`` base name or the zip itself to the zip path."""
    p = Path(output_dir_or_bundle)
    if p.is_dir():
        return p / BUNDLE_NAME
    if p.suffix != ".zip" and p.with_name(p.name + ".zip").exists():
        return p.with_name(p.name + ".zip")
    return p


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    from ptycho.atomic_io import atomic_write

    with atomic_write(path, "wb") as fh:
        fh.write(data)


def save_torch_bundle(
    output_dir_or_bundle: str | Path,
    *,
    state_dict: dict[str, Any],
    config_dict: dict[str, Any],
    probe: Any,
    intensity_scale: float,
    module_kwargs: dict[str, Any] | None = None,
    models: tuple[str, ...] = ("lightning_module", "diffraction_to_obj"),
) -> Path:
    """Write a PyTorch bundle atomically and return its path.

    Args:
        output_dir_or_bundle: run directory (the bundle becomes ``<dir>/wts.h5.zip``) or a ``.zip`` path.
        state_dict: module state dict; tensors are copied to contiguous CPU memory.
        config_dict: JSON-able canonical config (``config_to_dict(TrainingConfig)``).
        probe: (N, N) complex probe or (K, N, N) modes (numpy or torch), stored as complex64.
        intensity_scale: positive finite float.
        module_kwargs: JSON-able Lightning constructor keywords (learning_rate, scheduler, ...).
        models: names of the callables a loader rebuilds from the weights.

    Raises:
        ValueError: non-finite/non-positive intensity_scale, probe not 2-D square complex, or a
            non-JSON-able config/module_kwargs.
    """
    import torch
    from safetensors.torch import save as st_save

    s = float(intensity_scale)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"intensity_scale: expected a positive finite float, found {intensity_scale!r}")
    probe_np = probe.detach().cpu().numpy() if hasattr(probe, "detach") else np.asarray(probe)
    probe_np = np.squeeze(probe_np)
    if probe_np.ndim not in (2, 3) or probe_np.shape[-1] != probe_np.shape[-2]:
        raise ValueError(f"probe: expected a square (N, N) array or (K, N, N) modes, found shape {probe_np.shape}")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items() if torch.is_tensor(v)}
    try:
        config_bytes = json.dumps(config_dict, indent=2, sort_keys=True).encode()
        kwargs = dict(module_kwargs or {})
        json.dumps(kwargs)
    except TypeError as exc:
        raise ValueError(f"bundle config/module_kwargs: expected JSON-able values ({exc})") from None
    from ptycho.atomic_io import write_npz

    phys = io.BytesIO()
    write_npz(phys, {"probe": probe_np.astype(np.complex64), "intensity_scale": np.float64(s)})
    members = {CONFIG: config_bytes, WEIGHTS: st_save(tensors), PHYSICS: phys.getvalue()}
    manifest = {
        "backend": BACKEND,
        "format_version": FORMAT_VERSION,
        "package_version": _package_version(),
        "models": list(models),
        "weights": WEIGHTS,
        "module_kwargs": kwargs,
        "files": {name: _sha256(data) for name, data in members.items()},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
        for name, data in members.items():
            zf.writestr(name, data)
    path = resolve_bundle_path(output_dir_or_bundle)
    if path.suffix != ".zip":
        path = path / BUNDLE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_bytes_atomic(path, buf.getvalue())
    return path


def read_bundle(
    output_dir_or_bundle: str | Path,
    *,
    expected_backend: str = BACKEND,
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES,
) -> Bundle:
    """Validate and decode a bundle without executing anything stored in it.

    Raises:
        BundleNotFoundError: nothing at the path.
        BundleError: not a zip, truncated, unsafe member names, too large, missing/extra members,
            hash mismatch, unknown format_version, or ``manifest['backend'] != expected_backend``
            (the message names both backends).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    path = resolve_bundle_path(output_dir_or_bundle)
    with open_checked(path, max_uncompressed_bytes) as zf:
        names = zf.namelist()
        if MANIFEST not in names:
            raise BundleError(f"{path}: no {MANIFEST}; expected a PtychoPINN bundle (format_version {FORMAT_VERSION})")
        manifest = read_json_member(zf, path, MANIFEST)
        backend = manifest.get("backend")
        if backend != expected_backend:
            raise BundleError(
                f"{path}: bundle was written by the {backend!r} backend but is being loaded by the "
                f"{expected_backend!r} backend; load it with backend={backend!r}"
            )
        version = manifest.get("format_version")
        if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise BundleError(f"{path}: format_version {version!r} is not supported (this reader knows 1..{FORMAT_VERSION})")
        files = manifest.get("files")
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise BundleError(f"{path}: manifest 'files' must map member names to sha256 hex strings")
        required = {CONFIG, manifest.get("weights", WEIGHTS), PHYSICS}
        missing = sorted(required - set(files))
        if missing:
            raise BundleError(f"{path}: manifest 'files' lacks required members {missing}")
        extra = sorted(set(names) - set(files) - {MANIFEST})
        if extra:
            raise BundleError(f"{path}: unexpected members not listed in the manifest: {extra}")
        blobs: dict[str, bytes] = {}
        budget = max_uncompressed_bytes
        for name, digest in files.items():
            data = read_member(zf, path, name, budget)
            budget -= len(data)
            if _sha256(data) != digest:
                raise BundleError(f"{path}: sha256 of member {name!r} does not match the manifest (corrupt or modified)")
            blobs[name] = data
    try:
        config = json.loads(blobs[CONFIG])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: {CONFIG} is not valid JSON ({exc})") from None
    try:
        state_dict = st_load(blobs[manifest.get("weights", WEIGHTS)])
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise BundleError(f"{path}: weights are not a valid safetensors file ({exc})") from None
    try:
        with np.load(io.BytesIO(blobs[PHYSICS]), allow_pickle=False) as npz:
            probe = np.asarray(npz["probe"])
            s = float(npz["intensity_scale"])
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BundleError(f"{path}: {PHYSICS} must hold 'probe' and 'intensity_scale' ({exc})") from None
    if probe.ndim not in (2, 3) or probe.dtype != np.complex64 or probe.shape[-1] != probe.shape[-2]:
        raise BundleError(f"{path}: probe must be (N, N) or (K, N, N) modes complex64, found {probe.shape} {probe.dtype}")
    if not np.isfinite(s) or s <= 0:
        raise BundleError(f"{path}: intensity_scale must be positive and finite, found {s}")
    kwargs = manifest.get("module_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise BundleError(f"{path}: manifest 'module_kwargs' must be an object")
    return Bundle(path, manifest, config, state_dict, probe, s, kwargs)


def load_torch_checkpoint_weights(ckpt_path: str | Path) -> dict[str, Any]:
    """Read the ``state_dict`` of a Lightning ``.ckpt`` with ``torch.load(weights_only=True)`` (no pickle code)."""
    import torch

    ckpt = torch.load(Path(ckpt_path), map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise BundleError(f"{ckpt_path}: expected a Lightning checkpoint with a 'state_dict' entry")
    return ckpt["state_dict"]



def save_torch_model_bundle(results: Mapping[str, Any], config: Any, output_dir: str | Path | None = None) -> Path:
    """Write ``<output_dir>/wts.h5.zip`` for the trained module in ``results`` (specs/bundle-format.md)."""
    from ptycho.config.config import config_to_dict

    module = results["models"]["lightning_module"]
    return save_torch_bundle(
        Path(output_dir if output_dir is not None else config.output_dir),
        state_dict=module.state_dict(),
        config_dict=config_to_dict(config),
        probe=results["probe"],
        intensity_scale=results["intensity_scale"],
        module_kwargs=results.get("module_kwargs") or {},
    )


def load_inference_bundle_torch(output_dir_or_bundle: str | Path, **read_kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Load ``wts.h5.zip`` (a run directory or the zip path) -> (models_dict, TrainingConfig).

    models_dict: 'lightning_module' (PtychoPINN_Lightning in eval mode, weights loaded strictly),
    'diffraction_to_obj' (:class:`DiffractionToObject`), plus 'intensity_scale' (float) and 'probe'
    ((N, N) complex64 tensor). The config is the canonical TrainingConfig stored in the bundle.

    Raises:
        BundleNotFoundError / BundleError: see :func:`read_bundle`; also when the
            stored config or weights do not fit the model they describe.
    """
    import torch

    from ptycho.config.config import config_from_dict
    from ptycho_torch.model import PtychoPINN_Lightning
    from ptycho_torch.workflows.models import models_dict

    bundle = read_bundle(output_dir_or_bundle, **read_kwargs)
    try:
        config = config_from_dict(bundle.config)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"{bundle.path}: config.json is not a valid canonical config ({exc})") from None
    if not hasattr(config, "nepochs"):
        raise BundleError(f"{bundle.path}: config.json holds a {type(config).__name__}, expected a TrainingConfig")
    kwargs = dict(bundle.module_kwargs)
    probe = torch.from_numpy(bundle.probe)
    module = PtychoPINN_Lightning(config.model, config, probe, bundle.intensity_scale, **kwargs)
    try:
        module.load_state_dict(bundle.state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BundleError(f"{bundle.path}: weights do not match the stored model config ({first})") from None
    module.eval()
    models = models_dict(module, bundle.intensity_scale)
    models["intensity_scale"] = bundle.intensity_scale
    models["probe"] = probe
    return models, config


__all__ = [
    "BACKEND",
    "BUNDLE_NAME",
    "FORMAT_VERSION",
    "Bundle",
    "BundleError",
    "BundleNotFoundError",
    "load_inference_bundle_torch",
    "load_torch_checkpoint_weights",
    "read_bundle",
    "resolve_bundle_path",
    "save_torch_bundle",
    "save_torch_model_bundle",
]
