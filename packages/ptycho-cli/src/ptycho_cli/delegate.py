"""``ptycho train`` / ``ptycho infer``: choose the backend, check the inputs, dispatch (specs/cli.md §3-§4).

The chosen backend's ``Backend`` object (``ptycho_bridge.backend_api``, loaded by
:func:`ptycho_cli.backends.load_backend`) is the only thing dispatched on, once per command:

* both routes build their configs with the one flag translation of ``ptycho_bridge.flag_configs`` over the option
  table: train :func:`training_configs` (``configs_from_flags``, the recipe under the flags), infer
  :func:`inference_configs` (``inference_configs_from_flags``, from the flags and the config stored in the bundle
  ``backend.load_bundle`` read);
* a backend with its own command line (``backend.command_line``; PyTorch) runs what ``python -m ptycho_torch.train``
  / ``ptycho_torch.inference`` run, from those configs (and the loaded models); the exit status is returned;
* otherwise (TensorFlow) :mod:`ptycho_cli.tf_entry` calls the backend's explicit methods (train, save_bundle,
  reconstruct).

Before dispatching, the data files are checked against the contract (``ptycho.data_contract.validate_npz``)
so a bad file is one line and exit 2 whichever backend runs. The chosen backend and the reason are
printed first (stderr is kept for errors; this goes to stdout).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from ptycho.runtime.processes import is_main_process
from ptycho_bridge.flag_configs import configs_from_flags, inference_configs_from_flags
from ptycho_bridge.options import options_for
from ptycho_cli.backends import choose_backend, load_backend
from ptycho_cli.errors import UserError
from ptycho_cli.recipe import recipe_for

__all__ = ["cmd_train", "cmd_infer", "training_configs", "inference_configs", "load_bundle", "bundle_backend"]

#: ``ptycho train`` flags of the refinement teacher (PyTorch only, specs/cli.md §4.2)
_TEACHER = tuple(o.name for o in options_for("train", ("teacher",)))
#: ``ptycho train`` flags of multi-process training (PyTorch only, specs/scaling.md §1)
_COMMAND_LINE_ONLY = ("strategy", "devices", "num_nodes")
#: the other PyTorch-only ``ptycho train`` flags (Lightning settings, ``--config``, ...)
_PYTORCH_ONLY = tuple(o for o in options_for("train") if o.torch_only and o.name not in (*_TEACHER, *_COMMAND_LINE_ONLY))
#: the PyTorch-only ``ptycho infer`` flags (the execution settings of the prediction)
_PYTORCH_ONLY_INFER = tuple(o for o in options_for("infer") if o.torch_only)


def training_configs(args: argparse.Namespace, N: int | None, backend: str) -> tuple[Any, Any]:
    """``(TrainingConfig, PyTorchExecutionConfig)`` of the parsed ``ptycho train`` flags for ``backend``
    (:func:`ptycho_bridge.flag_configs.configs_from_flags`): flags given > their ``--config`` file > the recipe of
    :func:`ptycho_cli.recipe.recipe_for` > the canonical defaults; ``N``: the training data's pattern size; the
    progress display follows ``--quiet``."""
    config, execution = configs_from_flags(vars(args), "train", backend=backend, N=N,
                                           recipe=lambda architecture: recipe_for(backend, architecture,
                                                                                   args.train_data_file))
    return config, replace(execution, enable_progress_bar=not getattr(args, "quiet", False))


def inference_configs(args: argparse.Namespace, bundle_config: Any, backend: str) -> tuple[Any, Any]:
    """``(InferenceConfig, PyTorchExecutionConfig)`` of the parsed ``ptycho infer`` flags for the bundle whose stored
    TrainingConfig is ``bundle_config`` (:func:`ptycho_bridge.flag_configs.inference_configs_from_flags`, the
    translation ``python -m ptycho_torch.inference`` uses); the progress display follows ``--quiet``. UserError
    (one line naming the field) for a value the configs reject."""
    try:
        config, execution = inference_configs_from_flags(vars(args), "infer", bundle_config=bundle_config,
                                                         backend=backend)
    except (ValueError, TypeError) as exc:
        raise UserError(" ".join(str(exc).split())) from None
    return config, replace(execution, enable_progress_bar=not getattr(args, "quiet", False))


def load_bundle(backend: Any, model_path: str) -> tuple[Any, Any]:
    """``backend.load_bundle(model_path)``: ``(models, stored TrainingConfig)``; UserError naming the path when
    nothing is there or the bundle holds no training config (a corrupt or foreign bundle: the backend's
    BundleError, a ValueError)."""
    path = Path(model_path)
    if not path.exists():
        raise UserError(f"--model-path {path}: expected a training output folder or a wts.h5.zip file, found no such path")
    models, config = backend.load_bundle(path)
    if not hasattr(config, "model"):
        raise UserError(f"--model-path {path}: expected a bundle with its training config, found none")
    return models, config


def _check_data(*paths: str | None) -> int | None:
    """Validate each data file given (one line, exit 2 for a bad one); the pattern size N of the first."""
    from ptycho.data_contract import validate_npz

    sizes = [int(validate_npz(p)["N"]) if p is not None else None for p in paths]
    return sizes[0] if sizes else None


def bundle_backend(model_path: str) -> str | None:
    """Backend recorded in ``<model_path>/wts.h5.zip``'s manifest ('pytorch'/'tensorflow'), or None."""
    import json
    import zipfile

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
    if is_main_process():  # the other processes of a DDP run (specs/scaling.md §1) stay silent
        print(f"backend: {backend} ({reason})", flush=True)


def _debug_env(args: argparse.Namespace) -> None:
    if getattr(args, "debug", False):
        os.environ["PTYCHO_TRACEBACK"] = "1"


def _refuse_command_line_flags(args: argparse.Namespace, backend: str) -> None:
    """UserError naming the PyTorch-only flags given to a backend without its own command line (``--teacher
    none`` alone is accepted, and the execution defaults): the refinement teacher, DDP and the Lightning
    settings exist only in ptycho_torch."""
    teacher = [f"--{name.replace('_', '-')}" for name in _TEACHER if getattr(args, name, None) is not None]
    if teacher and not (teacher == ["--teacher"] and args.teacher == "none"):
        raise UserError(f"{', '.join(teacher)}: the refinement teacher needs --backend pytorch, found {backend} "
                        "(the refinement solver and the two-stage loss exist only in ptycho_torch; specs/cli.md §4.2)")
    given = [f"--{name.replace('_', '-')}" for name in _COMMAND_LINE_ONLY
             if getattr(args, name, None) not in (None, 1, "auto")]
    if given:
        raise UserError(f"{', '.join(given)}: multi-process training needs --backend pytorch, found {backend}")
    other = [o.flags[0] for o in _PYTORCH_ONLY if getattr(args, o.name, None) is not None]
    if other:
        raise UserError(f"{', '.join(other)}: PyTorch-only settings need --backend pytorch, found {backend}")


def _no_extra(extra: list[str], backend: str) -> None:
    if extra:
        raise UserError(f"unrecognized arguments for the {backend} backend: {' '.join(extra)}")


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    if args.backend == "tensorflow":  # before the backend check: the answer does not depend on TF being installed
        _refuse_command_line_flags(args, args.backend)
    name, reason = choose_backend(args.backend)
    _announce(name, reason)
    n = _check_data(args.train_data_file, args.test_data_file)
    backend = load_backend(name)
    _no_extra(extra, name)
    if backend.command_line is not None:
        _debug_env(args)
        from ptycho_cli.progress import silence_library_logs

        silence_library_logs()  # the backend's import reset the framework loggers
        config, execution = training_configs(args, n, name)
        return int(backend.command_line.train(config, execution, resume=args.resume, prog="ptycho train",
                                              command=getattr(args, "command_line", None)) or 0)
    _refuse_command_line_flags(args, name)
    from ptycho_cli.tf_entry import train_with_backend

    train_with_backend(backend, args)
    return 0


def cmd_infer(args: argparse.Namespace, extra: list[str]) -> int:
    requested = args.backend
    reason_override = None
    if requested is None:
        recorded = bundle_backend(args.model_path)
        if recorded is not None:
            requested, reason_override = recorded, "recorded in the model bundle"
    name, reason = choose_backend(requested)
    _announce(name, reason_override or reason)
    _check_data(args.test_data)
    backend = load_backend(name)
    _no_extra(extra, name)
    if backend.command_line is None:
        given = [o.flags[0] for o in _PYTORCH_ONLY_INFER if getattr(args, o.name, None) is not None]
        if given:
            raise UserError(f"{', '.join(given)}: PyTorch-only settings need --backend pytorch, found {name}")
    models, bundle_config = load_bundle(backend, args.model_path)
    config, execution = inference_configs(args, bundle_config, name)
    if backend.command_line is not None:
        _debug_env(args)
        return int(backend.command_line.infer(models, config, execution, prog="ptycho infer") or 0)
    from ptycho_cli.tf_entry import infer_with_backend

    infer_with_backend(backend, models, bundle_config, config)
    return 0
