"""Helpers shared by ``python -m ptycho_torch.train`` and ``python -m ptycho_torch.inference``.

Normative text: specs/torch-cli.md. Public helpers (names fixed by the user guide §12):

* :func:`resolve_accelerator` - ``--accelerator`` (+ the deprecated ``--device``) -> 'cpu' | 'cuda' | 'mps'.
* :func:`build_execution_config_from_args` - parsed flags -> ``ptycho_bridge.PyTorchExecutionConfig``.
* :func:`training_flag_values`, :func:`training_configs` - the training flags -> ``(TrainingConfig,
  PyTorchExecutionConfig)`` through ``ptycho_bridge.flag_configs`` (the translation ``ptycho train`` uses), plus
  this command line's deprecated flags and progress default; :func:`inference_flag_values` the same for the
  inference flags (``ptycho infer``'s translation).
* :func:`validate_paths` - input files exist, the output folder can be (and is) created.

and the plumbing both command lines need to keep their promises on bad input (one line on stderr, exit
code 2, no traceback, nothing half-written): :class:`CliError`, :class:`CliArgumentParser`,
:class:`OutputGuard`, :func:`run_cli`, plus ``argparse`` value types that reject bad values at parse time.
Nothing here imports torch or lightning at module level; the CLIs stay fast to fail.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ptycho.config.config import SCHEDULERS, default_multistage_milestones
from ptycho.runtime.faults import environment_fault
from ptycho.runtime.interrupts import Interrupted, interrupt_cause, received_signal, signals_raise
from ptycho_bridge.config_file import ConfigFileError
from ptycho_bridge.execution import LOGGER_BACKENDS
from ptycho_bridge.flag_configs import (
    FieldValues,
    execution_config,
    field_values,
    inference_execution_config,
    training_config,
)
from ptycho_torch.cli.output_guard import OutputGuard
from ptycho_torch.cli.quiet import quiet_output, silence_native_logs  # noqa: F401  (re-exported: the CLIs import them here)
from ptycho_torch.cli.stopped import RunStopped

__all__ = [
    "ACCELERATOR_CHOICES",
    "STRATEGY_CHOICES",
    "PRECISION_CHOICES",
    "LOGGER_CHOICES",
    "SCHEDULER_CHOICES",
    "CliError",
    "MissingExtraError",
    "GradientAccumulationError",
    "CliArgumentParser",
    "OutputGuard",
    "apply_device",
    "resolve_accelerator",
    "training_flag_values",
    "training_configs",
    "inference_flag_values",
    "settle_execution",
    "build_execution_config_from_args",
    "validate_paths",
    "require_logger_backend",
    "check_gradient_accumulation",
    "default_multistage_milestones",
    "quiet_output",
    "run_cli",
]

#: ``--accelerator`` choices. 'tpu' is listed so it gets a clear "not supported" error, not argparse's.
ACCELERATOR_CHOICES = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
LOGGER_CHOICES = LOGGER_BACKENDS
SCHEDULER_CHOICES = SCHEDULERS
#: ``--strategy`` (specs/scaling.md §1): one process, DDP launched by Lightning, torchrun or SLURM, or DDP with
#: workers spawned from the calling process
STRATEGY_CHOICES = ("auto", "ddp", "ddp_spawn")
#: ``--precision`` (specs/scaling.md §4): float32, or the network under bf16 / fp16 autocast
PRECISION_CHOICES = ("32", "bf16-mixed", "16-mixed")
#: optional logger backends: flag value -> (module that must be importable, ptycho-torch extra)
LOGGER_EXTRAS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}


class CliError(ValueError):
    """Bad command-line input; the CLI prints its one-line message and exits with code 2."""


class MissingExtraError(CliError):
    """An optional dependency needed by a flag value is not installed (message carries the pip command)."""


class GradientAccumulationError(RuntimeError):
    """EXEC-ACCUM-001: gradient accumulation requested for a manually optimised Lightning module."""


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()) or "no details"


# ----------------------------------------------------------------------------------------------------
# argparse plumbing
# ----------------------------------------------------------------------------------------------------


class CliArgumentParser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`CliError` (one line, exit 2) instead of printing usage, and which
    never matches a flag by a prefix (specs/torch-cli.md §5)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        raise CliError(_one_line(message))


# ----------------------------------------------------------------------------------------------------
# accelerator
# ----------------------------------------------------------------------------------------------------


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def apply_device(accelerator: str = "auto", device: str | None = None) -> str:
    """Fold the deprecated ``--device`` into ``--accelerator`` (not yet resolved against the machine).

    ``device``: deprecated ``--device`` value ('cpu' or 'cuda'), None when not given; it emits a DeprecationWarning.
    With ``accelerator`` 'auto' it decides the device, otherwise the explicit accelerator wins. CliError for a
    ``--device`` value other than 'cpu' / 'cuda'.
    """
    if device is None:
        return accelerator
    if device not in ("cpu", "cuda", "gpu"):
        raise CliError(f"--device: expected 'cpu' or 'cuda', found {device!r}")
    if accelerator == "auto":
        warnings.warn(
            f"--device is deprecated; use --accelerator (mapping --device {device} to --accelerator "
            f"{'cpu' if device == 'cpu' else 'cuda'})",
            DeprecationWarning,
            stacklevel=3,
        )
        return "cpu" if device == "cpu" else "cuda"
    warnings.warn(
        f"--device is deprecated; use --accelerator (ignoring --device {device} because "
        f"--accelerator {accelerator} was given)",
        DeprecationWarning,
        stacklevel=3,
    )
    return accelerator


def resolve_accelerator(accelerator: str = "auto", device: str | None = None) -> str:
    """Resolve ``--accelerator`` and the deprecated ``--device`` (:func:`apply_device`) into the device
    Lightning will use.

    Args:
        accelerator: 'auto' (CUDA when available, else CPU), 'cpu', 'gpu' (= 'cuda'), 'cuda', 'mps'.
            'tpu' is rejected (no torch-xla support).
        device: deprecated ``--device`` value ('cpu' or 'cuda'), None when not given.

    Returns:
        'cpu', 'cuda' or 'mps' - never 'auto', so the run records what it actually used.

    Raises:
        CliError: unknown value, 'tpu', or a requested device that is not available on this machine.
    """
    accelerator = apply_device(accelerator, device)
    if accelerator == "tpu":
        raise CliError("--accelerator: 'tpu' is not supported (no torch-xla); expected auto, cpu, cuda, gpu or mps")
    if accelerator not in ACCELERATOR_CHOICES:
        raise CliError(f"--accelerator: expected one of auto, cpu, cuda, gpu, mps, found {accelerator!r}")
    if accelerator == "auto":
        return "cuda" if _cuda_available() else "cpu"
    if accelerator in ("gpu", "cuda"):
        if not _cuda_available():
            raise CliError(f"--accelerator {accelerator}: no CUDA device is available; use --accelerator cpu or auto")
        return "cuda"
    if accelerator == "mps":
        if not _mps_available():
            raise CliError("--accelerator mps: the MPS backend is not available; use --accelerator cpu or auto")
        return "mps"
    return "cpu"


# ----------------------------------------------------------------------------------------------------
# execution config
# ----------------------------------------------------------------------------------------------------


def require_logger_backend(backend: str) -> None:
    """Fail at once when ``--logger`` names an optional backend whose package is not installed.

    Raises:
        CliError: unknown backend name.
        MissingExtraError: tensorboard/mlflow missing; the message carries the pip install command.
    """
    if backend not in LOGGER_CHOICES:
        raise CliError(f"--logger: expected one of {', '.join(LOGGER_CHOICES)}, found {backend!r}")
    if backend in LOGGER_EXTRAS:
        module, extra = LOGGER_EXTRAS[backend]
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(
                f"--logger {backend}: the optional package '{module}' is not installed; "
                f"install it with: pip install 'ptycho-torch[{extra}]'"
            )


def training_flag_values(args: argparse.Namespace | Mapping[str, Any]) -> FieldValues:
    """The parsed ``python -m ptycho_torch.train`` flags sorted into their homes by the one flag translation
    (:func:`ptycho_bridge.flag_configs.field_values`: flags given > the ``--config`` file > canonical defaults;
    None and unset markers = not given), with the deprecated ``--device`` (:func:`apply_device`) and
    ``--disable-mlflow`` (``--logger none`` plus ``--quiet``) folded in, each with its DeprecationWarning, and the
    progress bar on unless ``--quiet``.

    Raises:
        CliError: ``--n-images`` and ``--n-groups`` disagree, a bad ``--device``; ConfigFileError: a bad file.
    """
    given = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    try:
        values = field_values(given, "torch.train")
    except ConfigFileError:
        raise
    except ValueError as exc:
        raise CliError(_one_line(exc)) from None
    device = values.run.pop("device", None)
    if device is not None:
        values.execution["accelerator"] = apply_device(values.execution.get("accelerator", "auto"), device)
    if values.run.pop("disable_mlflow", False):
        warnings.warn(
            "--disable_mlflow is deprecated; use --logger none (no tracking) and --quiet (no progress bar)",
            DeprecationWarning,
            stacklevel=2,
        )
        values.execution.update(logger_backend="none", enable_progress_bar=False)
    values.execution.setdefault("enable_progress_bar", True)
    return values


def training_configs(values: FieldValues, N: int | None = None) -> tuple[Any, Any]:
    """``(TrainingConfig, PyTorchExecutionConfig)`` of :func:`training_flag_values`' result
    (:func:`ptycho_bridge.flag_configs.training_config` for backend 'pytorch', then
    :func:`ptycho_bridge.flag_configs.execution_config`, which takes learning rate and schedule from the config).
    ``N``: the training data's pattern size, used when no flag or file sets it (None: the canonical default).

    Raises:
        CliError: a value the configs reject (one line naming the field), 'MultiStage' without an epoch count.
    """
    try:
        config = training_config(values, backend="pytorch", N=N)
        return config, execution_config(values, config)
    except (ValueError, TypeError) as exc:
        raise CliError(_one_line(exc)) from None


def settle_execution(execution: Any) -> Any:
    """``execution`` as this machine runs it: 'auto' accelerator resolved (an unavailable one is a CliError), the
    logger's optional package present (MissingExtraError naming the extra), gradient accumulation refused
    (EXEC-ACCUM-001), no checkpointing when ``checkpoint_save_top_k`` is 0 (Lightning would still write
    last.ckpt)."""
    require_logger_backend(execution.logger_backend)
    check_gradient_accumulation(execution.accumulate_grad_batches)
    return replace(execution, accelerator=resolve_accelerator(execution.accelerator),
                   enable_checkpointing=execution.enable_checkpointing and execution.checkpoint_save_top_k != 0)


def build_execution_config_from_args(args: argparse.Namespace, mode: str) -> Any:
    """Build a ``ptycho_bridge.PyTorchExecutionConfig`` from parsed CLI flags, accelerator resolved.

    Args:
        args: namespace from the training or inference parser (missing attributes take the defaults).
        mode: 'training' or 'inference'.

    Returns:
        PyTorchExecutionConfig. Training: the execution config of the one flag translation
        (:func:`training_flag_values`, :func:`training_configs`; learning rate and schedule from the canonical
        config the flags and ``--config`` file give), settled (:func:`settle_execution`). Inference: the execution
        config of the inference flags (:func:`inference_flag_values`,
        ``ptycho_bridge.flag_configs.inference_execution_config``; ``inference_batch_size`` None = the bundle's),
        settled.

    Warns:
        DeprecationWarning: ``--device`` (see :func:`apply_device`), ``--disable_mlflow`` (mapped
            to ``--logger none`` plus ``--quiet``).

    Raises:
        ValueError: unknown mode. CliError / MissingExtraError / GradientAccumulationError: bad values,
        unavailable accelerator or logger, gradient accumulation.
    """
    if mode not in ("training", "inference"):
        raise ValueError(f"mode: expected 'training' or 'inference', found {mode!r}")
    if mode == "training":
        return settle_execution(training_configs(training_flag_values(args))[1])
    try:
        execution = inference_execution_config(inference_flag_values(args))
    except (ValueError, TypeError) as exc:
        raise CliError(f"execution config: {_one_line(exc)}") from None
    return settle_execution(execution)


def inference_flag_values(args: argparse.Namespace | Mapping[str, Any]) -> FieldValues:
    """The parsed ``python -m ptycho_torch.inference`` flags sorted into their homes by the one flag translation
    (:func:`ptycho_bridge.flag_configs.field_values`), with the deprecated ``--device`` folded into the accelerator
    (:func:`apply_device`) and the progress display on unless ``--quiet``."""
    values = field_values(vars(args) if isinstance(args, argparse.Namespace) else dict(args), "torch.inference")
    device = values.run.pop("device", None)
    if device is not None:
        values.execution["accelerator"] = apply_device(values.execution.get("accelerator", "auto"), device)
    values.execution.setdefault("enable_progress_bar", True)
    return values


def check_gradient_accumulation(accumulate_grad_batches: int) -> None:
    """EXEC-ACCUM-001: refuse ``--accumulate-grad-batches`` > 1 before any data is read.

    ``PtychoPINN_Lightning`` optimises manually (``automatic_optimization = False``, needed for its physics
    loss), and Lightning does not accumulate gradients for such a module: the setting would be silently
    ignored. The CLI therefore refuses it up front instead of training with a different effective batch.

    Raises:
        GradientAccumulationError: ``accumulate_grad_batches > 1``.
    """
    if accumulate_grad_batches > 1:
        raise GradientAccumulationError(
            f"--accumulate-grad-batches {accumulate_grad_batches}: gradient accumulation is incompatible with the "
            "manual optimisation of PtychoPINN_Lightning (EXEC-ACCUM-001); use --accumulate-grad-batches 1"
        )


# ----------------------------------------------------------------------------------------------------
# paths and output hygiene
# ----------------------------------------------------------------------------------------------------


def _check_input_file(path: str | os.PathLike[str] | None, what: str) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if not p.exists():
        raise CliError(f"{what} {p}: expected an existing file, found no such file")
    if not p.is_file():
        raise CliError(f"{what} {p}: expected a file, found a directory")
    return p


def validate_paths(
    train_file: str | os.PathLike[str] | None,
    test_file: str | os.PathLike[str] | None,
    output_dir: str | os.PathLike[str],
    *,
    create: bool = True,
) -> Path:
    """Check the input files exist and create ``output_dir`` (``mkdir -p``).

    Args:
        train_file, test_file: NPZ paths or None (not checked when None).
        output_dir: output folder; an existing *file* there is an error.
        create: create the folder (default) or only check it could be created.

    Returns:
        ``Path(output_dir)``.

    Raises:
        CliError: a missing input file, a directory where a file is expected, or an output path that is
            a file / lies under a file.
    """
    _check_input_file(train_file, "training data file")
    _check_input_file(test_file, "test data file")
    out = Path(output_dir)
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise CliError(f"output directory {out}: expected a directory, found a file at {parent}")
            break
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"output directory {out}: cannot be created ({_one_line(exc)})") from None
    return out


# ----------------------------------------------------------------------------------------------------
# console output
# ----------------------------------------------------------------------------------------------------


def _show_warning_one_line(prog: str, original: Callable[..., None]) -> Callable[..., None]:
    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        text = str(message)
        if issubclass(category, DeprecationWarning) and text.startswith("--"):
            print(f"{prog}: DeprecationWarning: {_one_line(text)}", file=sys.stderr)
            return
        original(message, category, filename, lineno, file, line)

    return show


#: Errors that mean "bad input": one line on stderr, exit code 2.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    CliError,
    ValueError,  # ContractError, BundleError, config validation
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    GradientAccumulationError,
)


def run_cli(prog: str, body: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None) -> int:
    """Run a CLI body with the error contract: bad input -> one stderr line + exit 2, no traceback.

    Any other exception is an internal error: one line and exit code 1 (set ``PTYCHO_TRACEBACK=1`` to see
    the traceback). Deprecation warnings of our flags print as one line each.
    """
    original = warnings.showwarning
    try:
        with warnings.catch_warnings(), signals_raise():
            warnings.filterwarnings("always", category=DeprecationWarning, message="--")
            warnings.showwarning = _show_warning_one_line(prog, original)
            return body(argv)
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM under ptycho.runtime.interrupts.signals_raise
        cause, code = interrupt_cause(exc)
        print(f"{prog}: {cause}", file=sys.stderr)
        return code
    except RunStopped as exc:  # a training run that stopped after it began (ptycho_torch.cli.stopped)
        print(f"{prog}: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:
        # an environment fault (full disk, read-only folder, vanished file: specs/reliability.md §7) names the
        # path and the cause; an OSError without an errno (e.g. h5py's) is an internal error
        fault = environment_fault(exc)
        if fault is None and not isinstance(exc, INPUT_ERRORS):
            return _internal(prog, exc)
        print(f"{prog}: error: {fault or _one_line(exc)}", file=sys.stderr)
        return 2
    except INPUT_ERRORS as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI contract is "never a traceback"
        if received_signal() is not None:  # the interrupt, turned into another error by native code (torch.save)
            cause, code = interrupt_cause(Interrupted(received_signal()))
            print(f"{prog}: {cause}", file=sys.stderr)
            return code
        return _internal(prog, exc)
    finally:
        warnings.showwarning = original


def _internal(prog: str, exc: BaseException) -> int:
    """One ``internal error`` line (the traceback too when ``PTYCHO_TRACEBACK`` is set); exit code 1."""
    if os.environ.get("PTYCHO_TRACEBACK"):
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
    print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
    return 1
