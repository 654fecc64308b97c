"""``--config FILE`` of the training command lines (``python -m ptycho_torch.train``, ``ptycho train``): canonical
config fields from YAML or JSON, read by :func:`ptycho_bridge.flag_configs.field_values`.

Normative text: specs/torch-cli.md §3. A config file holds fields of the canonical
``ptycho.config.config.TrainingConfig`` (specs/config.md §3) and of its ``ModelConfig`` (§2). Model
fields may be nested under ``model:`` (the form ``config_to_dict`` writes, so a saved config is a valid
config file) or written flat at the top level; the same field in both places is an error. An optional
``config_type`` tag must say ``TrainingConfig``.

The file only supplies values: explicit command-line flags always win over it, and it wins over the
defaults. Loading validates every value by
building the canonical configs, so a typo or a bad value fails at once with one line naming the file and
the field. Parsing never executes code from the file (``yaml.safe_load`` / ``json``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ptycho.config import config as canonical

__all__ = ["ConfigFileError", "ConfigFileValues", "load_config_file", "MODEL_FIELDS", "TRAINING_FIELDS"]


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


MODEL_FIELDS: tuple[str, ...] = _field_names(canonical.ModelConfig)
#: TrainingConfig fields settable from a file (``model`` is the nested mapping, handled separately).
TRAINING_FIELDS: tuple[str, ...] = tuple(n for n in _field_names(canonical.TrainingConfig) if n != "model")

_MAX_BYTES = 1024 * 1024


def _float_fields(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls) if "float" in str(f.type))


#: Fields typed float; PyYAML (YAML 1.1) reads ``1e6`` as a string, so such strings are converted.
FLOAT_FIELDS = _float_fields(canonical.ModelConfig) | _float_fields(canonical.TrainingConfig)


def _yaml_floats(values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key in FLOAT_FIELDS and isinstance(value, str):
            try:
                values[key] = float(value)
            except ValueError:
                pass  # left as str: validation names the field


class ConfigFileError(ValueError):
    """A ``--config`` file is missing, unparsable, or names an unknown field or a bad value (one line)."""


@dataclass(frozen=True)
class ConfigFileValues:
    """Values read from a config file.

    Attributes:
        path: the file read.
        training: TrainingConfig field -> value (only the fields the file sets; ``n_images`` already
            folded into ``n_groups``).
        model: ModelConfig field -> value (only the fields the file sets).
    """

    path: Path
    training: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)


def _parse(path: Path, text: str) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigFileError(f"{path}: expected valid JSON, found a syntax error at line {exc.lineno} column {exc.colno} ({exc.msg})") from None
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigFileError(f"{path}: expected valid safe YAML, found an error{where} ({problem})") from None
    raise ConfigFileError(f"{path}: expected a .yaml, .yml or .json file, found suffix {suffix or '(none)'!r}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _names(keys: list[Any]) -> str:
    """Field names for a message; anything but a plain identifier is shown with repr (keeps it one line)."""
    shown = [k if isinstance(k, str) and k.isidentifier() else repr(k) for k in keys]
    return ", ".join(sorted(shown))


def load_config_file(path: str | Path) -> ConfigFileValues:
    """Read and validate a YAML/JSON config file of canonical TrainingConfig/ModelConfig fields.

    Args:
        path: ``.yaml``/``.yml`` (safe YAML) or ``.json`` file whose top level is a mapping.

    Returns:
        :class:`ConfigFileValues` with the training and model fields the file sets.

    Raises:
        ConfigFileError: missing/unreadable file, unknown suffix, syntax error, a top level that is not a
            mapping, a wrong ``config_type``, unknown field names, a model field given twice, or a value the
            canonical configs reject (the message names the file and the field).
    """
    p = Path(path)
    if not p.is_file():
        found = "a directory" if p.is_dir() else "no such file"
        raise ConfigFileError(f"{p}: expected a readable config file, found {found}")
    size = p.stat().st_size
    if size > _MAX_BYTES:
        raise ConfigFileError(f"{p}: expected a config file of at most {_MAX_BYTES} bytes, found {size} bytes")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{p}: expected a readable UTF-8 text file, found {type(exc).__name__}") from None
    data = _parse(p, text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError(f"{p}: expected a mapping of config fields at the top level, found {type(data).__name__}")
    data = dict(data)
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise ConfigFileError(f"{p}: expected field names (strings) as keys, found {bad_keys[0]!r}")
    tag = data.pop("config_type", "TrainingConfig")
    if tag != "TrainingConfig":
        raise ConfigFileError(f"{p}: config_type: expected 'TrainingConfig', found {tag!r}")

    model: dict[str, Any] = {}
    nested = data.pop("model", None)
    if nested is not None:
        if not isinstance(nested, dict):
            raise ConfigFileError(f"{p}: model: expected a mapping of ModelConfig fields, found {type(nested).__name__}")
        nested = dict(nested)
        model_tag = nested.pop("config_type", "ModelConfig")
        if model_tag != "ModelConfig":
            raise ConfigFileError(f"{p}: model.config_type: expected 'ModelConfig', found {model_tag!r}")
        unknown = [k for k in nested if k not in MODEL_FIELDS]
        if unknown:
            raise ConfigFileError(
                f"{p}: model: unknown field(s) {_names(unknown)}; known: {', '.join(sorted(MODEL_FIELDS))}"
            )
        model.update(nested)
    training: dict[str, Any] = {}
    unknown = []
    for key, value in data.items():
        if key in MODEL_FIELDS:
            if key in model:
                raise ConfigFileError(f"{p}: {key}: given both at the top level and under 'model'; keep one")
            model[key] = value
        elif key in TRAINING_FIELDS:
            training[key] = value
        else:
            unknown.append(key)
    if unknown:
        known = sorted(TRAINING_FIELDS + MODEL_FIELDS)
        raise ConfigFileError(f"{p}: unknown field(s) {_names(unknown)}; known: {', '.join(known)}")

    # Fold the deprecated alias here so precedence against --n_groups/--n_images is decided on one key.
    if training.get("n_images") is not None:
        n_images = training.pop("n_images")
        warnings.warn(f"{p}: n_images is deprecated; use n_groups", DeprecationWarning, stacklevel=2)
        if training.get("n_groups") not in (None, n_images):
            raise ConfigFileError(
                f"{p}: n_images: expected None or equal to n_groups={training['n_groups']}, found {n_images!r}"
            )
        training["n_groups"] = n_images
    else:
        training.pop("n_images", None)

    if p.suffix.lower() in (".yaml", ".yml"):
        _yaml_floats(training)
        _yaml_floats(model)
    try:
        model_cfg = canonical.ModelConfig(**model)
        canonical.TrainingConfig(model=model_cfg, **training)
    except (ValueError, TypeError) as exc:
        raise ConfigFileError(f"{p}: {_one_line(exc)}") from None
    if "amp_activation" in model:  # store the canonical spelling ('silu' -> 'swish')
        model["amp_activation"] = model_cfg.amp_activation
    return ConfigFileValues(path=p, training=training, model=model)
