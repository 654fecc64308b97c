"""The config bridge: PyTorch-native configs <-> canonical ``ptycho.config.config`` configs.

One table, :data:`FIELD_MAP`, says for every canonical field which native field it comes from and how the
value is transformed in each direction. Every function here is driven by that table, and
specs/config-bridge.md is generated from it (``scripts/gen_config_bridge_spec.py``; a test fails when the
committed page differs).

Native -> canonical: :func:`to_model_config`, :func:`to_training_config`, :func:`to_inference_config`.
Canonical -> native: :func:`from_model_config`, :func:`from_training_config`,
:func:`from_inference_config`. ``canonical -> native -> canonical`` is the identity on every valid config.

Priority (highest first): ``overrides`` (canonical field names and canonical values) > the native field's
value (explicitly set or its default). Canonical defaults are never consulted for a mapped field, and a
native value that has no safe default (``DataConfig.nphotons``, ``InferenceConfig.model_path`` /
``test_data_file`` left at None) is an error unless overridden. An override naming an unknown field is an
error; nothing is silently dropped.

Errors: ``ValueError`` naming the native field (or ``overrides['key']``) and, when the canonical
validation refused the value, the canonical field too, e.g.
``DataConfig.K -> TrainingConfig.neighbor_count: expected >= gridsize**2 = 4 ..., got 2``.
"""


from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from ptycho.config import config as canonical
from ptycho_bridge import config_params as native
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_bridge.field_map import (
    DROPPED_FIELDS,
    FIELD_MAP,
    NATIVE_CLASSES,
    FieldMap,
    canonical_fields,
    rows_for,
    table_problems,
)
from ptycho_bridge.v2_checks import v2_training_checks
from ptycho_bridge.v2_convert import is_v2, native_data, native_model, refused_problems, to_native

__all__ = [
    "FieldMap",
    "FIELD_MAP",
    "DROPPED_FIELDS",
    "TorchTrainingConfigs",
    "TorchInferenceConfigs",
    "to_model_config",
    "to_training_config",
    "to_inference_config",
    "from_model_config",
    "from_training_config",
    "from_inference_config",
    "table_problems",
]

_M, _T, _I = "ModelConfig", "TrainingConfig", "InferenceConfig"
_MESSAGE_FIELD = re.compile(r"^(\w+)\.(\w+):")


def _check_instance(arg: str, value: Any, cls: type) -> None:
    if not isinstance(value, cls):
        raise ValueError(f"{arg}: expected a {cls.__module__}.{cls.__name__}, got {type(value).__name__}")


def _check_overrides(overrides: Mapping[str, Any] | None, targets: tuple[str, ...]) -> dict[str, Any]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"overrides: expected a mapping of canonical field names, got {type(overrides).__name__}")
    allowed = [name for t in targets for name in canonical_fields(t)]
    unknown = sorted(str(k) for k in overrides if k not in allowed)
    if unknown:
        raise ValueError(
            f"overrides: unknown field(s) {', '.join(unknown)} for {'/'.join(targets)}; "
            f"known: {', '.join(allowed)}"
        )
    return dict(overrides)


def _construct(cls: type, kwargs: dict[str, Any], sources: dict[str, str]) -> Any:
    """Build a canonical config; a ValueError from its validation is re-raised naming the native source."""
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise _attributed(exc, sources) from None


def _attributed(exc: ValueError, sources: dict[str, str]) -> ValueError:
    msg = str(exc)
    match = _MESSAGE_FIELD.match(msg)
    if match and match.group(2) in sources:
        return ValueError(f"{sources[match.group(2)]} -> {msg}")
    return exc


def _gather(target: str, objects: dict[str, Any], overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Canonical kwargs for ``target`` from the native ``objects`` (keyed by class name) and ``overrides``."""
    kwargs: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for row in rows_for(target):
        if row.field in overrides:
            kwargs[row.field] = overrides[row.field]
            sources[row.field] = f"overrides[{row.field!r}]"
        else:
            value = getattr(objects[row.source_class], row.source_field)
            kwargs[row.field] = row.to_canonical(value, row.source)
            sources[row.field] = row.source
    return kwargs, sources


def _as_native(cfg: Any) -> Any:
    """A v2-dialect DataConfig/ModelConfig converted to its native class; anything else unchanged."""
    if not is_v2(cfg):
        return cfg
    problems = refused_problems(cfg)
    if problems:
        raise ValueError("; ".join(problems))
    return native_data(cfg) if type(cfg).__name__ == "DataConfig" else native_model(cfg)


def _model_from(model: Any, data: native.DataConfig, overrides: dict[str, Any]) -> canonical.ModelConfig:
    model = _as_native(model)
    model_overrides = {k: v for k, v in overrides.items() if k in canonical_fields(_M)}
    if isinstance(model, native.ModelConfig):
        return to_model_config(data, model, model_overrides)
    _check_instance("model", model, canonical.ModelConfig)
    if not model_overrides:
        return model
    try:
        return dataclasses.replace(model, **model_overrides)
    except ValueError as exc:
        raise _attributed(exc, {k: f"overrides[{k!r}]" for k in model_overrides}) from None


# ----------------------------------------------------------------------------------------------------
# Native -> canonical
# ----------------------------------------------------------------------------------------------------


def to_model_config(
    data: native.DataConfig, model: native.ModelConfig, overrides: Mapping[str, Any] | None = None
) -> canonical.ModelConfig:
    """Canonical ``ModelConfig`` from the native ``DataConfig`` (N, grid_size, probe_scale) and ``ModelConfig``.

    ``overrides``: canonical ModelConfig field names -> canonical values; they win over the native values.
    Raises ValueError naming the field: unknown override key, N not in {64, 128, 256}, non-square
    grid_size, unknown mode or activation, or a value the canonical validation refuses.
    ``data`` / ``model`` may also be v2-dialect configs (``ptycho_torch.config_params``; specs/ptychodus-torch.md).
    """
    data, model = _as_native(data), _as_native(model)
    _check_instance("data", data, native.DataConfig)
    _check_instance("model", model, native.ModelConfig)
    ov = _check_overrides(overrides, (_M,))
    kwargs, sources = _gather(_M, {"DataConfig": data, "ModelConfig": model}, ov)
    return _construct(canonical.ModelConfig, kwargs, sources)


def to_training_config(
    model: Any, data: Any, *args: Any, overrides: Mapping[str, Any] | None = None,
    execution: PyTorchExecutionConfig | None = None,
) -> canonical.TrainingConfig:
    """Canonical ``TrainingConfig`` from native (or v2-dialect) configs.

    Two call forms:

    * ``to_training_config(model, data, training, overrides=None, *, execution=None)``;
    * the v2 signature ``to_training_config(tf_model, data, pt_model, training, overrides=None)``, where
      ``pt_model`` (a ModelConfig) supplies ``intensity_scale_trainable`` (v2 dialect) and is otherwise
      unused.

    Args:
        model: the canonical ``ModelConfig`` (e.g. from :func:`to_model_config`) or a native/v2 ``ModelConfig``
            (bridged here with ``data``).
        data, training: native or v2 ``DataConfig`` / ``TrainingConfig``. With v2 configs the v2 dialect's rules
            apply as well (:func:`ptycho_bridge.v2_checks.v2_training_checks`): nphotons left at the v2
            default 1e5 or train_data_file None without an override are errors; a missing test_data_file is
            a warning; n_groups None means the whole scan.
        overrides: canonical TrainingConfig or ModelConfig field names -> canonical values; they win.
        execution: source of ``learning_rate`` and ``scheduler``; None = ``PyTorchExecutionConfig()`` (with a
            v2 TrainingConfig: its learning_rate / scheduler / plateau settings).

    Raises ValueError naming the field: ``DataConfig.nphotons`` None without ``overrides['nphotons']``,
    unknown override keys, or any value the canonical validation refuses (e.g. K < gridsize²).
    """
    pt_model, training, overrides = _training_args(args, overrides)
    v2_inputs = is_v2(data) or is_v2(training)
    if v2_inputs:
        v2_training_checks(data, training, overrides)
    if is_v2(training):
        converted = to_native(None, model=pt_model if is_v2(pt_model) else None, training=training)
        execution = converted.execution if execution is None else execution
        training = converted.training
    data = _as_native(data)
    _check_instance("data", data, native.DataConfig)
    _check_instance("training", training, native.TrainingConfig)
    if execution is None:
        execution = PyTorchExecutionConfig()
    _check_instance("execution", execution, PyTorchExecutionConfig)
    ov = _check_overrides(overrides, (_T, _M))
    tf_model = _model_from(model, data, ov)
    objects = {"DataConfig": data, "TrainingConfig": training, "PyTorchExecutionConfig": execution}
    kwargs, sources = _gather(_T, objects, ov)
    n_groups = kwargs.pop("n_groups")
    cfg = _construct(canonical.TrainingConfig, {"model": tf_model, **kwargs}, sources)
    try:
        # Assigned after construction: the value given (None = the whole scan) is kept as given.
        cfg.n_groups = n_groups
    except ValueError as exc:
        raise _attributed(exc, sources) from None
    return cfg


def _training_args(args: tuple, overrides: Any) -> tuple[Any, Any, Any]:
    """(pt_model or None, training, overrides) from the positional arguments after ``data``."""
    if not args or len(args) > 3:
        raise ValueError("to_training_config: expected (model, data, training[, overrides]) or "
                         f"(tf_model, data, pt_model, training[, overrides]), got {2 + len(args)} positional arguments")
    pt_model = None
    if len(args) >= 2 and (is_v2(args[0]) or isinstance(args[0], native.ModelConfig)) and \
            type(args[0]).__name__ == "ModelConfig":
        pt_model, args = args[0], args[1:]
    training, rest = args[0], args[1:]
    if rest:
        if overrides is not None:
            raise ValueError("to_training_config: overrides given both positionally and by keyword")
        overrides = rest[0]
    return pt_model, training, overrides


def to_inference_config(
    model: canonical.ModelConfig | native.ModelConfig,
    data: native.DataConfig,
    inference: native.InferenceConfig,
    overrides: Mapping[str, Any] | None = None,
) -> canonical.InferenceConfig:
    """Canonical ``InferenceConfig`` from native configs (model as in :func:`to_training_config`).

    ``overrides``: canonical InferenceConfig or ModelConfig field names -> canonical values; they win.
    Raises ValueError naming the field; ``model_path`` / ``test_data_file`` left at None are errors unless
    overridden.
    """
    data = _as_native(data)
    if is_v2(inference):
        inference = native.InferenceConfig()  # every v2 inference field is execution-only (batch_size, trim)
    _check_instance("data", data, native.DataConfig)
    _check_instance("inference", inference, native.InferenceConfig)
    ov = _check_overrides(overrides, (_I, _M))
    tf_model = _model_from(model, data, ov)
    kwargs, sources = _gather(_I, {"DataConfig": data, "InferenceConfig": inference}, ov)
    return _construct(canonical.InferenceConfig, {"model": tf_model, **kwargs}, sources)


# ----------------------------------------------------------------------------------------------------
# Canonical -> native
# ----------------------------------------------------------------------------------------------------


class TorchTrainingConfigs(NamedTuple):
    """The native configs equivalent to one canonical ``TrainingConfig``."""

    data: native.DataConfig
    model: native.ModelConfig
    training: native.TrainingConfig
    execution: PyTorchExecutionConfig


class TorchInferenceConfigs(NamedTuple):
    """The native configs equivalent to one canonical ``InferenceConfig``."""

    data: native.DataConfig
    model: native.ModelConfig
    inference: native.InferenceConfig


def _scatter(rows: tuple[FieldMap, ...], source: Any, out: dict[str, dict[str, Any]]) -> None:
    for row in rows:
        out.setdefault(row.source_class, {})[row.source_field] = row.from_canonical(getattr(source, row.field))


def _build_native(out: dict[str, dict[str, Any]], bases: dict[str, Any]) -> dict[str, Any]:
    built = {}
    for cls_name, changes in out.items():
        base = bases.get(cls_name)
        built[cls_name] = (
            dataclasses.replace(base, **changes) if base is not None else NATIVE_CLASSES[cls_name](**changes)
        )
    return built


def from_model_config(
    config: canonical.ModelConfig, data: native.DataConfig | None = None
) -> tuple[native.DataConfig, native.ModelConfig]:
    """Native ``(DataConfig, ModelConfig)`` for a canonical ``ModelConfig``.

    The DataConfig gets N, grid_size = (g, g) and probe_scale; its other fields come from ``data`` (default
    ``DataConfig()``, whose nphotons is None = not set).
    """
    _check_instance("config", config, canonical.ModelConfig)
    if data is not None:
        _check_instance("data", data, native.DataConfig)
    out: dict[str, dict[str, Any]] = {}
    _scatter(rows_for(_M), config, out)
    built = _build_native(out, {"DataConfig": data})
    return built["DataConfig"], built["ModelConfig"]


def from_training_config(
    config: canonical.TrainingConfig, execution: PyTorchExecutionConfig | None = None
) -> TorchTrainingConfigs:
    """Native configs for a canonical ``TrainingConfig``: ``(data, model, training, execution)``.

    ``execution``: base for the execution config (default ``PyTorchExecutionConfig()``); its learning_rate
    and scheduler are replaced by the canonical values, its execution-only fields are kept.
    """
    _check_instance("config", config, canonical.TrainingConfig)
    if execution is not None:
        _check_instance("execution", execution, PyTorchExecutionConfig)
    out: dict[str, dict[str, Any]] = {}
    _scatter(rows_for(_M), config.model, out)
    _scatter(rows_for(_T), config, out)
    built = _build_native(out, {"PyTorchExecutionConfig": execution or PyTorchExecutionConfig()})
    return TorchTrainingConfigs(
        built["DataConfig"], built["ModelConfig"], built["TrainingConfig"], built["PyTorchExecutionConfig"]
    )


def from_inference_config(config: canonical.InferenceConfig) -> TorchInferenceConfigs:
    """Native configs for a canonical ``InferenceConfig``: ``(data, model, inference)``.

    The DataConfig's nphotons stays None (inference has no photon count).
    """
    _check_instance("config", config, canonical.InferenceConfig)
    out: dict[str, dict[str, Any]] = {}
    _scatter(rows_for(_M), config.model, out)
    _scatter(rows_for(_I), config, out)
    built = _build_native(out, {})
    return TorchInferenceConfigs(built["DataConfig"], built["ModelConfig"], built["InferenceConfig"])


