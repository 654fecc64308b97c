"""Which backend runs ``train``/``infer``/``demo`` (specs/cli.md §3).

Rule: the ``--backend`` flag if given; else the only installed backend; else the canonical default
(``ptycho.config.config.TrainingConfig.backend``, 'tensorflow') when both are installed; the demo passes
its own default ('pytorch'). The choice and why it was made are always printed by the caller.
``ptycho_bridge.resolve_backend`` is used when the bridge provides it, so the command line and the
Python API agree; the local rule below is the same rule for a bridge that does not provide it.
"""

from __future__ import annotations

import importlib.util

from ptycho_cli.errors import UserError

__all__ = ["BACKENDS", "installed_backends", "choose_backend"]

BACKENDS = ("pytorch", "tensorflow")
_MODULES = {"pytorch": ("torch", "lightning", "ptycho_torch"), "tensorflow": ("tensorflow", "ptycho.tf_backend")}
_INSTALL = {"pytorch": "pip install 'ptycho-cli[torch]'", "tensorflow": "pip install 'ptycho-cli[tf]'"}


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def installed_backends() -> tuple[str, ...]:
    """Backends whose framework and PtychoPINN package are importable (without importing them)."""
    return tuple(b for b in BACKENDS if all(_present(m) for m in _MODULES[b]))


def _canonical_default() -> str:
    from ptycho.config.config import TrainingConfig

    return str(TrainingConfig.__dataclass_fields__["backend"].default)


def choose_backend(requested: str | None, default: str | None = None) -> tuple[str, str]:
    """Return ``(backend, reason)`` following the rule of the module docstring.

    Args:
        requested: the ``--backend`` value or None.
        default: the default to use when both backends are installed (None: the canonical default).
    Raises:
        UserError: unknown name, requested backend not installed, or no backend installed at all.
    """
    installed = installed_backends()
    if requested is not None:
        name = str(requested).strip().lower()
        aliases = {"torch": "pytorch", "tf": "tensorflow"}
        name = aliases.get(name, name)
        if name not in BACKENDS:
            raise UserError(f"--backend: expected one of {', '.join(BACKENDS)}, found {requested!r}")
        if name not in installed:
            raise UserError(f"--backend {name}: the {name} backend is not installed (install it with: {_INSTALL[name]})")
        return name, "--backend"
    if len(installed) == 1:
        return installed[0], "the only installed backend"
    if not installed:
        raise UserError(
            f"no backend installed: expected ptycho-torch or ptycho-tf, found neither "
            f"(install one: {_INSTALL['pytorch']} or {_INSTALL['tensorflow']})"
        )
    if default is not None:
        return default, "the default of this command"
    return _canonical_default(), "the canonical default (both backends installed)"
