"""``python -m ptycho_torch.inference``: reconstruct a scan with a trained PyTorch bundle.

Normative text: specs/torch-cli.md §4-§5. Flags may come in any order. Flow:

1. parse; build the inference ``PyTorchExecutionConfig`` (accelerator, num_workers,
   inference_batch_size, progress);
2. load ``<model_path>/wts.h5.zip`` (or the zip itself) with
   ``ptycho_torch.workflows.components.load_inference_bundle_torch`` - a missing, corrupt or foreign
   bundle is bad input;
3. read and validate ``--test_data``; its pattern size must match the model's N;
4. build the canonical ``InferenceConfig`` from the bundle's canonical TrainingConfig (``--n-groups`` groups,
   None = all); no PyTorch-native round trip;
5. ``reassemble_cdi_image_torch`` predicts and stitches, showing each prediction batch
   (:class:`ptycho.runtime.progress.StepProgress` on stderr: a redrawn line on a terminal, in a pipe
   ``predicting: batch 3/10  elapsed 0:02  eta 0:05``, at most one line a second, the first and the last
   always; none with ``--quiet``); write ``reconstructed_amplitude.png``,
   ``reconstructed_phase.png`` and ``reconstructed_object.npz`` (complex object) atomically;
6. print one summary line.

Bad input prints one line on stderr and exits with code 2; a failed run removes what it wrote.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ptycho.physics.patches import STITCH_M
from ptycho.runtime.progress import StepProgress
from ptycho_bridge.flag_style import kebab_case_usage
from ptycho_bridge.options import add_options
from ptycho_torch.cli.shared import (
    CliArgumentParser,
    CliError,
    OutputGuard,
    build_execution_config_from_args,
    parse_with_values,
    quiet_output,
    run_cli,
    silence_native_logs,
    validate_paths,
)

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


def build_inference_config(training_config: Any, model_path: Path, test_data: Path, output_dir: Path,
                           n_groups: int | None) -> Any:
    """Canonical ``InferenceConfig`` for a bundle's stored canonical TrainingConfig, built directly from it.

    The model architecture and grouping knobs (neighbor_count, subsample_seed, ...) come from the bundle;
    ``n_groups`` (``--n-groups``, the guide's ``--n_images``), paths and output folder from the command line.
    """
    from ptycho.config.config import InferenceConfig

    tc = training_config
    try:
        return InferenceConfig(
            model=tc.model, model_path=model_path, test_data_file=test_data, n_groups=n_groups,
            output_dir=output_dir, backend="pytorch", n_subsample=tc.n_subsample, subsample_seed=tc.subsample_seed,
            neighbor_count=tc.neighbor_count, enable_oversampling=tc.enable_oversampling,
            neighbor_pool_size=tc.neighbor_pool_size,
        )
    except (ValueError, TypeError) as exc:
        raise CliError(" ".join(str(exc).split())) from None


def _load_raw(path: Any) -> Any:
    from ptycho.raw_data import RawData

    return RawData.from_file(path)


def _main(argv: Sequence[str] | None) -> int:
    return _run(build_parser().parse_args(list(sys.argv[1:] if argv is None else argv)))


def _run(args: Any, prog: str = PROG) -> int:
    execution_config = build_execution_config_from_args(args, "inference")
    quiet = bool(args.quiet)
    if quiet:
        silence_native_logs()
    say = (lambda msg: None) if quiet else (lambda msg: print(f"{prog}: {msg}", flush=True))
    model_path = Path(args.model_path)
    if not model_path.exists():
        raise CliError(f"--model-path {model_path}: expected a training output folder or a wts.h5.zip file, found no such path")
    output_dir = Path(args.output_dir)
    validate_paths(None, args.test_data, output_dir, create=False)

    from ptycho_torch.workflows.components import load_inference_bundle_torch, reassemble_cdi_image_torch

    models, training_config = load_inference_bundle_torch(model_path)
    say(f"loaded model from {model_path} (N={training_config.model.N}, gridsize={training_config.model.gridsize}, "
        f"model_type={training_config.model.model_type})")
    test_data = _load_raw(args.test_data)
    n_data = int(test_data.diff3d.shape[-1])
    if n_data != training_config.model.N:
        raise CliError(f"{args.test_data}: expected {training_config.model.N}x{training_config.model.N} diffraction "
                       f"patterns for the model in {model_path}, found {n_data}x{n_data}")
    config = build_inference_config(training_config, model_path, Path(args.test_data), output_dir, args.n_groups)
    if execution_config.inference_batch_size is None:
        from dataclasses import replace

        execution_config = replace(execution_config, inference_batch_size=int(training_config.batch_size))
    say(f"reconstructing {args.test_data} ({len(test_data.diff3d)} positions, n_groups={config.n_groups or 'all'}) "
        f"on {execution_config.accelerator}, batch size {execution_config.inference_batch_size}, "
        f"{execution_config.num_workers} worker(s)")

    guard = OutputGuard(output_dir)
    try:
        with quiet_output(quiet), StepProgress(None, "predicting: batch", enabled=not quiet,
                                               min_interval_s=1.0) as shown:
            amp, phase, results = reassemble_cdi_image_torch(
                test_data, config, M=STITCH_M, models=models, execution_config=execution_config,
                on_batch=lambda done, total: _show_batch(shown, done, total),
            )
        validate_paths(None, None, output_dir, create=True)
        written = _write_outputs(output_dir, amp, phase, results)
    except BaseException:
        guard.rollback()
        raise
    for path in written:
        say(f"wrote {path}")
    n_groups = len(results["global_offsets"])
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


def main_with(given: dict[str, Any], extra: Sequence[str] = (), prog: str = PROG) -> int:
    """:func:`main` for a caller that parsed some flags itself (the ``ptycho infer`` command): ``given`` maps
    this parser's destinations to values, ``extra`` holds further flags in this command's spelling
    (:func:`ptycho_torch.cli.shared.parse_with_values`; specs/torch-cli.md §5). ``prog`` names the command in
    messages (``ptycho infer`` from the ``ptycho`` command line)."""
    return run_cli(prog, lambda _: _run(parse_with_values(build_parser(), given, extra), prog), None)


if __name__ == "__main__":
    sys.exit(main())
