"""One training run of a command line, from configs: the library function behind ``python -m ptycho_torch.train``
and ``ptycho train`` (through ``ptycho_torch.backend.BACKEND.command_line``; specs/torch-cli.md §2, §5,
specs/cli.md §4).

:func:`run_training` takes the canonical ``TrainingConfig`` (its ``train_data_file`` / ``test_data_file`` /
``output_dir`` name the files) and a ``PyTorchExecutionConfig``; it settles the execution config
(:func:`ptycho_torch.cli.shared.settle_execution`), reads and checks the data, prints the start line, resumes when
asked (or when a
requeued SLURM job left a checkpoint), trains with ``run_cdi_example_torch`` under the stop signals, and prints
``bundle_path=<path> bundle_sha256=<hex>`` last. A run that fails before training began leaves nothing behind; one
that stops later keeps its checkpoints and says how to continue (:mod:`ptycho_torch.cli.stopped`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptycho.config.training_options import describe_groups, describe_length
from ptycho.runtime.processes import is_main_process
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_torch.cli.output_guard import OutputGuard
from ptycho_torch.cli.quiet import quiet_output, silence_native_logs
from ptycho_torch.cli.requeue import clear_marker, job_id, requeued_checkpoint
from ptycho_torch.cli.shared import CliError, settle_execution, validate_paths
from ptycho_torch.cli.stop_signals import stop_signals
from ptycho_torch.cli.stopped import stop_run

__all__ = ["run_training", "settle_execution", "sha256_file"]


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


def _requeued_resume(output_dir: Path, prog: str) -> Path | None:
    """The checkpoint a requeued SLURM job continues from without ``--resume`` (specs/reliability.md §9)."""
    ckpt = requeued_checkpoint(output_dir)
    if ckpt is not None:
        print(f"{prog}: requeued SLURM job {job_id()}: resuming from {ckpt}", flush=True)
    return ckpt


def _check_sizes(config: Any, train_data: Any, test_data: Any) -> None:
    data_n = int(train_data.diff3d.shape[-1])
    if int(config.model.N) != data_n:
        raise CliError(f"--N {config.model.N}: expected the pattern size of {config.train_data_file}, found "
                       f"{data_n}x{data_n} patterns")
    if test_data is not None and int(test_data.diff3d.shape[-1]) != data_n:
        found = test_data.diff3d.shape[-1]
        raise CliError(f"{config.test_data_file}: expected {data_n}x{data_n} patterns like the training data, found "
                       f"{found}x{found}")


def run_training(config: Any, execution: PyTorchExecutionConfig, *, train_data: Any = None, test_data: Any = None,
                 resume: Any = None, prog: str = "ptycho_torch.train", command: Sequence[str] | None = None) -> int:
    """Train ``config`` (canonical TrainingConfig, backend 'pytorch') as ``execution`` says; returns 0.

    ``train_data`` / ``test_data``: the scans already read (RawData), else read from the config's files.
    ``resume``: None, True (``<output_dir>/checkpoints/last.ckpt``) or a checkpoint path. ``prog``: the command's
    name in messages; ``command``: the command line as typed (the ``--resume`` hint of a run that stops).
    Raises CliError (one line) for bad input; the caller's ``run_cli`` turns it into exit 2."""
    if config.train_data_file is None:
        raise CliError("--train-data-file: required (give the flag or set 'train_data_file' in --config), found nothing")
    output_dir = Path(config.output_dir)
    execution = settle_execution(execution)
    if execution.logger_backend == "mlflow" and not os.environ.get("MLFLOW_TRACKING_URI"):
        # Local store <output_dir>/mlruns. MLflow >= 3.7 refuses file stores unless this opt-in is set.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    quiet = not execution.enable_progress_bar
    if quiet:
        silence_native_logs()
    validate_paths(config.train_data_file, config.test_data_file, output_dir, create=False)
    if train_data is None:
        train_data = _load_raw(config.train_data_file)
        test_data = _load_raw(config.test_data_file) if config.test_data_file is not None else None
    _check_sizes(config, train_data, test_data)
    if not quiet:
        print(f"{prog}: N={config.model.N} gridsize={config.model.gridsize} model_type={config.model.model_type} "
              f"{describe_groups(config, len(train_data.diff3d))} batch_size={config.batch_size} "
              f"{describe_length(config)} architecture={config.model.architecture} optimizer={config.optimizer} "
              f"lr={execution.learning_rate:g} scheduler={execution.scheduler} accelerator={execution.accelerator} "
              f"logger={execution.logger_backend} output_dir={output_dir}", flush=True)
    if resume is None:
        resume = _requeued_resume(output_dir, prog)
    if resume is not None:
        from ptycho_torch.workflows.resume import resolve_resume_checkpoint

        try:
            resume = resolve_resume_checkpoint(resume, output_dir)
        except FileNotFoundError as exc:
            raise CliError(f"--resume: {exc}") from None
    # the other processes of a DDP run leave clean-up and outputs to the first one
    guard = OutputGuard(output_dir) if is_main_process() else None
    try:
        validate_paths(config.train_data_file, config.test_data_file, output_dir, create=True)
        from ptycho_torch.workflows.components import run_cdi_example_torch

        with stop_signals(), quiet_output(quiet):
            _, _, results = run_cdi_example_torch(train_data, test_data, config, do_stitching=False,
                                                  execution_config=execution, resume_from=resume)
        if results.get("bundle_path") is None:  # a DDP process other than the first: rank 0 wrote the bundle
            return 0
        bundle = Path(results["bundle_path"])
        digest = sha256_file(bundle)
        clear_marker(output_dir)  # a finished run has nothing for a requeued job to resume
    except BaseException as exc:
        # A run that stops after training began keeps checkpoints/ and says how to continue; before any
        # checkpoint exists everything it wrote is removed (specs/reliability.md §8, ptycho_torch.cli.stopped).
        stopped = stop_run(exc, guard, output_dir, command)
        if stopped is exc:
            raise
        raise stopped from None
    losses = (results.get("history") or {}).get("train_loss") or []
    if not quiet and losses:
        print(f"{prog}: trained {len(losses)} epoch(s); final train loss {losses[-1]:.6g}", flush=True)
    print(f"bundle_path={bundle.resolve()} bundle_sha256={digest}", flush=True)
    return 0
