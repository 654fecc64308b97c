"""Canonical configuration dataclasses (see ``ptycho.config.config`` and specs/config.md)."""

from ptycho.config.config import (
    InferenceConfig,
    ModelConfig,
    TrainingConfig,
    config_from_dict,
    config_to_dict,
    update_legacy_dict,
)

__all__ = [
    "InferenceConfig",
    "ModelConfig",
    "TrainingConfig",
    "config_from_dict",
    "config_to_dict",
    "update_legacy_dict",
]
