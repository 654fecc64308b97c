"""Backend selection: route a canonical config to the TensorFlow or the PyTorch workflow
(normative text: specs/backend-selection.md).

The backends sit above this package: each registers one object satisfying the protocol
:class:`ptycho_bridge.backend_api.Backend` under the entry-point group ``ptycho.backends``
(``tensorflow = "ptycho_tf.backend:BACKEND"`` in ptycho-tf, ``pytorch = "ptycho_torch.backend:BACKEND"`` in
ptycho-torch); :func:`load_backend` returns the one a name selects, so no module of this package names a backend
module. ``run_cdi_example_with_backend`` and ``load_inference_bundle_with_backend`` first mirror the config into
``ptycho.params.cfg`` (``update_legacy_dict``), then call the ``run_cdi_example`` / ``load_inference_bundle`` of
the backend ``config.backend`` names (the seed guide's calls; the other framework is never imported). A missing
backend raises ``RuntimeError`` with the install command; there is no silent fallback to the other backend.
Importing this module imports neither framework.
``available_backends`` and ``resolve_backend`` are the one backend-choice rule, used by the ``ptycho``
command line too (specs/backend-selection.md §5).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from ptycho import params
from ptycho.config.config import BACKENDS, TrainingConfig, update_legacy_dict
from ptycho_bridge.backend_api import Backend
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for

__all__ = [
    "run_cdi_example_with_backend",
    "load_inference_bundle_with_backend",
    "load_backend",
    "available_backends",
    "resolve_backend",
    "BACKEND_ALIASES",
    "ENTRY_POINT_GROUP",
    "TORCH_INSTALL_MESSAGE",
    "TENSORFLOW_INSTALL_MESSAGE",
]

#: entry-point group under which each backend package registers its ``Backend`` object
ENTRY_POINT_GROUP = "ptycho.backends"
#: short spellings accepted where a person types a backend name (``ptycho --backend torch``)
BACKEND_ALIASES = {"torch": "pytorch", "tf": "tensorflow"}

TORCH_INSTALL_MESSAGE = (
    "PyTorch backend selected but torch module unavailable. Install PyTorch: pip install torch>=2.2 "
    "(and the backend: pip install ptycho-torch). See the PyTorch workflow guide for installation guidance."
)
TENSORFLOW_INSTALL_MESSAGE = (
    "TensorFlow backend selected but tensorflow module unavailable. Install the TensorFlow backend: "
    "pip install ptycho-tf"
)

#: backend -> (framework modules that must be findable, install message). find_spec on a top-level name
#: imports nothing.
_REQUIREMENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "pytorch": (("torch", "lightning"), TORCH_INSTALL_MESSAGE),
    "tensorflow": (("tensorflow",), TENSORFLOW_INSTALL_MESSAGE),
}
_PACKAGES = {"pytorch": "ptycho-torch", "tensorflow": "ptycho-tf"}


def _entry_point(backend: str) -> importlib.metadata.EntryPoint | None:
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=backend)
    return next(iter(found), None)


def _missing(backend: str) -> list[str]:
    """What ``backend`` lacks to run: framework modules, or its package (no registered entry point)."""
    missing = [m for m in _REQUIREMENTS[backend][0] if not _findable(m)]
    ep = _entry_point(backend)
    if ep is None or not _findable(ep.value.split(":")[0].split(".")[0]):
        missing.append(_PACKAGES[backend])
    return missing


def _findable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        # ValueError: a module in sys.modules without a spec; ImportError: a parent cannot be imported.
        return False


def available_backends() -> tuple[str, ...]:
    """Backends whose modules are installed, in ``BACKENDS`` order ('tensorflow', 'pytorch').

    Uses the installed packages' entry points and ``importlib.util.find_spec`` only: neither framework is
    imported.
    """
    return tuple(b for b in BACKENDS if not _missing(b))


def resolve_backend(requested: str | None = None, default: str | None = None) -> str:
    """The backend to use: ``requested`` when given (validated; ``BACKEND_ALIASES`` accepted, any case), else
    the only installed one, else ``default`` when given, else the canonical default ``TrainingConfig.backend``
    ('tensorflow').

    Raises ValueError naming ``backend`` for a value outside ('tensorflow', 'pytorch') and their aliases. An
    explicit request for a backend that is not installed is returned as is: running it raises the install
    RuntimeError.
    """
    if requested is not None:
        name = str(requested).strip().lower()
        name = BACKEND_ALIASES.get(name, name)
        _check_backend(name if name in BACKENDS else requested)
        return name
    installed = available_backends()
    if len(installed) == 1:
        return installed[0]
    if default is not None:
        _check_backend(default)
        return default
    return TrainingConfig.backend


def _check_backend(backend: Any) -> None:
    if backend not in BACKENDS:
        raise ValueError(
            f"Invalid backend: config.backend: expected one of {', '.join(map(repr, BACKENDS))}, got {backend!r}"
        )


def load_backend(backend: str) -> Backend:
    """The :class:`~ptycho_bridge.backend_api.Backend` object the package of ``backend`` ('tensorflow' or
    'pytorch') registered under :data:`ENTRY_POINT_GROUP`.

    Raises:
        ValueError: a name outside ('tensorflow', 'pytorch'). RuntimeError: the backend is not installed (the
        install command and what is missing in the message), or its entry point is not a ``Backend``.
    """
    _check_backend(backend)
    message = _REQUIREMENTS[backend][1]
    missing = _missing(backend)
    if missing:
        raise RuntimeError(f"{message} (missing: {', '.join(missing)})")
    ep = _entry_point(backend)
    assert ep is not None  # _missing checked it
    try:
        found = ep.load()
    except ImportError as exc:
        raise RuntimeError(f"{message} (importing {ep.value} failed: {exc})") from exc
    if not isinstance(found, Backend) or found.name != backend:
        raise RuntimeError(f"entry point {ENTRY_POINT_GROUP}:{backend} = {ep.value}: expected a Backend object "
                           f"named {backend!r}, found {type(found).__name__}")
    return found


def _backend_of(config: Any) -> str:
    backend = getattr(config, "backend", None)
    _check_backend(backend)
    return backend


def run_cdi_example_with_backend(train_data: Any, test_data: Any, config: TrainingConfig, flip_x: bool = False,
                                 flip_y: bool = False, transpose: bool = False, M: int = 20, do_stitching: bool = False,
                                 torch_execution_config: PyTorchExecutionConfig | None = None,
                                 ) -> tuple[Any, Any, dict[str, Any]]:
    """Train (and optionally stitch) with the backend named by ``config.backend``.

    Args:
        train_data, test_data: RawData (or a backend container) for training / evaluation; test_data may be None.
        config: canonical ``TrainingConfig``; ``config.backend`` selects the route.
        flip_x, flip_y, transpose, M, do_stitching: passed to the backend's ``run_cdi_example``.
        torch_execution_config: PyTorch route only; None builds one from the config's learning_rate and
            scheduler; a given one must agree with them (``execution_config_for``; ValueError otherwise).
            Passing one with the TensorFlow route is a ValueError raised by that backend (it would be ignored).

    Returns:
        ``(amplitude | None, phase | None, results)`` as the backend returns them, with
        ``results['backend'] = config.backend``.

    Raises:
        ValueError: invalid backend, or an execution config that cannot apply. RuntimeError: the selected
        backend is not installed (install command in the message).
    """
    update_legacy_dict(params.cfg, config)
    backend = _backend_of(config)
    if torch_execution_config is not None:  # a disagreeing one is refused before any backend is imported
        execution_config_for(config, torch_execution_config)
    amp, phase, results = load_backend(backend).run_cdi_example(
        train_data, test_data, config, flip_x=flip_x, flip_y=flip_y, transpose=transpose, M=M,
        do_stitching=do_stitching, execution=torch_execution_config,
    )
    if not isinstance(results, MutableMapping):
        raise RuntimeError(
            f"{backend} backend returned results of type {type(results).__name__}; expected a dict (a mutable mapping)"
        )
    results["backend"] = backend
    return amp, phase, results


def load_inference_bundle_with_backend(path: str | Path, config: Any, **kwargs: Any) -> Any:
    """Load a trained-model bundle with the backend named by ``config.backend``.

    Args:
        path: the run folder holding ``wts.h5.zip`` (or what the backend loader accepts).
        config: canonical ``InferenceConfig`` (or ``TrainingConfig``); mirrored into ``params.cfg`` first.
        kwargs: passed to the backend loader unchanged.

    Returns:
        What the backend's ``load_inference_bundle`` returns (the seed guide's loaders: TensorFlow
        ``(diffraction_to_obj, params dict)``, PyTorch ``(models, config)``).

    Raises:
        ValueError: invalid backend. RuntimeError: the selected backend is not installed.
    """
    update_legacy_dict(params.cfg, config)
    return load_backend(_backend_of(config)).load_inference_bundle(path, **kwargs)
