"""``python -m ptycho_torch.train``: train a PtychoPINN model with Lightning from the command line.

Normative text: specs/torch-cli.md §2 (flags), §3 (``--config``), §5 (errors and output). Flow:

1. parse the flags; every flag not given explicitly falls back to the ``--config`` file, then to the
   canonical defaults (specs/config.md) - explicit flags always win;
2. build the ``PyTorchExecutionConfig`` (:func:`ptycho_torch.cli.shared.build_execution_config_from_args`):
   accelerator, logger extras and gradient accumulation are checked before any data is read;
3. read and validate the NPZ files (``ptycho.raw_data.RawData.from_file``); ``--N`` defaults to the
   pattern size of the training data;
4. build the canonical ``TrainingConfig`` directly from the resolved values (learning rate and scheduler
   from the execution config);
5. ``ptycho_torch.workflows.components.run_cdi_example_torch(do_stitching=False)`` trains and writes
   ``checkpoints/``, ``lightning_logs/`` (csv/tensorboard logger) and ``wts.h5.zip``;
6. print ``bundle_path=<path> bundle_sha256=<hex>`` as the last line.

Bad input prints one line on stderr and exits with code 2; a failed run removes what it wrote.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptycho_bridge.argtypes import max_time_value
from ptycho_bridge.flag_style import kebab_case_usage
from ptycho_bridge.option_flags import (
    MODEL_OPTION_FIELDS,
    SCHEDULE_FLAGS,
    TRAINING_OPTION_FIELDS,
    add_option_flags,
    add_schedule_flags,
)
from ptycho_torch.cli.shared import (
    ACCELERATOR_CHOICES,
    LOGGER_CHOICES,
    PRECISION_CHOICES,
    SCHEDULER_CHOICES,
    STRATEGY_CHOICES,
    CliArgumentParser,
    CliError,
    OutputGuard,
    build_execution_config_from_args,
    check_gradient_accumulation,
    devices_value,
    nonnegative_int,
    parse_with_values,
    positive_float,
    positive_int,
    quiet_output,
    run_cli,
    silence_native_logs,
    top_k_int,
    validate_paths,
)

PROG = "ptycho_torch.train"

#: flag dest -> canonical TrainingConfig field (``model.`` prefix: ModelConfig field).
CANONICAL_FLAGS: dict[str, str] = {
    "train_data_file": "train_data_file",
    "test_data_file": "test_data_file",
    "output_dir": "output_dir",
    "n_groups": "n_groups",
    "batch_size": "batch_size",
    "max_epochs": "nepochs",
    "max_time": "max_time",
    "nphotons": "nphotons",
    "neighbor_count": "neighbor_count",
    "torch_loss_mode": "torch_loss_mode",
    "subsample_seed": "subsample_seed",
    "sequential_sampling": "sequential_sampling",
    "learning_rate": "learning_rate",
    "scheduler": "scheduler",
    "gridsize": "model.gridsize",
    "N": "model.N",
    "model_type": "model.model_type",
    "n_filters_scale": "model.n_filters_scale",
    **{name: name for name in TRAINING_OPTION_FIELDS},
    **{name: f"model.{name}" for name in MODEL_OPTION_FIELDS},
    "teacher": "teacher",
    "teacher_iterations": "teacher_iterations",
    "teacher_supervised_share": "teacher_supervised_share",
    "teacher_keep_weight": "teacher_keep_weight",
}

#: execution flags and their defaults when not given (not settable from --config).
EXECUTION_DEFAULTS: dict[str, Any] = {
    "accelerator": "auto",
    "devices": 1,
    "strategy": "auto",
    "num_nodes": 1,
    "precision": "32",
    "deterministic": True,
    "num_workers": 0,
    "accumulate_grad_batches": 1,
    "quiet": False,
    "enable_checkpointing": True,
    "checkpoint_save_top_k": 1,
    "checkpoint_monitor": "val_loss",
    "checkpoint_mode": "min",
    "early_stop_patience": 100,
    "checkpoint_every_n_steps": 50,
    "logger": "csv",
    "device": None,
    "disable_mlflow": False,
    "config": None,
    "n_images": None,
    "resume": None,
    **SCHEDULE_FLAGS,
}


class _Unset:
    """Marker for "flag not given" (argparse keeps attributes already present on the namespace)."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET = _Unset()


def build_parser() -> CliArgumentParser:
    """The training argument parser. Defaults are applied later (see :func:`resolve_args`), so every
    flag left out is recognisable and the ``--config`` file can fill it."""
    p = CliArgumentParser(
        prog="python -m ptycho_torch.train",
        description="Train PtychoPINN (PyTorch + Lightning) on an NPZ scan; writes checkpoints/, "
        "lightning_logs/ and wts.h5.zip under --output-dir. Explicit flags override --config values.",
        argument_default=argparse.SUPPRESS,
    )
    d = p.add_argument_group("data and model (canonical config fields; also settable via --config)")
    d.add_argument("--config", metavar="FILE", help="YAML or JSON file of canonical TrainingConfig/ModelConfig fields")
    d.add_argument("--train_data_file", metavar="NPZ", help="training data (required here or in --config)")
    d.add_argument("--test_data_file", metavar="NPZ", help="validation data (enables val metrics, early stopping)")
    d.add_argument("--output_dir", metavar="DIR", help="run folder (required here or in --config)")
    d.add_argument("--n_groups", type=positive_int, help="groups to train on (default: the whole scan, one group per position)")
    d.add_argument("--n_images", type=positive_int, help="deprecated alias of --n-groups")
    d.add_argument("--gridsize", type=positive_int, help="group side; C = gridsize² patterns per group (default 1)")
    d.add_argument("--batch_size", type=positive_int, help="batch size (default 16)")
    d.add_argument("--max_epochs", type=positive_int, help="epochs (canonical nepochs, default 50)")
    d.add_argument("--max_time", "--max-time", dest="max_time", type=max_time_value, metavar="DD:HH:MM:SS",
                   help="wall-clock training budget; training stops at the budget or max_epochs, whichever comes first")
    d.add_argument("--N", type=int, choices=(64, 128, 256), help="patch size (default: from the training data)")
    d.add_argument("--model_type", choices=("pinn", "supervised"), help="default pinn")
    d.add_argument("--n_filters_scale", "--n-filters-scale", dest="n_filters_scale", type=positive_int,
                   help="width multiplier of the network's filter ladders (canonical default 2)")
    d.add_argument("--nphotons", type=positive_float, help="mean photons per pattern (default 1e9)")
    d.add_argument("--neighbor_count", type=positive_int, help="K nearest neighbours for grouping (default 4)")
    d.add_argument("--torch-loss-mode", dest="torch_loss_mode", choices=("poisson", "mae"), help="default poisson")
    d.add_argument("--subsample-seed", dest="subsample_seed", type=nonnegative_int, help="seed for sampling and training (default 42)")
    d.add_argument("--sequential-sampling", dest="sequential_sampling", action=argparse.BooleanOptionalAction,
                   help="first n positions as group seeds, batches in order")
    t = p.add_argument_group("refinement teacher (specs/torch-training.md §8; canonical fields, also via --config)")
    t.add_argument("--teacher", choices=("none", "refine"),
                   help="none (default): Poisson training; refine: refine the training scan, train the generator "
                   "on its patches (amplitude + phase MAE), then on the Poisson likelihood")
    t.add_argument("--teacher-iterations", "--teacher_iterations", dest="teacher_iterations", type=positive_int,
                   help="refinement passes of the teacher (default 20; their time counts in --max-time)")
    t.add_argument("--teacher-supervised-share", "--teacher_supervised_share", dest="teacher_supervised_share",
                   type=float, help="share of the epochs (or of the training time) in the supervised stage, (0, 1] "
                   "(default 1 = no Poisson stage)")
    t.add_argument("--teacher-keep-weight", "--teacher_keep_weight", dest="teacher_keep_weight", type=float,
                   help="weight of the supervised loss kept in the Poisson stage, >= 0 (default 0)")
    add_option_flags(p.add_argument_group("generator and optimiser (canonical config fields; also settable via --config)"))
    e = p.add_argument_group("execution")
    e.add_argument("--accelerator", choices=ACCELERATOR_CHOICES,
                   help="auto (default: CUDA when present, else CPU), cpu, cuda/gpu, mps")
    e.add_argument("--devices", type=devices_value, help="devices per machine for the Trainer (default 1)")
    e.add_argument("--strategy", choices=STRATEGY_CHOICES,
                   help="auto (default: one process), ddp (one process per device; also under torchrun/SLURM) or "
                   "ddp_spawn (workers spawned from this process); "
                   "--batch-size is the global batch (specs/scaling.md §1)")
    e.add_argument("--num-nodes", "--num_nodes", dest="num_nodes", type=positive_int,
                   help="machines taking part in a ddp run (default 1)")
    e.add_argument("--precision", choices=PRECISION_CHOICES,
                   help="32 (default), bf16-mixed or 16-mixed: the network under autocast, physics and loss in float32")
    e.add_argument("--deterministic", action=argparse.BooleanOptionalAction, help="deterministic algorithms (default on)")
    e.add_argument("--num-workers", dest="num_workers", type=nonnegative_int, help="DataLoader workers (default 0)")
    e.add_argument("--learning-rate", dest="learning_rate", type=positive_float, help="learning rate (default 1e-3)")
    e.add_argument("--scheduler", choices=SCHEDULER_CHOICES, help="learning-rate schedule (default Default = constant)")
    add_schedule_flags(e)
    e.add_argument("--accumulate-grad-batches", dest="accumulate_grad_batches", type=positive_int,
                   help="must be 1: manual optimisation cannot accumulate (EXEC-ACCUM-001)")
    e.add_argument("--quiet", action="store_true", help="no progress bar, no library logging")
    e.add_argument("--enable-checkpointing", dest="enable_checkpointing", action="store_true", help="default")
    e.add_argument("--disable-checkpointing", dest="enable_checkpointing", action="store_false", help="no checkpoints/")
    e.add_argument("--checkpoint-save-top-k", dest="checkpoint_save_top_k", type=top_k_int,
                   help="best checkpoints kept: -1 all, 0 none, k >= 1 (default 1); last.ckpt unless 0")
    e.add_argument("--checkpoint-monitor", dest="checkpoint_monitor", metavar="METRIC",
                   help="metric for checkpoints/early stopping (default val_loss, aliased to the model's loss name)")
    e.add_argument("--checkpoint-mode", dest="checkpoint_mode", choices=("min", "max"), help="default min")
    e.add_argument("--early-stop-patience", dest="early_stop_patience", type=positive_int,
                   help="epochs without improvement before stopping (needs validation data; default 100)")
    e.add_argument("--checkpoint-every-n-steps", dest="checkpoint_every_n_steps", type=nonnegative_int,
                   help="optimiser steps between mid-epoch saves of checkpoints/last.ckpt (0 = epoch ends only; "
                   "default 50)")
    e.add_argument("--logger", choices=LOGGER_CHOICES, help="csv (default), tensorboard, mlflow, none")
    e.add_argument("--resume", nargs="?", const=True, metavar="CKPT",
                   help="continue an interrupted run from <output_dir>/checkpoints/last.ckpt (or the given .ckpt): "
                   "weights, optimizer, scheduler, RNG, epoch and batch order are restored")
    dep = p.add_argument_group("deprecated")
    dep.add_argument("--device", choices=("cpu", "cuda"), help="deprecated: use --accelerator")
    dep.add_argument("--disable_mlflow", action="store_true", help="deprecated: use --logger none --quiet")
    return kebab_case_usage(p)  # usage in kebab-case; the guide's snake_case spellings still parse


def _dests(parser: argparse.ArgumentParser) -> list[str]:
    return [a.dest for a in parser._actions if a.dest not in (argparse.SUPPRESS, "help")]


def parse_explicit(argv: Sequence[str] | None, parser: argparse.ArgumentParser | None = None, *,
                   given: dict[str, Any] | None = None) -> argparse.Namespace:
    """Parse ``argv``; flags not given hold :data:`UNSET`. ``given``: values a caller parsed itself
    (see :func:`ptycho_torch.cli.shared.parse_with_values`)."""
    parser = parser or build_parser()
    ns = argparse.Namespace(**{dest: UNSET for dest in _dests(parser)})
    return parse_with_values(parser, given or {}, list(sys.argv[1:] if argv is None else argv), namespace=ns)


def resolve_args(explicit: argparse.Namespace) -> tuple[argparse.Namespace, dict[str, Any], dict[str, Any]]:
    """Merge explicit flags > ``--config`` file > defaults.

    Returns:
        (args, training, model): ``args`` is the complete namespace (execution flags with defaults; the
        canonical flags with their resolved values or None), ``training``/``model`` the canonical field
        values set by the file or by flags (fields absent from both keep the canonical defaults).
    """
    from ptycho_torch.cli.config_file import load_config_file

    given = {k: v for k, v in vars(explicit).items() if v is not UNSET}
    training: dict[str, Any] = {}
    model: dict[str, Any] = {}
    config_path = given.get("config")
    if config_path is not None:
        values = load_config_file(config_path)
        training.update(values.training)
        model.update(values.model)
    if "n_images" in given:
        warnings.warn("--n-images is deprecated; use --n-groups", DeprecationWarning, stacklevel=2)
        if "n_groups" in given and given["n_groups"] != given["n_images"]:
            raise CliError(f"--n-images {given['n_images']} conflicts with --n-groups {given['n_groups']}; give only --n-groups")
        given.setdefault("n_groups", given["n_images"])
    for dest, target in CANONICAL_FLAGS.items():
        if dest in given:
            if target.startswith("model."):
                model[target[len("model."):]] = given[dest]
            else:
                training[target] = given[dest]
    if training.get("max_time") is not None and "nepochs" not in training:
        training["nepochs"] = None  # a budget without an epoch count: train until the budget (specs/config.md §3)
    args = argparse.Namespace(**EXECUTION_DEFAULTS)
    for key, value in given.items():
        setattr(args, key, value)
    # Execution config reads these two; they are canonical fields, so the file may set them.
    from ptycho.config.config import TrainingConfig

    args.learning_rate = training.get("learning_rate", TrainingConfig.learning_rate)
    args.scheduler = training.get("scheduler", TrainingConfig.scheduler)
    for dest, target in CANONICAL_FLAGS.items():
        if dest not in ("learning_rate", "scheduler"):
            setattr(args, dest, model.get(target[6:]) if target.startswith("model.") else training.get(target))
    return args, training, model


def _require(training: dict[str, Any], field: str, flag: str) -> Any:
    value = training.get(field)
    if value is None:
        raise CliError(f"{flag}: required (give the flag or set '{field}' in --config), found nothing")
    return value


def build_canonical_config(training: dict[str, Any], model: dict[str, Any], execution_config: Any) -> Any:
    """The canonical ``ptycho.config.config.TrainingConfig`` (backend 'pytorch') built directly from the
    resolved canonical field values; no PyTorch-native round trip.

    Args:
        training, model: canonical field values (only those set by flags or the file; the rest keep the
            canonical defaults).
        execution_config: the run's PyTorchExecutionConfig; learning_rate and scheduler are taken from it, so
            the canonical config (stored in the bundle) and the trainer agree.

    Raises:
        CliError: a value the configs reject (one line naming the field).
    """
    from ptycho.config.config import ModelConfig, TrainingConfig

    values = {k: v for k, v in training.items() if k not in ("learning_rate", "scheduler", "backend")}
    try:
        return TrainingConfig(model=ModelConfig(**model), backend="pytorch",
                              learning_rate=execution_config.learning_rate, scheduler=execution_config.scheduler,
                              **values)
    except (ValueError, TypeError) as exc:
        raise CliError(" ".join(str(exc).split())) from None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_raw(path: Any) -> Any:
    from ptycho.raw_data import RawData

    return RawData.from_file(path)


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return _run(parse_explicit(args), PROG, ["python", "-m", PROG, *args])


def _requeued_resume(output_dir: Path, prog: str) -> Path | None:
    """The checkpoint a requeued SLURM job continues from without ``--resume`` (specs/reliability.md §9)."""
    from ptycho_torch.cli.requeue import job_id, requeued_checkpoint

    ckpt = requeued_checkpoint(output_dir)
    if ckpt is not None:
        print(f"{prog}: requeued SLURM job {job_id()}: resuming from {ckpt}", flush=True)
    return ckpt


def _run(explicit: argparse.Namespace, prog: str = PROG, command: Sequence[str] | None = None) -> int:
    """Train as the flags say. ``command``: the command line that started the run (the ``--resume`` hint of a
    run that stops, :mod:`ptycho_torch.cli.stopped`)."""
    args, training, model = resolve_args(explicit)
    train_file = _require(training, "train_data_file", "--train-data-file")
    output_dir = Path(_require(training, "output_dir", "--output-dir"))
    execution_config = build_execution_config_from_args(args, "training")
    check_gradient_accumulation(execution_config.accumulate_grad_batches)
    if execution_config.logger_backend == "mlflow" and not os.environ.get("MLFLOW_TRACKING_URI"):
        # Local store <output_dir>/mlruns. MLflow >= 3.7 refuses file stores unless this opt-in is set.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    quiet = not execution_config.enable_progress_bar
    if quiet:
        silence_native_logs()
    validate_paths(train_file, training.get("test_data_file"), output_dir, create=False)

    train_data = _load_raw(train_file)
    test_file = training.get("test_data_file")
    test_data = _load_raw(test_file) if test_file is not None else None
    data_n = int(train_data.diff3d.shape[-1])
    if "N" not in model:
        model["N"] = data_n
    elif model["N"] != data_n:
        raise CliError(f"--N {model['N']}: expected the pattern size of {train_file}, found {data_n}x{data_n} patterns")
    if test_data is not None and int(test_data.diff3d.shape[-1]) != data_n:
        found = test_data.diff3d.shape[-1]
        raise CliError(f"{test_file}: expected {data_n}x{data_n} patterns like the training data, found {found}x{found}")
    config = build_canonical_config(training, model, execution_config)

    if not quiet:
        from ptycho.config.training_options import describe_groups, describe_length

        print(
            f"{prog}: N={config.model.N} gridsize={config.model.gridsize} model_type={config.model.model_type} "
            f"{describe_groups(config, len(train_data.diff3d))} batch_size={config.batch_size} {describe_length(config)} "
            f"architecture={config.model.architecture} optimizer={config.optimizer} "
            f"lr={execution_config.learning_rate:g} scheduler={execution_config.scheduler} "
            f"accelerator={execution_config.accelerator} logger={execution_config.logger_backend} "
            f"output_dir={output_dir}",
            flush=True,
        )
    resume = args.resume
    if resume is None:
        resume = _requeued_resume(output_dir, prog)
    if resume is not None:
        from ptycho_torch.workflows.resume import resolve_resume_checkpoint

        try:
            resume = resolve_resume_checkpoint(resume, output_dir)
        except FileNotFoundError as exc:
            raise CliError(f"--resume: {exc}") from None
    from ptycho_bridge.execution import is_main_process

    main_process = is_main_process()
    # the other processes of a DDP run leave clean-up and outputs to the first one
    guard = OutputGuard(output_dir) if main_process else None
    try:
        validate_paths(train_file, test_file, output_dir, create=True)
        from ptycho_torch.cli.stop_signals import stop_signals
        from ptycho_torch.workflows.components import run_cdi_example_torch

        with stop_signals(), quiet_output(quiet):
            _, _, results = run_cdi_example_torch(
                train_data, test_data, config, do_stitching=False, execution_config=execution_config,
                resume_from=resume,
            )
        if results.get("bundle_path") is None:  # a DDP process other than the first: rank 0 wrote the bundle
            return 0
        bundle = Path(results["bundle_path"])
        digest = sha256_file(bundle)
        from ptycho_torch.cli.requeue import clear_marker

        clear_marker(output_dir)  # a finished run has nothing for a requeued job to resume
    except BaseException as exc:
        # A run that stops after training began keeps checkpoints/ and says how to continue; before any
        # checkpoint exists everything it wrote is removed (specs/reliability.md §8, ptycho_torch.cli.stopped).
        from ptycho_torch.cli.stopped import stop_run

        stopped = stop_run(exc, guard, output_dir, command)
        if stopped is exc:
            raise
        raise stopped from None
    if not quiet:
        history = results.get("history") or {}
        losses = history.get("train_loss") or []
        if losses:
            print(f"{prog}: trained {len(losses)} epoch(s); final train loss {losses[-1]:.6g}", flush=True)
    print(f"bundle_path={bundle.resolve()} bundle_sha256={digest}", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 2 bad input, 1 internal error)."""
    return run_cli(PROG, _main, argv)


def main_with(given: dict[str, Any], extra: Sequence[str] = (), prog: str = PROG,
              command: Sequence[str] | None = None) -> int:
    """:func:`main` for a caller that parsed some flags itself (the ``ptycho train`` command): ``given`` maps
    this parser's destinations to values, ``extra`` holds further flags in this command's spelling
    (:func:`ptycho_torch.cli.shared.parse_with_values`; specs/torch-cli.md §5). ``prog`` names the command in
    messages (``ptycho train`` from the ``ptycho`` command line); ``command`` is the command line as typed
    (for the ``--resume`` hint when the run stops)."""
    return run_cli(prog, lambda _: _run(parse_explicit(extra, given=given), prog, command), None)


if __name__ == "__main__":
    sys.exit(main())
