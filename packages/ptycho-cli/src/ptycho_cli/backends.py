"""Which backend runs ``train``/``infer``/``demo`` (specs/cli.md §3).

The rule is the bridge's (``ptycho_bridge.backend_selector.resolve_backend``, specs/backend-selection.md §5):
the ``--backend`` flag if given (``torch``/``tf`` accepted); else the only installed backend; else the
command's default (the demo: 'pytorch'), else the canonical default ``TrainingConfig.backend``. This module
only adds what a command line needs on top: the reason for the choice (printed by the caller) and one-line
user errors for unknown or uninstalled backends. :func:`load_backend` returns the chosen backend's
``Backend`` object (``ptycho_bridge.backend_api``), through which ``train``, ``infer`` and ``demo`` dispatch.
"""

from __future__ import annotations

import logging
import os

from ptycho_bridge import backend_selector
from ptycho_bridge.backend_api import Backend
from ptycho_cli.errors import UserError

__all__ = ["choose_backend", "load_backend", "quiet_native_logs"]

_INSTALL = {"pytorch": "pip install 'ptycho-cli[torch]'", "tensorflow": "pip install 'ptycho-cli[tf]'"}


def choose_backend(requested: str | None, default: str | None = None) -> tuple[str, str]:
    """Return ``(backend, reason)`` following the rule of the module docstring.

    Args:
        requested: the ``--backend`` value or None.
        default: the default to use when both backends are installed (None: the canonical default).
    Raises:
        UserError: unknown name, requested backend not installed, or no backend installed at all.
    """
    installed = backend_selector.available_backends()
    if requested is not None:
        try:
            name = backend_selector.resolve_backend(requested)
        except ValueError:
            raise UserError(f"--backend: expected one of pytorch, tensorflow, found {requested!r}") from None
        if name not in installed:
            raise UserError(f"--backend {name}: the {name} backend is not installed (install it with: {_INSTALL[name]})")
        return name, "--backend"
    if not installed:
        raise UserError(
            f"no backend installed: expected ptycho-torch or ptycho-tf, found neither "
            f"(install one: {_INSTALL['pytorch']} or {_INSTALL['tensorflow']})"
        )
    name = backend_selector.resolve_backend(None, default=default)
    if len(installed) == 1:
        return name, "the only installed backend"
    if default is not None:
        return name, "the default of this command"
    return name, "the canonical default (both backends installed)"


def quiet_native_logs() -> None:
    """Silence TensorFlow's C++ and Python logging below errors; effective only before tensorflow is imported,
    so it runs before any backend is loaded (a PyTorch run is unaffected)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def load_backend(name: str) -> Backend:
    """The ``Backend`` object of the installed backend ``name`` (``ptycho_bridge.backend_selector.load_backend``),
    after :func:`quiet_native_logs`; UserError (one line, exit 2) when it cannot be loaded."""
    quiet_native_logs()
    try:
        return backend_selector.load_backend(name)
    except RuntimeError as exc:
        raise UserError(f"--backend {name}: {exc}") from None
