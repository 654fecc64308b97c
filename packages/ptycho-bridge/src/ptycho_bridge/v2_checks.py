"""Checks on v2-dialect training inputs (specs/ptychodus-torch.md §2): values a v2 caller must set rather than
leave to a guess. Applied by :func:`ptycho_bridge.bridge.to_training_config` when its DataConfig or
TrainingConfig is a v2 one (``ptycho_torch.config_params``). Imports no framework."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

from ptycho_bridge import v2_config as v2
from ptycho_bridge.v2_convert import is_v2

__all__ = ["V2_NPHOTONS_DEFAULT", "v2_training_checks"]

#: The v2 DataConfig default photon count; the canonical default is 1e9, so neither is assumed.
V2_NPHOTONS_DEFAULT = next(f.default for f in dataclasses.fields(v2.DataConfig) if f.name == "nphotons")


def v2_training_checks(data: Any, training: Any, overrides: Mapping[str, Any] | None) -> None:
    """Raise ValueError (or warn) for v2 inputs left at values that must not be guessed.

    In order: ``data.nphotons`` at the v2 default 1e5 without ``overrides['nphotons']`` ("nphotons default
    divergence"); ``test_data_file`` missing (a UserWarning: evaluation needs it later); ``train_data_file``
    missing. ``n_groups`` None is not an error: it means the whole scan, as in every route (specs/config.md §3).
    """
    ov = dict(overrides or {})
    if is_v2(data) and "nphotons" not in ov and data.nphotons == V2_NPHOTONS_DEFAULT:
        raise ValueError(
            "DataConfig.nphotons: nphotons default divergence: the v2 default 1e5 differs from the canonical "
            "default 1e9 and neither is assumed; pass overrides=dict(..., nphotons=<mean photons per pattern>)")
    if not is_v2(training):
        return
    if ov.get("test_data_file", training.test_data_file) is None:
        warnings.warn("TrainingConfig.test_data_file is not set: evaluation and inference need it later "
                      "(pass overrides=dict(..., test_data_file=...))", UserWarning, stacklevel=3)
    if ov.get("train_data_file", training.train_data_file) is None:
        raise ValueError("TrainingConfig.train_data_file: train_data_file is required in overrides or on the "
                         "config; pass overrides=dict(..., train_data_file=...)")
