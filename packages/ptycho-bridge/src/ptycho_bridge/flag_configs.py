"""Parsed flags -> configs: the one translation every training command line uses (``ptycho train`` on either
backend, ``python -m ptycho_torch.train``: ``(TrainingConfig, PyTorchExecutionConfig)``; specs/cli.md §4,
specs/torch-cli.md §2) and every inference command line (``ptycho infer`` on either backend, ``python -m
ptycho_torch.inference``: ``(InferenceConfig, PyTorchExecutionConfig)`` from the flags and the bundle's stored
TrainingConfig; specs/torch-cli.md §4).

Each value lands in the field its option names (:data:`ptycho_bridge.options.OPTIONS`). Precedence, highest first:
explicit flags, then the values of the ``--config`` file they name, then the command's recipe (:mod:`ptycho_cli.recipe`), then the
config classes' defaults. Three rules act across fields: ``object_big`` that no source sets is ``gridsize > 1``
(the group canvas only for grouped patterns; at gridsize 1 both settings predict the same diffraction, specs/cli.md
§4.3); a budget (``max_time``) with no epoch count from any source
means "train until the budget" (``nepochs=None``, specs/config.md §3); the deprecated ``n_images`` folds into
``n_groups`` with a DeprecationWarning. The execution config's learning rate and schedule are the canonical
config's (``execution_config_for``), so the trainer and the stored config agree. Imports no framework;
``accelerator='auto'`` stays 'auto' (the trainer resolves it).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ptycho.config import config as canonical
from ptycho.config.config import default_multistage_milestones
from ptycho_bridge.config_file import load_config_file
from ptycho_bridge.execution import PyTorchExecutionConfig, execution_config_for
from ptycho_bridge.options import dest_fields

__all__ = ["FieldValues", "field_values", "configs_from_flags", "training_config", "execution_config", "object_big_rule",
           "neighbor_count_rule", "INFERENCE_FROM_BUNDLE", "inference_config", "inference_execution_config", "inference_configs_from_flags"]

_MODEL_FIELDS = frozenset(f.name for f in fields(canonical.ModelConfig))
_DEFAULT_GRIDSIZE = next(f.default for f in fields(canonical.ModelConfig) if f.name == "gridsize")
_DEFAULT_NEIGHBOURS = next(f.default for f in fields(canonical.TrainingConfig) if f.name == "neighbor_count")


def object_big_rule(model: dict[str, Any]) -> None:
    """Set ``model['object_big'] = gridsize > 1`` when no source (flag, ``--config`` file, recipe) set it; the
    gridsize is the one given, else the ModelConfig default. The one place of this rule for every command line."""
    gridsize = model.get("gridsize", _DEFAULT_GRIDSIZE)
    if "object_big" not in model and isinstance(gridsize, int):
        model["object_big"] = gridsize > 1


def neighbor_count_rule(model: dict[str, Any], training: dict[str, Any]) -> None:
    """Raise an unset ``training['neighbor_count']`` from its default to gridsize² when a group needs more
    neighbours than that (``--gridsize 3`` alone: 9); a value any source set is kept (and validated)."""
    gridsize = model.get("gridsize", _DEFAULT_GRIDSIZE)
    if "neighbor_count" not in training and isinstance(gridsize, int) and gridsize**2 > _DEFAULT_NEIGHBOURS:
        training["neighbor_count"] = gridsize**2


@dataclass
class FieldValues:
    """The values a run sets, by home: canonical ``training`` / ``model`` / ``inference`` fields, ``execution``
    fields and ``run`` settings (``config``, ``resume``, ...); ``explicit``: the canonical fields given as flags."""

    training: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    inference: dict[str, Any] = field(default_factory=dict)
    execution: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)


def _given(value: Any) -> bool:
    return value is not None and type(value).__name__ != "_Unset"


Recipe = Mapping[str, Any] | Callable[[str | None], Mapping[str, Any]]


#: model fields that exclude each other (specs/network.md §8.3): one the flags or the file choose replaces the other
#: when only the recipe set it
_EXCLUSIVE = (("input_projections", "input_refine_passes"),)


def _yield_exclusive_recipe_entries(out: FieldValues, recipe: Mapping[str, Any], file_model: Mapping[str, Any]) -> None:
    chosen = out.explicit | set(file_model)
    for pair in _EXCLUSIVE:
        for mine, other in (pair, pair[::-1]):
            if out.model.get(mine) and mine in chosen and other in recipe and other not in chosen:
                out.model[other] = 0


def field_values(values: Mapping[str, Any], command: str = "torch.train", *, recipe: Recipe | None = None) -> FieldValues:
    """Sort ``values`` (parsed flags by namespace attribute; None and unset markers = not given; names that are
    no option of the training ``command`` are ignored) into their homes, over the values of the ``--config`` file
    ``values['config']`` names (:func:`ptycho_bridge.config_file.load_config_file`), over ``recipe`` (canonical
    field -> value, or a function of the generator architecture the flags and file choose, None = not chosen).

    Raises:
        ValueError: ``--n-images`` and ``--n-groups`` disagree; ConfigFileError (a ValueError) for a bad file.
    """
    out = FieldValues()
    table = dest_fields(command)
    given = {name: value for name, value in values.items() if name in table and _given(value)}
    file = load_config_file(given["config"]) if given.get("config") is not None else None
    file_model = file.model if file is not None else {}
    if callable(recipe):
        recipe = recipe(given.get("architecture", file_model.get("architecture")))
    for name, value in (recipe or {}).items():
        (out.model if name in _MODEL_FIELDS else out.training)[name] = value
    if file is not None:
        out.training.update(file.training)
        out.model.update(file_model)
    for name, value in given.items():
        home, target = table[name]
        if home == "execution" and target == "enable_progress_bar":  # --quiet
            out.execution[target] = not value
            continue
        getattr(out, home)[target] = value
        if home in ("training", "model", "inference"):
            out.explicit.add(target)
    _yield_exclusive_recipe_entries(out, recipe or {}, file_model)
    n_images = out.training.pop("n_images", None)
    if n_images is not None and "n_images" in out.explicit:
        warnings.warn("--n-images is deprecated; use --n-groups", DeprecationWarning, stacklevel=2)
        if "n_groups" in out.explicit and out.training["n_groups"] != n_images:
            raise ValueError(f"--n-images {n_images} conflicts with --n-groups {out.training['n_groups']}; "
                             "give only --n-groups")
        out.training["n_groups"] = out.training.get("n_groups") if "n_groups" in out.explicit else n_images
    if out.training.get("max_time") is not None and "nepochs" not in out.training:
        out.training["nepochs"] = None  # a budget without an epoch count: until the budget (specs/config.md §3)
    return out


def training_config(values: FieldValues, *, backend: str, N: int | None = None) -> Any:
    """The canonical ``TrainingConfig`` of ``values`` for ``backend`` (:func:`object_big_rule` and
    :func:`neighbor_count_rule` applied); ``N``: the
    pattern size of the data, used when no source sets it. ValueError (one line naming the field) for a value the config rejects."""
    model = dict(values.model)
    if N is not None:
        model.setdefault("N", int(N))
    object_big_rule(model)
    training = {k: v for k, v in values.training.items() if k != "backend"}
    neighbor_count_rule(model, training)
    return canonical.TrainingConfig(model=canonical.ModelConfig(**model), backend=backend, **training)


def execution_config(values: FieldValues, config: Any) -> PyTorchExecutionConfig:
    """The ``PyTorchExecutionConfig`` of ``values`` agreeing with ``config`` (learning rate, schedule; the
    'MultiStage' milestones from its epoch count). ValueError when a value is rejected or 'MultiStage' has no
    epoch count."""
    settings = dict(values.execution)
    settings["learning_rate"], settings["scheduler"] = config.learning_rate, config.scheduler
    if config.scheduler == "MultiStage" and "multistage_milestones" not in settings:
        if config.nepochs is None:
            raise ValueError("--scheduler MultiStage: expected --max-epochs (its milestones are fractions of the "
                             "run's epochs), found only --max-time")
        settings["multistage_milestones"] = default_multistage_milestones(int(config.nepochs))
    return execution_config_for(config, PyTorchExecutionConfig(**settings))


def configs_from_flags(values: Mapping[str, Any], command: str = "torch.train", *, backend: str = "pytorch",
                       N: int | None = None, recipe: Recipe | None = None) -> tuple[Any, PyTorchExecutionConfig]:
    """``(TrainingConfig, PyTorchExecutionConfig)`` from parsed flags (:func:`field_values`,
    :func:`training_config`, :func:`execution_config`)."""
    sorted_values = field_values(values, command, recipe=recipe)
    config = training_config(sorted_values, backend=backend, N=N)
    return config, execution_config(sorted_values, config)


#: the ``InferenceConfig`` fields taken from the bundle's stored TrainingConfig (its grouping settings; the model is
#: the bundle's too); ``n_groups`` is not among them: unset, a reconstruction uses every position
INFERENCE_FROM_BUNDLE = ("n_subsample", "subsample_seed", "neighbor_count", "enable_oversampling", "neighbor_pool_size")


def inference_config(values: FieldValues, bundle_config: Any, *, backend: str) -> Any:
    """The canonical ``InferenceConfig`` of ``values`` (sorted inference flags: paths, ``n_groups``) for the
    model whose stored canonical ``TrainingConfig`` is ``bundle_config``: its ``model`` and the
    :data:`INFERENCE_FROM_BUNDLE` grouping fields come from the bundle (never through the PyTorch-native dialect).
    ValueError (one line naming the field) for a value the config rejects."""
    settings = {name: getattr(bundle_config, name) for name in INFERENCE_FROM_BUNDLE}
    settings.update(values.inference)
    return canonical.InferenceConfig(model=bundle_config.model, backend=backend, **settings)


def inference_execution_config(values: FieldValues, bundle_config: Any = None) -> PyTorchExecutionConfig:
    """The ``PyTorchExecutionConfig`` of an inference run: the execution flags given, ``inference_batch_size``
    unset = the training batch size stored in the bundle (``bundle_config.batch_size``; left None without one).
    ValueError when a value is rejected."""
    settings = dict(values.execution)
    if settings.get("inference_batch_size") is None and bundle_config is not None:
        settings["inference_batch_size"] = int(bundle_config.batch_size)
    return PyTorchExecutionConfig(**settings)


def inference_configs_from_flags(values: Mapping[str, Any], command: str = "torch.inference", *, bundle_config: Any,
                                 backend: str = "pytorch") -> tuple[Any, PyTorchExecutionConfig]:
    """``(InferenceConfig, PyTorchExecutionConfig)`` from parsed inference flags of ``command`` ('infer' or
    'torch.inference') and the bundle's stored TrainingConfig (:func:`field_values`, :func:`inference_config`,
    :func:`inference_execution_config`)."""
    sorted_values = field_values(values, command)
    return (inference_config(sorted_values, bundle_config, backend=backend),
            inference_execution_config(sorted_values, bundle_config))
