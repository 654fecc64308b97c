"""``python -m ptycho_torch.train``: train a PtychoPINN model with Lightning from the command line.

Normative text: specs/torch-cli.md §2 (flags), §3 (``--config``), §5 (errors and output). Flow:

1. parse the flags (the option table ``ptycho_bridge.options``); every flag not given explicitly falls back to
   the ``--config`` file, then to the canonical defaults (specs/config.md) - explicit flags always win
   (``ptycho_bridge.flag_configs.field_values``);
2. build the ``PyTorchExecutionConfig`` (:func:`ptycho_torch.cli.shared.build_execution_config_from_args`):
   accelerator, logger extras and gradient accumulation are checked before any data is read;
3. read and validate the NPZ files (``ptycho.raw_data.RawData.from_file``); ``--N`` defaults to the
   pattern size of the training data;
4. build the canonical ``TrainingConfig`` directly from the resolved values (learning rate and scheduler
   from the execution config);
5. :func:`ptycho_torch.cli.run_training.run_training` (the function ``ptycho train`` calls too) trains with
   ``run_cdi_example_torch(do_stitching=False)``, which writes ``checkpoints/``, ``lightning_logs/``
   (csv/tensorboard logger) and ``wts.h5.zip``, and prints ``bundle_path=<path> bundle_sha256=<hex>`` last.

Bad input prints one line on stderr and exits with code 2; a failed run removes what it wrote.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptycho_bridge.config_file import ConfigFileError
from ptycho_bridge.flag_configs import FieldValues, field_values, training_config
from ptycho_bridge.flag_style import kebab_case_usage
from ptycho_bridge.options import add_options, options_for, unset_values
from ptycho_torch.cli.run_training import run_training, settle_execution, sha256_file  # noqa: F401 (re-exported)
from ptycho_torch.cli.shared import (
    CliArgumentParser,
    CliError,
    build_execution_config_from_args,
    parse_with_values,
    run_cli,
    validate_paths,
)

PROG = "ptycho_torch.train"

#: flag dest -> canonical TrainingConfig field (``model.`` prefix: ModelConfig field), from the option table.
CANONICAL_FLAGS: dict[str, str] = {
    o.name: f"model.{o.field}" if o.home == "model" else o.field
    for o in options_for("torch.train") if o.home in ("model", "training") and o.field != "n_images"
}

#: execution and run flags and their values when not given (the execution config's defaults; not settable from
#: --config)
EXECUTION_DEFAULTS: dict[str, Any] = unset_values("torch.train")


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
    add_options(p.add_argument_group("data and model (canonical config fields; also settable via --config)"),
                "torch.train", ("data",))
    add_options(p.add_argument_group("refinement teacher (specs/torch-training.md §8; canonical fields, also via "
                                     "--config)"), "torch.train", ("teacher",))
    add_options(p.add_argument_group("generator and optimiser (canonical config fields; also settable via --config)"),
                "torch.train", ("generator",))
    add_options(p.add_argument_group("execution"), "torch.train", ("execution",))
    add_options(p.add_argument_group("deprecated"), "torch.train", ("deprecated",))
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
    """Merge explicit flags > ``--config`` file > defaults (:func:`ptycho_bridge.flag_configs.field_values`).

    Returns:
        (args, training, model): ``args`` is the complete namespace (execution flags with defaults; the
        canonical flags with their resolved values or None), ``training``/``model`` the canonical field
        values set by the file or by flags (fields absent from both keep the canonical defaults).
    """
    from ptycho.config.config import TrainingConfig

    given = {k: v for k, v in vars(explicit).items() if v is not UNSET}
    try:
        values = field_values(given, "torch.train")
    except ConfigFileError:
        raise
    except ValueError as exc:
        raise CliError(str(exc)) from None
    training, model = values.training, values.model
    args = argparse.Namespace(**EXECUTION_DEFAULTS)
    for key, value in given.items():
        setattr(args, key, value)
    # Execution config reads these two; they are canonical fields, so the file may set them.
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
    values = FieldValues(training={**training, "learning_rate": execution_config.learning_rate,
                                   "scheduler": execution_config.scheduler}, model=dict(model))
    try:
        return training_config(values, backend="pytorch")
    except (ValueError, TypeError) as exc:
        raise CliError(" ".join(str(exc).split())) from None


def _load_raw(path: Any) -> Any:
    from ptycho.raw_data import RawData

    return RawData.from_file(path)


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return _run(parse_explicit(args), PROG, ["python", "-m", PROG, *args])


def _run(explicit: argparse.Namespace, prog: str = PROG, command: Sequence[str] | None = None) -> int:
    """Train as the flags say: configs from the flags, the execution settings checked before any data is read,
    N from the training data unless given, then :func:`ptycho_torch.cli.run_training.run_training`. ``command``:
    the command line that started the run (the ``--resume`` hint of a run that stops)."""
    args, training, model = resolve_args(explicit)
    train_file = _require(training, "train_data_file", "--train-data-file")
    output_dir = Path(_require(training, "output_dir", "--output-dir"))
    execution_config = settle_execution(build_execution_config_from_args(args, "training"))
    validate_paths(train_file, training.get("test_data_file"), output_dir, create=False)
    train_data = _load_raw(train_file)
    test_file = training.get("test_data_file")
    test_data = _load_raw(test_file) if test_file is not None else None
    model.setdefault("N", int(train_data.diff3d.shape[-1]))
    config = build_canonical_config(training, model, execution_config)
    return run_training(config, execution_config, train_data=train_data, test_data=test_data, resume=args.resume,
                        prog=prog, command=command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 2 bad input, 1 internal error)."""
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
