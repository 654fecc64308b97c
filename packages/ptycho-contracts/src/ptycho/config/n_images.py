"""The deprecated ``n_images`` field of ``TrainingConfig`` / ``InferenceConfig``: an alias of ``n_groups``
(specs/config.md §3), mapped with a DeprecationWarning at construction and on assignment."""

from __future__ import annotations

import warnings
from typing import Any

from ptycho.config.validation import fail as _fail

__all__ = ["resolve_n_images", "assign_n_images"]


def resolve_n_images(owner: Any, default: int | None) -> None:
    """Map the deprecated ``n_images`` onto ``n_groups`` (specs/config.md §3)."""
    n_images = owner.__dict__.get("n_images")
    if n_images is not None:
        warnings.warn(
            f"{type(owner).__name__}.n_images is deprecated; use n_groups", DeprecationWarning, stacklevel=4
        )
        if owner.__dict__.get("n_groups") is not None and owner.n_groups != n_images:
            _fail(type(owner).__name__, "n_images", n_images, f"None or equal to n_groups={owner.n_groups}")
        object.__setattr__(owner, "n_groups", n_images)
        object.__setattr__(owner, "n_images", None)
    if owner.__dict__.get("n_groups") is None and default is not None:
        object.__setattr__(owner, "n_groups", default)


def assign_n_images(owner: Any) -> None:
    """After construction, assigning the deprecated ``n_images`` sets ``n_groups`` (with a warning)."""
    n_images = owner.__dict__.get("n_images")
    if n_images is None or not owner.__dict__.get("_ready"):
        return
    warnings.warn(f"{type(owner).__name__}.n_images is deprecated; use n_groups", DeprecationWarning, stacklevel=4)
    object.__setattr__(owner, "n_groups", n_images)
    object.__setattr__(owner, "n_images", None)
