"""Canonical PtychoPINN configuration: ``ModelConfig``, ``TrainingConfig``, ``InferenceConfig``.

These dataclasses are the single source of truth for every backend (TensorFlow and PyTorch) and for the
command lines. Each one validates itself when it is built (and ``TrainingConfig``/``InferenceConfig`` again
on every attribute assignment): a bad value raises ``ValueError`` naming the field, the value and what is
allowed. The normative description of every field, its default and its validation is specs/config.md.

The legacy global dictionary ``ptycho.params.cfg`` is only a compatibility mirror for external callers
(ptychodus): ``update_legacy_dict(params.cfg, config)`` writes a config into it under the legacy key names.
New code reads config objects, never ``params.cfg``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from ptycho.config.generator_fields import GeneratorFields, validate_generator_fields
from ptycho.config.model_size import ALLOWED_N, assign_n_once, check_n
from ptycho.config.n_images import assign_n_images as _assign_n_images
from ptycho.config.n_images import resolve_n_images as _resolve_n_images
from ptycho.config.resume import resume_checkpoint
from ptycho.config.teacher_options import TEACHERS, validate_teacher  # noqa: F401 - TEACHERS re-exported
from ptycho.config.training_options import (
    ARCHITECTURES,
    CLIP_ALGORITHMS,
    OPTIMIZERS,
    UNIMPLEMENTED_FIELDS,
    check_implemented,
    groups_used,
    validate_optimisation,
)
from ptycho.config.validation import check_bool as _check_bool
from ptycho.config.validation import check_choice as _check_choice
from ptycho.config.validation import check_float as _check_float
from ptycho.config.validation import check_int as _check_int
from ptycho.config.validation import check_max_time
from ptycho.config.validation import fail as _fail
from ptycho.config.validation import is_int as _is_int
from ptycho.config.validation import set_paths as _set_paths

__all__ = [
    "ModelConfig",
    "TrainingConfig",
    "InferenceConfig",
    "DEFAULT_SEED",
    "effective_seed",
    "validation_groups",
    "groups_used",
    "resume_checkpoint",
    "UNIMPLEMENTED_FIELDS",
    "check_implemented",
    "ALLOWED_N",
    "ARCHITECTURES",
    "OPTIMIZERS",
    "CLIP_ALGORITHMS",
    "AMP_ACTIVATIONS",
    "AMP_ACTIVATION_ALIASES",
    "SCHEDULER_ALIASES",
    "MODEL_TYPES",
    "BACKENDS",
    "LOSS_MODES",
    "SCHEDULERS",
    "default_multistage_milestones",
    "KEY_MAPPINGS",
    "dataclass_to_legacy_dict",
    "update_legacy_dict",
    "config_to_dict",
    "config_from_dict",
    "validate_model_config",
    "validate_training_config",
    "validate_inference_config",
]

MODEL_TYPES = ("pinn", "supervised")
AMP_ACTIVATIONS = ("sigmoid", "swish", "softplus", "relu")
#: Spellings accepted for ``amp_activation`` and the canonical name they become.
AMP_ACTIVATION_ALIASES = {"silu": "swish", "SiLU": "swish", "swish": "swish", "Swish": "swish"}
BACKENDS = ("tensorflow", "pytorch")
LOSS_MODES = ("poisson", "mae")
SCHEDULERS = ("Default", "Exponential", "MultiStage", "Adaptive", "WarmupCosine")


def default_multistage_milestones(nepochs: int) -> tuple[int, ...]:
    """Epochs at which the 'MultiStage' schedule decays the learning rate when none are given: half and three
    quarters of the run, at least epoch 1 (the one rule for both CLIs, the execution config and the module)."""
    return tuple(sorted({max(1, int(nepochs) // 2), max(1, (3 * int(nepochs)) // 4)}))
#: Accepted scheduler spellings (the legacy and v2 names too) and what they mean here.
SCHEDULER_ALIASES = {"ReduceLROnPlateau": "Adaptive"}

#: Field name -> legacy ``params.cfg`` key, for the fields whose legacy key differs (specs/config.md §5).
KEY_MAPPINGS = {
    "object_big": "object.big",
    "probe_big": "probe.big",
    "probe_mask": "probe.mask",
    "probe_trainable": "probe.trainable",
    "intensity_scale_trainable": "intensity_scale.trainable",
    "positions_provided": "positions.provided",
    "output_dir": "output_prefix",
    "train_data_file": "train_data_file_path",
    "test_data_file": "test_data_file_path",
}

#: n_groups when neither n_groups nor n_images is given: None = the whole scan (one group per position, at
#: every gridsize; specs/config.md §3): a large scan is never silently subsampled.
DEFAULT_N_GROUPS: int | None = None
#: Seed the workflows of both backends use when ``subsample_seed`` is None: runs are deterministic by
#: default (specs/config.md §3). Library primitives (``generate_grouped_data(seed=None)``) stay entropy-seeded.
DEFAULT_SEED = 42


def effective_seed(config: Any) -> int:
    """The seed a training/inference workflow runs with: ``config.subsample_seed``, else ``DEFAULT_SEED``.

    It seeds grouping, sample order and weight initialisation alike in both backends, so one config gives
    the same groups and the same run everywhere.
    """
    seed = getattr(config, "subsample_seed", None)
    return DEFAULT_SEED if seed is None else int(seed)


def validation_groups(config: Any, n_positions: int) -> int | None:
    """Groups to draw from a validation scan of ``n_positions`` positions: ``config.n_groups`` capped at one
    group per position unless ``config.enable_oversampling``, so that a validation scan smaller than the
    training scan works at gridsize > 1 in both backends (specs/config.md §3). None = one per position."""
    groups = getattr(config, "n_groups", None)
    if groups is None or getattr(config, "enable_oversampling", False):
        return groups
    return min(int(groups), int(n_positions))


# ----------------------------------------------------------------------------------------------------
# ModelConfig
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig(GeneratorFields):
    """Network and forward-model architecture (specs/config.md §2); the generator fields are
    :class:`~ptycho.config.generator_fields.GeneratorFields`.

    Frozen: derive variants with ``dataclasses.replace``. ``amp_activation`` accepts 'silu'/'SiLU'
    and stores the canonical 'swish'. ``N=0`` means "taken from the data": ``N`` may then be assigned
    once, and uses that need it call ``require_n`` (``ptycho.config.model_size``, specs/config.md §2.1).
    """

    N: int = 64
    gridsize: int = 1
    model_type: str = "pinn"
    probe_scale: float = 4.0

    def __post_init__(self) -> None:
        act = self.amp_activation
        if isinstance(act, str):  # aliases only for strings: an unhashable value must fail validation, not .get
            act = AMP_ACTIVATION_ALIASES.get(act, act)
        object.__setattr__(self, "amp_activation", act)
        validate_model_config(self)

    @property
    def channels(self) -> int:
        """C = gridsize², the number of diffraction patterns per group."""
        return self.gridsize * self.gridsize


ModelConfig.__setattr__ = assign_n_once  # type: ignore[method-assign,assignment]


def validate_model_config(cfg: ModelConfig) -> None:
    """Raise ValueError naming the first invalid field of ``cfg`` (specs/config.md §2)."""
    o = "ModelConfig"
    check_n(cfg.N, allow_unset=True)
    _check_int(o, "gridsize", cfg.gridsize, 1)
    _check_choice(o, "model_type", cfg.model_type, MODEL_TYPES)
    validate_generator_fields(o, cfg)
    if cfg.amp_activation not in AMP_ACTIVATIONS:
        _fail(o, "amp_activation", cfg.amp_activation, "one of 'sigmoid', 'swish' (alias 'silu'), 'softplus', 'relu'")
    _check_float(o, "probe_scale", cfg.probe_scale, low=0.0, low_open=True)


# ----------------------------------------------------------------------------------------------------
# Mutable configs validate on every assignment after construction.
# ----------------------------------------------------------------------------------------------------


class _ValidatedOnAssignment:
    """Mixin: once ``__post_init__`` finished, every attribute assignment re-runs validation.

    A failed assignment is rolled back, so the object never holds an invalid value.
    """

    _ready: bool
    #: n_groups when neither n_groups nor the deprecated n_images is given
    _DEFAULT_N_GROUPS: ClassVar[int | None] = None
    #: fields stored as ``Path``: (name, None allowed)
    _PATH_FIELDS: ClassVar[tuple[tuple[str, bool], ...]] = ()

    def __post_init__(self) -> None:
        _resolve_n_images(self, self._DEFAULT_N_GROUPS)
        self._normalise()
        self._validate()
        object.__setattr__(self, "_ready", True)

    def _normalise_paths(self) -> None:
        _set_paths(self, type(self).__name__, self._PATH_FIELDS)

    def __setattr__(self, name: str, value: Any) -> None:
        if not self.__dict__.get("_ready", False) or name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        old = self.__dict__.get(name)
        object.__setattr__(self, name, value)
        try:
            self._normalise()
            self._validate()
        except ValueError:
            object.__setattr__(self, name, old)
            raise

    def _normalise(self) -> None:  # pragma: no cover - overridden
        pass

    def _validate(self) -> None:  # pragma: no cover - overridden
        pass


@dataclass(kw_only=True)
class _GroupingFields(_ValidatedOnAssignment):
    """The sampling and grouping fields that training and inference share (specs/config.md §3-§4): which scan
    points are used (``n_groups``, deprecated ``n_images``, ``n_subsample``, ``subsample_seed``) and how they form
    groups of gridsize² (``neighbor_count``, ``enable_oversampling``, ``neighbor_pool_size``). Keyword-only, so
    the required fields of a subclass keep their positions."""

    n_groups: int | None = None
    n_images: int | None = None
    n_subsample: int | None = None
    subsample_seed: int | None = None
    neighbor_count: int = 4
    enable_oversampling: bool = False
    neighbor_pool_size: int | None = None


@dataclass
class TrainingConfig(_GroupingFields):
    """Everything a training run needs besides the data (specs/config.md §3)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train_data_file: Path | None = None
    test_data_file: Path | None = None
    batch_size: int = 16
    nepochs: int | None = 50
    learning_rate: float = 1e-3
    scheduler: str = "Default"
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"
    mae_weight: float = 0.0
    nll_weight: float = 1.0
    realspace_mae_weight: float = 0.0
    realspace_weight: float = 0.0
    nphotons: float = 1e9
    positions_provided: bool = True
    probe_trainable: bool = False
    intensity_scale_trainable: bool = False
    output_dir: Path = Path("training_outputs")
    sequential_sampling: bool = False
    backend: str = "tensorflow"
    torch_loss_mode: str = "poisson"
    debug: bool = False
    max_time: str | None = None
    teacher: str = "none"
    teacher_iterations: int = 20
    teacher_supervised_share: float = 1.0
    teacher_keep_weight: float = 0.0

    _DEFAULT_N_GROUPS: ClassVar[int | None] = DEFAULT_N_GROUPS
    _PATH_FIELDS: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("train_data_file", True), ("test_data_file", True), ("output_dir", False))

    def _normalise(self) -> None:
        self._normalise_paths()
        if isinstance(self.scheduler, str):
            object.__setattr__(self, "scheduler", SCHEDULER_ALIASES.get(self.scheduler, self.scheduler))
        if _is_int(self.nphotons):
            object.__setattr__(self, "nphotons", float(self.nphotons))
        _assign_n_images(self)

    def _validate(self) -> None:
        validate_training_config(self)

    @property
    def max_time_s(self) -> float | None:
        """Seconds of the ``max_time`` budget (parsed once, when the field is set); None without a budget."""
        return self.__dict__.get("_max_time_s")

    @property
    def until_budget(self) -> bool:
        """True when the budget alone ends training (``nepochs`` None: no epoch limit)."""
        return self.nepochs is None


def validate_training_config(cfg: TrainingConfig) -> None:
    """Raise ValueError naming the first invalid field of ``cfg`` (specs/config.md §3)."""
    o = "TrainingConfig"
    if not isinstance(cfg.model, ModelConfig):
        _fail(o, "model", cfg.model, "a ModelConfig")
    _check_int(o, "batch_size", cfg.batch_size, 1)
    _check_int(o, "nepochs", cfg.nepochs, 1, optional=True)
    budget_s = check_max_time(o, "max_time", cfg.max_time)
    if cfg.nepochs is None and budget_s is None:
        _fail(o, "nepochs", None, "an integer >= 1, or None together with a max_time budget (train until it)")
    _check_float(o, "learning_rate", cfg.learning_rate, low=0.0, low_open=True)
    _check_choice(o, "scheduler", cfg.scheduler, SCHEDULERS)
    validate_optimisation(o, cfg)
    _check_float(o, "mae_weight", cfg.mae_weight, low=0.0, high=1.0)
    _check_float(o, "nll_weight", cfg.nll_weight, low=0.0, high=1.0)
    _check_float(o, "realspace_mae_weight", cfg.realspace_mae_weight, low=0.0)
    _check_float(o, "realspace_weight", cfg.realspace_weight, low=0.0)
    _check_float(o, "nphotons", cfg.nphotons, low=0.0, low_open=True)
    _check_int(o, "n_groups", cfg.n_groups, 1, optional=True)
    _check_int(o, "n_subsample", cfg.n_subsample, 1, optional=True)
    _check_int(o, "subsample_seed", cfg.subsample_seed, 0, optional=True)
    _check_grouping(o, cfg.model, cfg.neighbor_count, cfg.neighbor_pool_size)
    for name in ("enable_oversampling", "positions_provided", "probe_trainable", "intensity_scale_trainable",
                 "sequential_sampling", "debug"):
        _check_bool(o, name, getattr(cfg, name))
    _check_choice(o, "backend", cfg.backend, BACKENDS)
    _check_choice(o, "torch_loss_mode", cfg.torch_loss_mode, LOSS_MODES)
    validate_teacher(o, cfg)
    object.__setattr__(cfg, "_max_time_s", budget_s)  # the budget string is parsed here, once per valid change


def _check_grouping(owner: str, model: ModelConfig, neighbor_count: Any, pool: Any) -> None:
    _check_int(owner, "neighbor_count", neighbor_count, 1)
    channels = model.gridsize**2
    if model.gridsize > 1 and neighbor_count < channels:
        _fail(owner, "neighbor_count", neighbor_count,
              f">= gridsize**2 = {channels} (a group of {channels} needs that many neighbours)")
    _check_int(owner, "neighbor_pool_size", pool, max(1, channels), optional=True)


@dataclass
class InferenceConfig(_GroupingFields):
    """What reconstructing a scan with a trained model needs (specs/config.md §4)."""

    model: ModelConfig
    model_path: Path
    test_data_file: Path
    debug: bool = False
    output_dir: Path = Path("inference_outputs")
    backend: str = "tensorflow"

    _PATH_FIELDS: ClassVar[tuple[tuple[str, bool], ...]] = (
        ("model_path", False), ("test_data_file", False), ("output_dir", False))

    def _normalise(self) -> None:
        self._normalise_paths()
        _assign_n_images(self)

    def _validate(self) -> None:
        validate_inference_config(self)


def validate_inference_config(cfg: InferenceConfig) -> None:
    """Raise ValueError naming the first invalid field of ``cfg`` (specs/config.md §4).

    The model path is not required to exist here: loaders report a missing bundle with its path.
    """
    o = "InferenceConfig"
    if not isinstance(cfg.model, ModelConfig):
        _fail(o, "model", cfg.model, "a ModelConfig")
    _check_int(o, "n_groups", cfg.n_groups, 1, optional=True)
    _check_int(o, "n_subsample", cfg.n_subsample, 1, optional=True)
    _check_int(o, "subsample_seed", cfg.subsample_seed, 0, optional=True)
    _check_grouping(o, cfg.model, cfg.neighbor_count, cfg.neighbor_pool_size)
    _check_bool(o, "enable_oversampling", cfg.enable_oversampling)
    _check_bool(o, "debug", cfg.debug)
    _check_choice(o, "backend", cfg.backend, BACKENDS)


# ----------------------------------------------------------------------------------------------------
# Legacy mirror and JSON round trip
# ----------------------------------------------------------------------------------------------------


def _public_items(obj: Any) -> list[tuple[str, Any]]:
    return [(f.name, getattr(obj, f.name)) for f in fields(obj)]


def dataclass_to_legacy_dict(obj: Any) -> dict[str, Any]:
    """Flatten a config (its ``model`` inlined) into legacy ``params.cfg`` keys (specs/config.md §5).

    Paths become strings; ``None`` values are left out so they never clobber an existing entry.
    """
    out: dict[str, Any] = {}
    for name, value in _public_items(obj):
        if isinstance(value, ModelConfig):
            out.update(dataclass_to_legacy_dict(value))
            continue
        if value is None:
            continue
        out[KEY_MAPPINGS.get(name, name)] = str(value) if isinstance(value, Path) else value
    return out


def update_legacy_dict(cfg: dict[str, Any], dataclass_obj: Any) -> None:
    """Write ``dataclass_obj`` into the legacy dict ``cfg`` (normally ``ptycho.params.cfg``) in place."""
    if not dataclasses.is_dataclass(dataclass_obj) or isinstance(dataclass_obj, type):
        raise ValueError(
            f"update_legacy_dict: expected a ModelConfig, TrainingConfig or InferenceConfig instance, "
            f"got {type(dataclass_obj).__name__}"
        )
    cfg.update(dataclass_to_legacy_dict(dataclass_obj))


_CONFIG_TYPES: dict[str, type] = {
    "ModelConfig": ModelConfig,
    "TrainingConfig": TrainingConfig,
    "InferenceConfig": InferenceConfig,
}


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """JSON-serialisable dict of a config, tagged with ``config_type``; inverse of ``config_from_dict``."""
    if type(cfg).__name__ not in _CONFIG_TYPES:
        raise ValueError(f"config_to_dict: expected a canonical config, got {type(cfg).__name__}")
    out: dict[str, Any] = {"config_type": type(cfg).__name__}
    for name, value in _public_items(cfg):
        if name == "n_images":
            continue
        if isinstance(value, ModelConfig):
            value = config_to_dict(value)
        elif isinstance(value, Path):
            value = str(value)
        out[name] = value
    return out


def config_from_dict(data: dict[str, Any], config_type: str | type | None = None) -> Any:
    """Build a canonical config from a dict made by ``config_to_dict`` (or by hand).

    ``config_type`` (name or class) is taken from ``data['config_type']`` when not given. Unknown keys
    raise ValueError naming them: a config file with a typo never silently loses a setting.
    """
    if not isinstance(data, dict):
        raise ValueError(f"config_from_dict: expected a mapping, got {type(data).__name__}")
    data = dict(data)
    tag = data.pop("config_type", None)
    kind = config_type if config_type is not None else tag
    if isinstance(kind, type):
        kind = kind.__name__
    if not isinstance(kind, str) or kind not in _CONFIG_TYPES:
        raise ValueError(f"config_type: expected one of {', '.join(_CONFIG_TYPES)}, got {kind!r}")
    cls = _CONFIG_TYPES[kind]
    known = {f.name for f in fields(cls)}
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise ValueError(f"{kind}: field names must be strings, got {bad_keys[0]!r}")
    unknown = sorted(set(data) - known)
    if unknown:
        shown = ", ".join(k if k.isidentifier() else repr(k) for k in unknown)  # repr keeps the message one line
        raise ValueError(f"{kind}: unknown field(s) {shown}; known: {', '.join(sorted(known))}")
    if "model" in data and isinstance(data["model"], dict):
        data["model"] = config_from_dict(data["model"], "ModelConfig")
    return cls(**data)
