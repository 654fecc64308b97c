"""``ptycho train`` / ``infer`` with a backend that has no command line of its own (TensorFlow; specs/cli.md §4).

Built on the explicit methods of the backend's ``Backend`` object (``ptycho_bridge.backend_api``):
train = ``RawData.from_file`` -> canonical ``TrainingConfig`` (checked with ``backend.unsupported``) ->
``backend.train`` (stitching the test scan when one is given) -> ``backend.save_bundle`` -> PNGs; infer = the
models and stored config ``backend.load_bundle`` read and the InferenceConfig of the flags
(:func:`ptycho_cli.delegate.inference_configs`) -> ``backend.reconstruct`` of the test scan. Models and
configs are passed explicitly; no legacy state is touched. Both also write the files of :mod:`ptycho_cli.outputs`.
Flag names are the PyTorch CLI's where they apply.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

from ptycho.physics.patches import STITCH_M  # the stitching crop (re-exported)
from ptycho.runtime.interrupts import interrupt_cause
from ptycho_cli.errors import StoppedRun, UserError
from ptycho_cli.progress import is_quiet, stage
from ptycho_cli.recipe import recipe_for

__all__ = ["build_training_config", "train_with_backend", "infer_with_backend", "STITCH_M"]


def build_training_config(args: argparse.Namespace, N: int, backend: Any = None) -> Any:
    """Canonical TrainingConfig from ``ptycho train`` flags (:func:`ptycho_bridge.flag_configs.field_values`: the
    recipe of :func:`ptycho_cli.recipe.recipe_for` under the flags given); unset fields keep the canonical
    defaults. ``backend``: the ``Backend`` to train with (its ``unsupported`` check applies); None = the TensorFlow
    rule ``ptycho.config.training_options.tf_unsupported`` (no backend loaded)."""
    from ptycho.config.training_options import tf_unsupported
    from ptycho_bridge.flag_configs import field_values, training_config

    name = "tensorflow" if backend is None else backend.name
    values = field_values(vars(args), "train", recipe=recipe_for(name, getattr(args, "architecture", None)))
    for field, default in (("lr_warmup_epochs", 0), ("lr_min_ratio", 0.1)):
        value = values.execution.get(field)
        if value is not None and value != default:
            raise UserError(f"--{field.replace('_', '-')} {value}: the TensorFlow backend has no 'WarmupCosine' "
                            "schedule (specs/tf-backend.md §4); train with --backend pytorch")
    try:
        config = training_config(values, backend=name, N=N)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    problem = tf_unsupported(config) if backend is None else backend.unsupported(config)
    if problem is not None:
        raise UserError(problem)
    return config


def _stopped(exc: KeyboardInterrupt, out: Path, command: list[str] | None) -> StoppedRun | None:
    """The one line of an interrupted TensorFlow training run that has an epoch-end checkpoint (the bundle is
    not written; ``--resume`` redoes the interrupted epoch, specs/reliability.md §1, §8), else None."""
    import shlex

    last = out / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return None
    cause, code = interrupt_cause(exc)
    words = list(command or ["ptycho", "train"])
    if "--resume" not in words:
        words.append("--resume")
    return StoppedRun(f"stopped: {cause}; checkpoints kept in {last.parent}; continue with: {shlex.join(words)}",
                      code)


def train_with_backend(backend: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Train with ``backend`` (a ``Backend``); writes wts.h5.zip, PNGs, reconstructed_object.npz (with test data),
    history."""
    from ptycho.raw_data import RawData
    from ptycho_cli.figures import save_amplitude_phase_pngs
    from ptycho_cli.outputs import canvas_origin, write_history, write_reconstruction

    train = RawData.from_file(args.train_data_file)
    test = RawData.from_file(args.test_data_file) if args.test_data_file else None
    config = build_training_config(args, int(train.diff3d.shape[-1]), backend)
    out = Path(config.output_dir)
    from ptycho.config.training_options import describe_groups, describe_length

    if not is_quiet():  # then one line per epoch (ptycho.progress_text), the PyTorch backend's display
        print(f"training ({backend.name}, {describe_length(config)}, {describe_groups(config, len(train.diff3d))})",
              flush=True)
    try:
        amp, phase, results = backend.train(train, test, config, M=STITCH_M, do_stitching=test is not None,
                                            resume_from=getattr(args, "resume", None),
                                            checkpoints=True, progress=not is_quiet())
    except FileNotFoundError as exc:  # --resume without a checkpoint: bad input, one line
        if not getattr(args, "resume", None):
            raise
        raise UserError(f"--resume: {exc}") from None
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (ptycho.runtime.interrupts): say how to continue
        stopped = _stopped(exc, out, getattr(args, "command_line", None))
        if stopped is None:
            raise
        raise stopped from None
    bundle = backend.save_bundle(results, config)
    save_amplitude_phase_pngs(amp, phase, out)
    written = write_history(out, results.get("history"))
    if amp is not None and results.get("global_offsets") is not None:  # the test scan was stitched
        import numpy as np

        obj = np.asarray(amp) * np.exp(1j * np.asarray(phase))
        origin = canvas_origin(results["global_offsets"], obj.shape, STITCH_M)
        written.update(write_reconstruction(out, obj, origin, f"{_title(backend)} reconstruction"))
    losses = (results.get("history") or {}).get("train_loss") or []
    if not is_quiet() and losses:
        print(f"trained {len(losses)} epoch(s); final train loss {float(losses[-1]):.6g}")
    print(f"bundle_path={Path(bundle).resolve()}", flush=True)
    return {"results": results, "bundle": Path(bundle), "files": written, "config": config}


def _title(backend: Any) -> str:
    return {"tensorflow": "TensorFlow", "pytorch": "PyTorch"}.get(backend.name, backend.name)


def infer_with_backend(backend: Any, models: Any, bundle_config: Any, config: Any) -> dict[str, Any]:
    """Reconstruct ``config.test_data_file`` (``config``: the canonical InferenceConfig of the flags,
    :func:`ptycho_cli.delegate.inference_configs`) with ``models`` and the stored ``bundle_config`` of the bundle
    ``backend`` (a ``Backend``) loaded; the backend groups with the stored config and the InferenceConfig's
    ``n_groups`` (None = one group per position)."""
    from ptycho.raw_data import RawData
    from ptycho_cli.figures import save_amplitude_phase_pngs
    from ptycho_cli.outputs import canvas_origin, write_reconstruction

    test = RawData.from_file(config.test_data_file)
    n = int(test.diff3d.shape[-1])
    if n != int(config.model.N):
        raise UserError(f"--test-data {config.test_data_file}: expected {config.model.N}x{config.model.N} patterns for "
                        f"this model, found {n}x{n}")
    grouping = copy.copy(bundle_config)
    grouping.n_groups = config.n_groups
    with stage(f"reconstructing {len(test.diff3d)} positions ({backend.name})"):
        recon = backend.reconstruct(models, test, grouping, M=STITCH_M)
    obj = recon.object
    out = Path(config.output_dir)
    save_amplitude_phase_pngs(recon.amplitude, recon.phase, out)
    written = write_reconstruction(out, obj, canvas_origin(recon.global_offsets, obj.shape, recon.crop),
                                   f"{_title(backend)} reconstruction")
    print(f"reconstruction={written['reconstruction'].resolve()} object_shape={obj.shape[0]}x{obj.shape[1]}", flush=True)
    return {"files": written, "object": obj}
