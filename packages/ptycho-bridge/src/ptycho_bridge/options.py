"""The option table: every flag of ``ptycho train`` / ``ptycho infer`` and of ``python -m ptycho_torch.train`` /
``ptycho_torch.inference`` (the seed guide's command lines), one :class:`Option` each (specs/cli.md §4,
specs/torch-cli.md §2, §4).

An option names the config field it sets (``home``: 'model' = canonical ``ModelConfig``, 'training' = canonical
``TrainingConfig``, 'inference' = canonical ``InferenceConfig``, 'execution' = ``PyTorchExecutionConfig``, 'run' =
a setting of the run itself, kept in no config), its spellings (the shown kebab-case one first; each snake_case
twin is accepted too, :mod:`ptycho_bridge.flag_style`), its value type and help, and the commands that take it.
The parsers are built from it (:func:`add_options`), :func:`ptycho_bridge.flag_configs.configs_from_flags` turns
what they parsed into configs with it, and :func:`option_problems` checks it against the config classes and the
mapping table :data:`ptycho_bridge.field_map.FIELD_MAP` (pinned by a test). Adding a config field with a flag:
the field in its config class (and its ``FIELD_MAP`` row for a canonical field), one :class:`Option` here, the
code that uses it. Imports no framework.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from ptycho.config import config as canonical
from ptycho.config.config import SCHEDULERS
from ptycho.config.teacher_options import TEACHERS
from ptycho.config.training_options import ARCHITECTURES, CLIP_ALGORITHMS, OPTIMIZERS
from ptycho_bridge.execution import (
    ACCELERATORS,
    CHECKPOINT_MODES,
    LOGGER_BACKENDS,
    PRECISIONS,
    STRATEGIES,
    PyTorchExecutionConfig,
)
from ptycho_bridge.field_map import FIELD_MAP
from ptycho_bridge.option_types import (
    closed_unit,
    devices_value,
    max_time_value,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    top_k_int,
    unit_interval,
)

__all__ = ["Option", "OPTIONS", "COMMANDS", "HOMES", "options_for", "add_options", "option_problems", "dest_fields",
           "unset_values", "parser_problems"]

#: the command lines built from the table: ``ptycho train``, ``ptycho infer``, ``python -m ptycho_torch.train``,
#: ``python -m ptycho_torch.inference``
COMMANDS = ("train", "infer", "torch.train", "torch.inference")
HOMES = {"model": canonical.ModelConfig, "training": canonical.TrainingConfig,
         "inference": canonical.InferenceConfig, "execution": PyTorchExecutionConfig, "run": None}


@dataclass(frozen=True)
class Option:
    """One flag. ``field``: the field it sets in its ``home`` class (``dest``, when given, the namespace
    attribute: the seed guide's name where it differs); ``flags``: spellings, the shown one first; ``commands``:
    of :data:`COMMANDS`; ``group``: the help section ('data', 'teacher', 'generator', 'execution',
    'deprecated'); ``torch_only``: the ``ptycho`` commands say "PyTorch only"; ``required``: commands where the
    flag must be given; ``kwargs``: the rest of ``add_argument`` (type, choices, action, metavar, nargs, const)."""

    field: str
    home: str
    flags: tuple[str, ...]
    help: str
    commands: frozenset[str]
    group: str = "data"
    dest: str | None = None
    torch_only: bool = False
    required: frozenset[str] = frozenset()
    kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def name(self) -> str:
        """The namespace attribute the parsers store the value under."""
        return self.dest or self.field


_TRAIN = frozenset({"train", "torch.train"})
_INFER = frozenset({"infer", "torch.inference"})
_TORCH_TRAIN = frozenset({"torch.train"})
_ALL = _TRAIN | _INFER


def _o(field: str, home: str, flags: str, help: str, commands: Iterable[str] = _TRAIN, *, group: str = "data",
       dest: str | None = None, torch_only: bool = False, required: Iterable[str] = (),
       type: Callable[[str], Any] | None = None, **kwargs: Any) -> Option:
    if type is not None:
        kwargs["type"] = type
    return Option(field, home, tuple(flags.split()), help, frozenset(commands), group, dest, torch_only,
                  frozenset(required), tuple(sorted(kwargs.items())))


_T, _M, _E, _R, _I = "training", "model", "execution", "run", "inference"
_NPZ, _DIR = {"metavar": "NPZ"}, {"metavar": "DIR"}

#: The table, in help order.
OPTIONS: tuple[Option, ...] = (
    # --- data and model: canonical TrainingConfig / ModelConfig fields ------------------------------------
    _o("config", _R, "--config", "YAML or JSON file of canonical TrainingConfig/ModelConfig fields; explicit flags "
       "win over it (specs/torch-cli.md §3)", _TRAIN, torch_only=True, metavar="FILE"),
    _o("train_data_file", _T, "--train-data-file", "training scan (.npz, specs/data-contract.md)",
       required=("train",), **_NPZ),
    _o("test_data_file", _T, "--test-data-file", "validation scan (val metrics, early stopping)", **_NPZ),
    _o("output_dir", _T, "--output-dir", "run folder: checkpoints/, lightning_logs/, wts.h5.zip",
       required=("train",), **_DIR),
    _o("nepochs", _T, "--max-epochs --epochs --nepochs", "training epochs (TrainingConfig.nepochs, default 50; "
       "with --max-time alone: until the budget)", dest="max_epochs", type=positive_int, metavar="N"),
    _o("max_time", _T, "--max-time", "wall-clock training budget, e.g. 00:00:14:00; training stops at the budget or "
       "the last epoch, whichever comes first", type=max_time_value, metavar="DD:HH:MM:SS"),
    _o("n_groups", _T, "--n-groups", "groups to train on (default: the whole scan, one group per position)",
       type=positive_int, metavar="N"),
    _o("n_images", _T, "--n-images", "deprecated alias of --n-groups", type=positive_int, metavar="N"),
    _o("gridsize", _M, "--gridsize", "group side; C = gridsize² patterns per group (default 1; ptycho train with PyTorch and the CNN: 2)", type=positive_int,
       metavar="G"),
    _o("batch_size", _T, "--batch-size", "batch size (default 16; the global batch of a ddp run)",
       type=positive_int, metavar="B"),
    _o("N", _M, "--N", "patch size (default: from the training data)", _TRAIN, torch_only=True, type=int, choices=(64, 128, 256)),
    _o("model_type", _M, "--model-type", "pinn (default) or supervised", _TRAIN, torch_only=True, choices=("pinn", "supervised")),
    _o("n_filters_scale", _M, "--n-filters-scale", "width multiplier of the network's filter ladders",
       type=positive_int, metavar="S"),
    _o("nphotons", _T, "--nphotons", "mean photons per pattern (default 1e9)", type=positive_float, metavar="PHOTONS"),
    _o("neighbor_count", _T, "--neighbor-count", "K nearest neighbours for grouping (default 4)", type=positive_int,
       metavar="K"),
    _o("torch_loss_mode", _T, "--torch-loss-mode", "poisson (default) or mae", _TRAIN, torch_only=True,
       choices=("poisson", "mae")),
    _o("subsample_seed", _T, "--seed --subsample-seed", "seed for sampling and weight initialisation (default 42)",
       type=nonnegative_int, metavar="SEED"),
    _o("sequential_sampling", _T, "--sequential-sampling", "first n positions as group seeds, batches in order",
       _TRAIN, torch_only=True, action=argparse.BooleanOptionalAction),
    # --- the refinement teacher (specs/torch-training.md §8) ----------------------------------------------
    _o("teacher", _T, "--teacher", "'refine' = refine the training scan's object (its time counts in --max-time), "
       "train the generator on its patches, then on the Poisson likelihood; 'none' = the Poisson likelihood alone "
       "(the canonical default; ptycho train's recipe uses 'refine' with the cnn generator, specs/cli.md §4.1-4.2)",
       group="teacher", torch_only=True, choices=TEACHERS),
    _o("teacher_iterations", _T, "--teacher-iterations", "refinement passes of the teacher (default 20)",
       group="teacher", torch_only=True, type=positive_int, metavar="K"),
    _o("teacher_supervised_share", _T, "--teacher-supervised-share", "share of the epochs (or of the training "
       "time) in the supervised stage, (0, 1] (default 1 = no Poisson stage)", group="teacher", torch_only=True,
       type=float, metavar="F"),
    _o("teacher_keep_weight", _T, "--teacher-keep-weight", "weight of the supervised loss kept in the Poisson "
       "stage, >= 0 (default 0)", group="teacher", torch_only=True, type=float, metavar="W"),
    # --- generator and optimiser (specs/config.md §2-§3) --------------------------------------------------
    _o("architecture", _M, "--architecture", "generator: cnn (U-Net, default), fno (Fourier neural operator), "
       "ffno (factorised FNO); the Fourier ones train with the PyTorch backend only", group="generator",
       choices=ARCHITECTURES),
    _o("fno_modes", _M, "--fno-modes", "Fourier modes kept per axis (<= N/2; default 12)", group="generator",
       type=positive_int, metavar="M"),
    _o("fno_width", _M, "--fno-width", "channels of the Fourier generator (default 32)", group="generator",
       type=positive_int, metavar="W"),
    _o("fno_blocks", _M, "--fno-blocks", "spectral blocks of the Fourier generator (default 4)", group="generator",
       type=positive_int, metavar="B"),
    _o("learned_input_channels", _M, "--learned-input-channels", "input channels per pattern; only 1 (the "
       "diffraction amplitude) is implemented", group="generator", type=positive_int, metavar="K"),
    _o("input_projections", _M, "--input-projections", "the CNN corrects each pattern's estimate after K "
       "single-pattern modulus projections with the probe (0 = it reads the amplitude; PyTorch only)",
       group="generator", type=nonnegative_int, metavar="K"),
    _o("input_refine_passes", _M, "--input-refine-passes", "the CNN corrects the scan's object after R "
       "maximum-likelihood refinement passes from flat, cut at each pattern's position (0 = off; exclusive with "
       "--input-projections; PyTorch only)", group="generator", type=nonnegative_int, metavar="R"),
    _o("correction_window", _M, "--correction-window", "the CNN reads and corrects the central W x W of each "
       "estimate, the estimate unchanged outside (0 = the whole patch; a multiple of 8; PyTorch only)",
       group="generator", type=nonnegative_int, metavar="W"),
    _o("optimizer", _T, "--optimizer", "adam (default), adamw, sgd", group="generator", choices=OPTIMIZERS),
    _o("momentum", _T, "--momentum", "SGD momentum in [0, 1) (Nesterov when > 0; default 0.9)", group="generator",
       type=unit_interval, metavar="MU"),
    _o("weight_decay", _T, "--weight-decay", "weight decay >= 0 (L2 for adam/sgd, decoupled for adamw; default 0)",
       group="generator", type=nonnegative_float, metavar="WD"),
    _o("adam_beta1", _T, "--adam-beta1", "default 0.9", group="generator", type=unit_interval, metavar="B1"),
    _o("adam_beta2", _T, "--adam-beta2", "default 0.999", group="generator", type=unit_interval, metavar="B2"),
    _o("gradient_clip_val", _T, "--gradient-clip-val", "clip gradients at V (> 0; default: no clipping)",
       group="generator", type=positive_float, metavar="V"),
    _o("gradient_clip_algorithm", _T, "--gradient-clip-algorithm", "norm (global L2 norm <= V, default) or value "
       "(each element in [-V, V])", group="generator", choices=CLIP_ALGORITHMS),
    _o("learning_rate", _T, "--learning-rate", "learning rate (default 1e-3)", group="generator",
       type=positive_float, metavar="LR"),
    _o("scheduler", _T, "--scheduler", "learning-rate schedule (default Default = constant)", group="generator",
       choices=SCHEDULERS),
    _o("lr_warmup_epochs", _E, "--lr-warmup-epochs", "WarmupCosine: epochs of linear warm-up from 0.1 x lr "
       "(default 0)", group="generator", type=nonnegative_int, metavar="E"),
    _o("lr_min_ratio", _E, "--lr-min-ratio", "WarmupCosine: final learning rate as a fraction of lr, in [0, 1] "
       "(default 0.1)", group="generator", type=closed_unit, metavar="R"),
    # --- execution: PyTorchExecutionConfig fields ----------------------------------------------------------
    _o("accelerator", _E, "--accelerator", "auto (default: CUDA when present, else CPU), cpu, cuda/gpu, mps",
       _ALL, torch_only=True, group="execution", choices=(*ACCELERATORS, "tpu")),
    _o("strategy", _E, "--strategy", "auto (default: one process), ddp (one process per device; also under "
       "torchrun/SLURM) or ddp_spawn (workers spawned from this process); --batch-size is the global batch "
       "(specs/scaling.md §1)", group="execution", torch_only=True, choices=STRATEGIES),
    _o("devices", _E, "--devices", "devices (processes) per machine (default 1)", group="execution",
       torch_only=True, type=devices_value, metavar="K"),
    _o("num_nodes", _E, "--num-nodes", "machines taking part in a ddp run (default 1)", group="execution",
       torch_only=True, type=positive_int, metavar="M"),
    _o("precision", _E, "--precision", "32 (default), bf16-mixed or 16-mixed: the network under autocast, physics "
       "and loss in float32", _ALL, torch_only=True, group="execution", choices=PRECISIONS),
    _o("deterministic", _E, "--deterministic", "deterministic algorithms (default on)", _TRAIN, torch_only=True,
       group="execution", action=argparse.BooleanOptionalAction),
    _o("num_workers", _E, "--num-workers", "DataLoader workers (default 0)", _ALL, torch_only=True,
       group="execution", type=nonnegative_int, metavar="W"),
    _o("accumulate_grad_batches", _E, "--accumulate-grad-batches", "must be 1: manual optimisation cannot "
       "accumulate (EXEC-ACCUM-001)", _TRAIN, torch_only=True, group="execution", type=positive_int, metavar="K"),
    _o("enable_progress_bar", _E, "--quiet", "no progress bar, no library logging", _TORCH_TRAIN | {"torch.inference"},
       group="execution", dest="quiet", action="store_true"),
    _o("enable_checkpointing", _E, "--enable-checkpointing", "default", _TRAIN, torch_only=True, group="execution",
       action="store_true"),
    _o("enable_checkpointing", _E, "--disable-checkpointing", "no checkpoints/", _TRAIN, torch_only=True, group="execution",
       action="store_false"),
    _o("checkpoint_save_top_k", _E, "--checkpoint-save-top-k", "best checkpoints kept: -1 all, 0 none, k >= 1 "
       "(default 1); last.ckpt unless 0", _TRAIN, torch_only=True, group="execution", type=top_k_int, metavar="K"),
    _o("checkpoint_monitor_metric", _E, "--checkpoint-monitor", "metric for checkpoints/early stopping (default "
       "val_loss, aliased to the model's loss name)", _TRAIN, torch_only=True, group="execution", dest="checkpoint_monitor",
       metavar="METRIC"),
    _o("checkpoint_mode", _E, "--checkpoint-mode", "default min", _TRAIN, torch_only=True, group="execution",
       choices=CHECKPOINT_MODES),
    _o("early_stop_patience", _E, "--early-stop-patience", "epochs without improvement before stopping (needs "
       "validation data; default 100)", _TRAIN, torch_only=True, group="execution", type=positive_int, metavar="E"),
    _o("checkpoint_every_n_steps", _E, "--checkpoint-every-n-steps", "optimiser steps between mid-epoch saves of "
       "checkpoints/last.ckpt (0 = epoch ends only; default 50)", _TRAIN, torch_only=True, group="execution",
       type=nonnegative_int, metavar="S"),
    _o("logger_backend", _E, "--logger", "csv (default), tensorboard, mlflow, none", _TRAIN, torch_only=True, group="execution",
       dest="logger", choices=LOGGER_BACKENDS),
    _o("resume", _R, "--resume", "continue an interrupted run from <output_dir>/checkpoints/last.ckpt (or the given "
       ".ckpt): weights, optimizer, scheduler, RNG, epoch and batch order are restored (specs/reliability.md §1)",
       group="execution", nargs="?", const=True, metavar="CKPT"),
    # --- inference: canonical InferenceConfig fields ---------------------------------------------------------
    _o("model_path", _I, "--model-path", "training run folder holding wts.h5.zip, or the zip", _INFER,
       required=_INFER, **_DIR),
    _o("test_data_file", _I, "--test-data --test-data-file", "scan to reconstruct (.npz)", _INFER, dest="test_data",
       required=_INFER, **_NPZ),
    _o("output_dir", _I, "--output-dir", "folder for reconstructed_object.npz and the PNGs", _INFER,
       required=_INFER, **_DIR),
    _o("n_groups", _I, "--n-groups --n-images", "groups to reconstruct (default: every position)", _INFER,
       type=positive_int, metavar="N"),
    _o("inference_batch_size", _E, "--inference-batch-size", "batch size for prediction (default: the training "
       "batch size stored in the bundle)", _INFER, group="execution", type=positive_int, metavar="B"),
    # --- deprecated ------------------------------------------------------------------------------------------
    _o("device", _R, "--device", "deprecated: use --accelerator", _TORCH_TRAIN | {"torch.inference"},
       group="deprecated", choices=("cpu", "cuda")),
    _o("disable_mlflow", _R, "--disable-mlflow", "deprecated: use --logger none --quiet", _TORCH_TRAIN,
       group="deprecated", action="store_true"),
)


def options_for(command: str, groups: Iterable[str] | None = None) -> tuple[Option, ...]:
    """The options of ``command`` (one of :data:`COMMANDS`), in table order; only ``groups`` when given."""
    if command not in COMMANDS:
        raise ValueError(f"command: expected one of {', '.join(COMMANDS)}, found {command!r}")
    wanted = None if groups is None else set(groups)
    return tuple(o for o in OPTIONS if command in o.commands and (wanted is None or o.group in wanted))


def dest_fields(command: str) -> dict[str, tuple[str, str]]:
    """``{namespace attribute: (home, field)}`` of ``command``'s options."""
    return {o.name: (o.home, o.field) for o in options_for(command)}


def unset_values(command: str) -> dict[str, Any]:
    """``{namespace attribute: value}`` of ``command``'s execution and run options when not given: the
    ``PyTorchExecutionConfig`` default (``--quiet``: False), None for a run setting (False for a switch)."""
    out: dict[str, Any] = {}
    for option in options_for(command):
        if option.name == "quiet":
            out[option.name] = False
        elif option.home == "execution":
            out[option.name] = _default(option)
        elif option.home == "run":
            out[option.name] = False if dict(option.kwargs).get("action") == "store_true" else None
    return out


def _spellings(flags: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for flag in flags:
        for spelling in (flag, flag.replace("-", "_") if flag.startswith("--") else flag):
            spelling = "--" + spelling[2:] if spelling.startswith("__") else spelling
            if spelling not in out:
                out.append(spelling)
    return out


def add_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, command: str,
                groups: Iterable[str] | None = None, *, defaults: bool = False) -> None:
    """Add ``command``'s options (of ``groups``, or all) to ``parser``: each flag's spellings and their
    snake_case twins (accepted; :func:`ptycho_bridge.flag_style.kebab_case_usage` shows the kebab-case ones).
    ``defaults``: an unset execution flag holds the ``PyTorchExecutionConfig`` default (else the parser's
    ``argument_default``)."""
    ptycho = command in ("train", "infer")
    for option in options_for(command, groups):
        kwargs = dict(option.kwargs)
        kwargs["help"] = ("PyTorch only: " if ptycho and option.torch_only else "") + option.help
        if command in option.required:
            kwargs["required"] = True
        if ptycho and kwargs.get("action") in ("store_true", "store_false"):
            kwargs["default"] = None  # unset stays recognisable (the switch's default is the config's)
        if defaults and option.home == "execution" and "action" not in kwargs:
            kwargs["default"] = _default(option)
        parser.add_argument(*_spellings(option.flags), dest=option.name, **kwargs)


def _default(option: Option) -> Any:
    return next(f.default for f in fields(PyTorchExecutionConfig) if f.name == option.field)


def option_problems() -> list[str]:
    """Consistency of :data:`OPTIONS` (empty when consistent; pinned by a test): every field exists in its home
    class; every canonical field with a flag has a mapping row (:data:`ptycho_bridge.field_map.FIELD_MAP`); no
    spelling or namespace attribute means two things within one command."""
    problems: list[str] = []
    rows = {(r.target, r.field) for r in FIELD_MAP}
    for option in OPTIONS:
        cls = HOMES.get(option.home, "?")
        if cls == "?":
            problems.append(f"{option.flags[0]}: unknown home {option.home!r}")
        elif cls is not None and option.field not in {f.name for f in fields(cls)}:
            problems.append(f"{option.flags[0]}: {cls.__name__} has no field {option.field!r}")
        elif cls is not None and option.home != "execution" and option.field != "n_images" \
                and (cls.__name__, option.field) not in rows:
            problems.append(f"{option.flags[0]}: {cls.__name__}.{option.field} has no FIELD_MAP row")
        if not option.commands or not option.commands <= set(COMMANDS):
            problems.append(f"{option.flags[0]}: commands {sorted(option.commands)} not of {COMMANDS}")
    for command in COMMANDS:
        seen: dict[str, Option] = {}
        names: dict[str, tuple[str, str]] = {}
        for option in options_for(command):
            for spelling in _spellings(option.flags):
                if spelling in seen:
                    problems.append(f"{command}: {spelling} belongs to two options")
                seen[spelling] = option
            if names.setdefault(option.name, (option.home, option.field)) != (option.home, option.field):
                problems.append(f"{command}: {option.name} stores two fields")
    return problems


def parser_problems(parser: argparse.ArgumentParser, command: str, others: Iterable[str] = ()) -> list[str]:
    """How ``parser`` differs from ``command``'s options (empty when it takes exactly them; pinned by the
    command lines' tests): a spelling the table does not give that option, an option of the table the parser
    lacks or stores elsewhere. ``others``: namespace attributes of flags that are not options of the table
    (``--help``, the ``ptycho`` command's ``--backend``/``--debug``, ...)."""
    skip = set(others) | {"help"}
    problems: list[str] = []
    table = options_for(command)
    by_name: dict[str, set[str]] = {}
    for option in table:
        by_name.setdefault(option.name, set()).update(_spellings(option.flags))
    for spelling, action in parser._option_string_actions.items():
        if action.dest in skip or (spelling.startswith("--no-")
                                   and isinstance(action, argparse.BooleanOptionalAction)):
            continue
        if action.dest not in by_name:
            problems.append(f"{command}: {spelling} (dest {action.dest}) is not in the option table")
        elif spelling not in by_name[action.dest] and spelling.replace("_", "-") not in by_name[action.dest]:
            problems.append(f"{command}: {spelling} is not a spelling of --{action.dest} in the option table")
    for name, spellings in by_name.items():
        for spelling in sorted(spellings):
            action = parser._option_string_actions.get(spelling)
            if action is None or action.dest != name:
                problems.append(f"{command}: {spelling} of the option table is missing (or stored elsewhere)")
    return problems
