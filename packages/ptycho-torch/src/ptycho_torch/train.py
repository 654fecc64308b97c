"""``python -m ptycho_torch.train``: train a PtychoPINN model with Lightning from the command line.

Normative text: specs/torch-cli.md §2 (flags), §3 (``--config``), §5 (errors and output). Flow:

1. parse the flags (the option table ``ptycho_bridge.options``) and sort them with the one flag translation every
   training command line uses (:func:`ptycho_torch.cli.shared.training_flag_values` over
   ``ptycho_bridge.flag_configs.field_values``): every flag not given explicitly falls back to the ``--config``
   file, then to the canonical defaults (specs/config.md); the deprecated ``--device`` / ``--disable-mlflow`` fold
   into ``--accelerator`` / ``--logger none --quiet``;
2. check the execution settings before any data is read (accelerator, logger extras, gradient accumulation);
3. read and validate the NPZ files (``ptycho.raw_data.RawData.from_file``);
4. build ``(TrainingConfig, PyTorchExecutionConfig)`` (:func:`ptycho_torch.cli.shared.training_configs`:
   ``ptycho_bridge.flag_configs.training_config`` / ``execution_config``); ``--N`` defaults to the pattern size of
   the training data;
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

from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_bridge.flag_style import kebab_case_usage
from ptycho_bridge.options import add_options
from ptycho_torch.cli.run_training import run_training, sha256_file  # noqa: F401 (re-exported)
from ptycho_torch.cli.shared import (
    CliArgumentParser,
    CliError,
    run_cli,
    settle_execution,
    training_configs,
    training_flag_values,
    validate_paths,
)

PROG = "ptycho_torch.train"


class _Unset:
    """Marker for "flag not given" (argparse keeps attributes already present on the namespace)."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET = _Unset()


def build_parser() -> CliArgumentParser:
    """The training argument parser. Defaults are applied later (see
    :func:`ptycho_torch.cli.shared.training_flag_values`), so every
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


def parse_explicit(argv: Sequence[str] | None, parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """Parse ``argv`` (None: ``sys.argv[1:]``); flags not given hold :data:`UNSET`."""
    parser = parser or build_parser()
    ns = argparse.Namespace(**{dest: UNSET for dest in _dests(parser)})
    return parser.parse_args(list(sys.argv[1:] if argv is None else argv), namespace=ns)


def _require(training: dict[str, Any], field: str, flag: str) -> Any:
    value = training.get(field)
    if value is None:
        raise CliError(f"{flag}: required (give the flag or set '{field}' in --config), found nothing")
    return value


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
    values = training_flag_values(explicit)
    train_file = _require(values.training, "train_data_file", "--train-data-file")
    output_dir = Path(_require(values.training, "output_dir", "--output-dir"))
    settle_execution(PyTorchExecutionConfig(**values.execution))  # before any data is read
    validate_paths(train_file, values.training.get("test_data_file"), output_dir, create=False)
    train_data = _load_raw(train_file)
    test_file = values.training.get("test_data_file")
    test_data = _load_raw(test_file) if test_file is not None else None
    config, execution = training_configs(values, N=int(train_data.diff3d.shape[-1]))
    return run_training(config, execution, train_data=train_data, test_data=test_data,
                        resume=values.run.get("resume"), prog=prog, command=command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 2 bad input, 1 internal error)."""
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
