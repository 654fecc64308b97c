"""``ptycho train`` / ``ptycho infer``: choose the backend, check the inputs, delegate (specs/cli.md §3-§4).

* PyTorch: the parsed values go, keyed by the destinations of ``ptycho_torch.train`` /
  ``ptycho_torch.inference`` (e.g. ``seed`` -> ``subsample_seed``), to the backend's ``main_with(values,
  extra)``, which runs in-process; flags this command does not know (``extra``) are the backend's own
  flags, given by the user. Its exit status is returned.
* TensorFlow: :mod:`ptycho_cli.tf_entry` (train/infer on top of ``ptycho.workflows.components``).

Before delegating, the data files are checked against the contract (``ptycho.data_contract.validate_npz``)
so a bad file is one line and exit 2 whichever backend runs. The chosen backend and the reason are
printed first (stderr is kept for errors; this goes to stdout).
"""

from __future__ import annotations

import argparse
import os

from ptycho_bridge.option_flags import MODEL_OPTION_FIELDS, SCHEDULE_FLAGS, TRAINING_OPTION_FIELDS
from ptycho_cli.backends import choose_backend
from ptycho_cli.errors import UserError
from ptycho_cli.recipe import recipe_for

__all__ = ["cmd_train", "cmd_infer", "torch_train_values", "torch_infer_values", "bundle_backend"]

#: ``ptycho train`` destination -> ``ptycho_torch.train`` destination
_TORCH_TRAIN = {
    "train_data_file": "train_data_file", "test_data_file": "test_data_file", "output_dir": "output_dir",
    "max_epochs": "max_epochs", "max_time": "max_time", "n_groups": "n_groups", "gridsize": "gridsize", "batch_size": "batch_size",
    "nphotons": "nphotons", "neighbor_count": "neighbor_count", "learning_rate": "learning_rate",
    "n_filters_scale": "n_filters_scale",
    "seed": "subsample_seed", "resume": "resume",
    "strategy": "strategy", "devices": "devices", "num_nodes": "num_nodes", "scheduler": "scheduler",
    **{name: name for name in (*TRAINING_OPTION_FIELDS, *MODEL_OPTION_FIELDS, *SCHEDULE_FLAGS)},
    "teacher": "teacher", "teacher_iterations": "teacher_iterations",
    "teacher_supervised_share": "teacher_supervised_share", "teacher_keep_weight": "teacher_keep_weight",
}
#: ``ptycho train`` flags only the PyTorch backend runs (multi-process training, specs/scaling.md §1)
_TORCH_ONLY = ("strategy", "devices", "num_nodes")
#: ``ptycho train`` flags of the refinement teacher (PyTorch only, specs/cli.md §4.2)
_TEACHER = ("teacher", "teacher_iterations", "teacher_supervised_share", "teacher_keep_weight")
#: ``ptycho infer`` destination -> ``ptycho_torch.inference`` destination
_TORCH_INFER = {
    "model_path": "model_path", "test_data": "test_data", "output_dir": "output_dir", "n_groups": "n_images",
    "inference_batch_size": "inference_batch_size",
}


def _values(args: argparse.Namespace, table: dict[str, str]) -> dict[str, object]:
    out = {target: getattr(args, dest, None) for dest, target in table.items()}
    out = {k: v for k, v in out.items() if v is not None and v is not False}
    if getattr(args, "quiet", False):
        out["quiet"] = True
    return out


def torch_train_values(args: argparse.Namespace, extra: list[str] | None = None) -> dict[str, object]:
    """Values for ``ptycho_torch.train.main_with`` from the parsed ``ptycho train`` flags (those given), plus the
    ``ptycho train`` recipe (:data:`ptycho_cli.recipe.TRAIN_RECIPE`) for the fields the user left unset — unless
    the backend's own ``--config`` file is given (``extra``), whose values then stand."""
    values = _values(args, _TORCH_TRAIN)
    uses_config = any(a == "--config" or a.startswith("--config=") for a in (extra or []))
    for field, value in recipe_for("pytorch", values.get("architecture")).items():
        if field not in values and not uses_config:
            values[field] = value
    return values


def torch_infer_values(args: argparse.Namespace) -> dict[str, object]:
    """Values for ``ptycho_torch.inference.main_with`` (those given)."""
    return _values(args, _TORCH_INFER)


def _check_data(*paths: str | None) -> None:
    from ptycho.data_contract import validate_npz

    for p in paths:
        if p is not None:
            validate_npz(p)


def bundle_backend(model_path: str) -> str | None:
    """Backend recorded in ``<model_path>/wts.h5.zip``'s manifest ('pytorch'/'tensorflow'), or None."""
    import json
    import zipfile
    from pathlib import Path

    p = Path(model_path)
    zpath = p if p.suffix == ".zip" else p / "wts.h5.zip"
    if not zpath.is_file():
        return None
    try:
        with zipfile.ZipFile(zpath) as zf:
            names = set(zf.namelist())
            for name in ("manifest.json",):
                if name in names:
                    data = json.loads(zf.read(name).decode("utf-8"))
                    value = data.get("backend") if isinstance(data, dict) else None
                    return str(value) if value in ("pytorch", "tensorflow") else None
    except (zipfile.BadZipFile, OSError, ValueError, UnicodeDecodeError):
        return None
    return None


def _announce(backend: str, reason: str) -> None:
    from ptycho_bridge.execution import is_main_process

    if is_main_process():  # the other processes of a DDP run (specs/scaling.md §1) stay silent
        print(f"backend: {backend} ({reason})", flush=True)


def _debug_env(args: argparse.Namespace) -> None:
    if getattr(args, "debug", False):
        os.environ["PTYCHO_TRACEBACK"] = "1"


def _refuse_teacher_on_tensorflow(args: argparse.Namespace) -> None:
    """UserError naming the teacher flags given (``--teacher none`` alone is accepted): TensorFlow has no teacher."""
    teacher = [f"--{name.replace('_', '-')}" for name in _TEACHER if getattr(args, name, None) is not None]
    if teacher and not (teacher == ["--teacher"] and args.teacher == "none"):
        raise UserError(f"{', '.join(teacher)}: the refinement teacher needs --backend pytorch, found tensorflow "
                        "(the refinement solver and the two-stage loss exist only in ptycho_torch; specs/cli.md §4.2)")


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    if args.backend == "tensorflow":  # before the backend check: the answer does not depend on TF being installed
        _refuse_teacher_on_tensorflow(args)
    backend, reason = choose_backend(args.backend)
    _announce(backend, reason)
    _check_data(args.train_data_file, args.test_data_file)
    if backend == "pytorch":
        _debug_env(args)
        from ptycho_cli.progress import silence_library_logs
        from ptycho_torch.train import main_with

        silence_library_logs()

        return int(main_with(torch_train_values(args, extra), extra, prog="ptycho train",
                             command=getattr(args, "command_line", None)) or 0)
    if extra:
        raise UserError(f"unrecognized arguments for the tensorflow backend: {' '.join(extra)}")
    _refuse_teacher_on_tensorflow(args)
    given = [f"--{name.replace('_', '-')}" for name in _TORCH_ONLY if getattr(args, name, None) not in (None, 1, "auto")]
    if given:
        raise UserError(f"{', '.join(given)}: multi-process training needs --backend pytorch, found tensorflow")
    from ptycho_cli.tf_entry import train_tensorflow

    train_tensorflow(args)
    return 0


def cmd_infer(args: argparse.Namespace, extra: list[str]) -> int:
    requested = args.backend
    reason_override = None
    if requested is None:
        recorded = bundle_backend(args.model_path)
        if recorded is not None:
            requested, reason_override = recorded, "recorded in the model bundle"
    backend, reason = choose_backend(requested)
    _announce(backend, reason_override or reason)
    _check_data(args.test_data)
    if backend == "pytorch":
        _debug_env(args)
        from ptycho_torch.inference import main_with

        return int(main_with(torch_infer_values(args), extra, prog="ptycho infer") or 0)
    if extra:
        raise UserError(f"unrecognized arguments for the tensorflow backend: {' '.join(extra)}")
    from ptycho_cli.tf_entry import infer_tensorflow

    infer_tensorflow(args)
    return 0
