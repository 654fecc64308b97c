"""``python -m ptycho_torch.inference``: reconstruct a scan with a trained PyTorch bundle.

Normative text: specs/torch-cli.md §4-§5. Flags may come in any order. Flow:

1. parse; sort the flags with the one inference translation (:func:`ptycho_torch.cli.shared.inference_flag_values`
   over ``ptycho_bridge.flag_configs.field_values``; the deprecated ``--device`` folds into ``--accelerator``) and
   settle the execution settings before anything is read (accelerator available);
2. load ``<model_path>/wts.h5.zip`` (or the zip itself) with
   ``ptycho_torch.workflows.components.load_inference_bundle_torch`` - a missing, corrupt or foreign
   bundle is bad input;
3. build ``(InferenceConfig, PyTorchExecutionConfig)`` from the flags and the bundle's canonical TrainingConfig
   (``ptycho_bridge.flag_configs.inference_config`` / ``inference_execution_config``, the functions ``ptycho
   infer`` uses: model and grouping from the bundle, ``--n-groups`` groups (None = all), ``--inference-batch-size``
   unset = the bundle's training batch size); no PyTorch-native round trip;
4. :func:`run_inference` (what ``ptycho infer`` calls through ``ptycho_torch.backend.BACKEND.command_line``):
   read and validate the test scan (its pattern size must match the model's N); ``reassemble_cdi_image_torch``
   predicts and stitches, showing each prediction batch (:class:`ptycho.runtime.progress.StepProgress` on
   stderr: a redrawn line on a terminal, in a pipe ``predicting: batch 3/10  elapsed 0:02  eta 0:05``, at most
   one line a second, the first and the last always; none with ``--quiet``); write
   ``reconstructed_amplitude.png``, ``reconstructed_phase.png`` and ``reconstructed_object.npz`` (complex object)
   atomically; print one summary line.

Bad input prints one line on stderr and exits with code 2; a failed run removes what it wrote.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptycho.physics.patches import STITCH_M
from ptycho.runtime.progress import StepProgress
from ptycho_bridge.execution import PyTorchExecutionConfig
from ptycho_bridge.flag_configs import FieldValues, inference_config, inference_execution_config
from ptycho_bridge.flag_style import kebab_case_usage
from ptycho_bridge.options import add_options
from ptycho_torch.cli.shared import (
    CliArgumentParser,
    CliError,
    OutputGuard,
    inference_flag_values,
    quiet_output,
    run_cli,
    settle_execution,
    silence_native_logs,
    validate_paths,
)

__all__ = ["build_parser", "inference_configs", "load_bundle", "run_inference", "main"]

PROG = "ptycho_torch.inference"
OBJECT_NPZ = "reconstructed_object.npz"


def build_parser() -> CliArgumentParser:
    """The inference argument parser (all flags are order-independent)."""
    p = CliArgumentParser(
        prog="python -m ptycho_torch.inference",
        description="Reconstruct an NPZ scan with a trained PyTorch model bundle (wts.h5.zip); writes "
        f"reconstructed_amplitude.png, reconstructed_phase.png and {OBJECT_NPZ} under --output-dir.",
    )
    add_options(p, "torch.inference", defaults=True)
    return kebab_case_usage(p)  # usage in kebab-case; the guide's snake_case spellings still parse


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def inference_configs(values: FieldValues, bundle_config: Any) -> tuple[Any, PyTorchExecutionConfig]:
    """``(InferenceConfig, PyTorchExecutionConfig)`` of :func:`ptycho_torch.cli.shared.inference_flag_values`' result
    for the bundle whose stored TrainingConfig is ``bundle_config``. CliError (one line) for a rejected value."""
    try:
        return (inference_config(values, bundle_config, backend="pytorch"),
                inference_execution_config(values, bundle_config))
    except (ValueError, TypeError) as exc:
        raise CliError(_one_line(exc)) from None


def load_bundle(model_path: Any) -> tuple[Any, Any]:
    """``(models, stored TrainingConfig)`` of the bundle at ``model_path`` (a run folder or the zip); CliError
    naming the path when there is nothing there (a corrupt or foreign bundle: BundleError, a ValueError)."""
    from ptycho_torch.workflows.components import load_inference_bundle_torch

    path = Path(model_path)
    if not path.exists():
        raise CliError(f"--model-path {path}: expected a training output folder or a wts.h5.zip file, found no such path")
    return load_inference_bundle_torch(path)


def _load_raw(path: Any) -> Any:
    from ptycho.raw_data import RawData

    return RawData.from_file(path)


def _main(argv: Sequence[str] | None) -> int:
    return _run(build_parser().parse_args(list(sys.argv[1:] if argv is None else argv)))


def _run(args: Any, prog: str = PROG) -> int:
    """Reconstruct as the parsed flags say: the execution settings checked first, then the bundle, the configs of
    the one inference translation, :func:`run_inference`."""
    values = inference_flag_values(args)
    if not values.execution["enable_progress_bar"]:
        silence_native_logs()
    settle_execution(inference_execution_config(values))  # an unavailable accelerator fails before any read
    validate_paths(None, values.inference["test_data_file"], values.inference["output_dir"], create=False)
    models, bundle_config = load_bundle(values.inference["model_path"])
    config, execution = inference_configs(values, bundle_config)
    return run_inference(models, config, execution, prog=prog)


def run_inference(models: Any, config: Any, execution: PyTorchExecutionConfig, *, prog: str = PROG) -> int:
    """Reconstruct ``config.test_data_file`` with ``models`` (of :func:`load_bundle`) into ``config.output_dir``.

    ``config``: the canonical ``InferenceConfig`` (model and grouping of the bundle, ``n_groups`` None = every
    position); ``execution``: accelerator ('auto' resolved here), workers, precision, ``inference_batch_size``
    (None: the workflow's default), progress (``enable_progress_bar``; off = only the summary line). ``prog`` names the command in
    messages (``ptycho infer`` from the ``ptycho`` command). Returns 0; CliError (one line) for bad input; what
    it wrote is removed when it fails."""
    execution = settle_execution(execution)
    quiet = not execution.enable_progress_bar
    say = (lambda msg: None) if quiet else (lambda msg: print(f"{prog}: {msg}", flush=True))
    model_path, test_path, output_dir = Path(config.model_path), Path(config.test_data_file), Path(config.output_dir)
    validate_paths(None, test_path, output_dir, create=False)
    model = config.model
    say(f"loaded model from {model_path} (N={model.N}, gridsize={model.gridsize}, model_type={model.model_type})")
    test_data = _load_raw(test_path)
    n_data = int(test_data.diff3d.shape[-1])
    if n_data != model.N:
        raise CliError(f"{test_path}: expected {model.N}x{model.N} diffraction patterns for the model in {model_path}, "
                       f"found {n_data}x{n_data}")
    say(f"reconstructing {test_path} ({len(test_data.diff3d)} positions, n_groups={config.n_groups or 'all'}) "
        f"on {execution.accelerator}, batch size {execution.inference_batch_size}, "
        f"{execution.num_workers} worker(s)")

    from ptycho_torch.workflows.components import reassemble_cdi_image_torch

    guard = OutputGuard(output_dir)
    try:
        with quiet_output(quiet), StepProgress(None, "predicting: batch", enabled=not quiet,
                                               min_interval_s=1.0) as shown:
            amp, phase, results = reassemble_cdi_image_torch(
                test_data, config, M=STITCH_M, models=models, execution_config=execution,
                on_batch=lambda done, total: _show_batch(shown, done, total),
            )
        validate_paths(None, None, output_dir, create=True)
        written = _write_outputs(output_dir, amp, phase, results)
    except BaseException:
        guard.rollback()
        raise
    for path in written:
        say(f"wrote {path}")
    n_groups = len(results["test_container"])
    print(f"reconstruction={output_dir.resolve()} object_shape={amp.shape[0]}x{amp.shape[1]} groups={n_groups}", flush=True)
    return 0


def _show_batch(shown: Any, done: int, total: int) -> None:
    shown.total = total
    shown.step()


def _write_outputs(output_dir: Path, amp: Any, phase: Any, results: dict[str, Any]) -> list[Path]:
    """Write the two PNGs and the NPZ (keys 'object' complex64 (H,W), 'amplitude', 'phase' float32 (H,W), and
    'origin_xy' float64 (2,), the object coordinates [x, y] of pixel (0, 0), when the offsets are known)."""
    import numpy as np

    from ptycho.atomic_io import save_npz_atomic
    from ptycho_torch.export import save_reconstruction_pngs

    amp = np.asarray(amp, dtype=np.float32)
    phase = np.asarray(phase, dtype=np.float32)
    obj = results.get("stitched_obj")
    obj = (amp * np.exp(1j * phase)).astype(np.complex64) if obj is None else np.asarray(obj, dtype=np.complex64)
    amp_png, phase_png = save_reconstruction_pngs(amp, phase, output_dir)
    npz = output_dir / OBJECT_NPZ
    extra = {}
    if results.get("global_offsets") is not None:
        from ptycho_torch.stitching import canvas_origin

        m = min(STITCH_M, int(results["test_container"].N)) if "test_container" in results else STITCH_M
        extra["origin_xy"] = canvas_origin(results["global_offsets"], obj.shape[0], m)
    save_npz_atomic(npz, object=obj, amplitude=amp, phase=phase, **extra)
    return [Path(amp_png), Path(phase_png), npz]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 success, 2 bad input, 1 internal error)."""
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    sys.exit(main())
