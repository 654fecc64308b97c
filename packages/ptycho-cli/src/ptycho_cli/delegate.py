"""``ptycho train`` / ``ptycho infer``: choose the backend, check the inputs, dispatch (specs/cli.md §3-§4).

The chosen backend's ``Backend`` object (``ptycho_bridge.backend_api``, loaded by
:func:`ptycho_cli.backends.load_backend`) is the only thing dispatched on, once per command:

* a backend with its own command line (``backend.command_line``; PyTorch: ``python -m ptycho_torch.train`` /
  ``ptycho_torch.inference``) gets the parsed values keyed by its own destinations
  (``command_line.train_destinations``, e.g. ``seed`` -> ``subsample_seed``) and the flags this command does not
  know (``extra``: that command line's own flags, given by the user); it runs in-process and its exit status is
  returned;
* otherwise (TensorFlow) :mod:`ptycho_cli.tf_entry` builds the canonical config and calls the backend's explicit
  methods (train, save_bundle, load_bundle, reconstruct).

Before dispatching, the data files are checked against the contract (``ptycho.data_contract.validate_npz``)
so a bad file is one line and exit 2 whichever backend runs. The chosen backend and the reason are
printed first (stderr is kept for errors; this goes to stdout).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

from ptycho_bridge.options import options_for
from ptycho_cli.backends import choose_backend, load_backend
from ptycho_cli.errors import UserError
from ptycho_cli.recipe import recipe_for

__all__ = ["cmd_train", "cmd_infer", "train_values", "infer_values", "bundle_backend"]

#: ``ptycho train`` flags of the refinement teacher (PyTorch only, specs/cli.md §4.2)
_TEACHER = tuple(o.name for o in options_for("train", ("teacher",)))
#: the other PyTorch-only ``ptycho train`` flags (multi-process training, specs/scaling.md §1)
_COMMAND_LINE_ONLY = tuple(o.name for o in options_for("train") if o.torch_only and o.name not in _TEACHER)


def _values(args: argparse.Namespace, table: Mapping[str, str]) -> dict[str, object]:
    out = {target: getattr(args, dest, None) for dest, target in table.items()}
    out = {k: v for k, v in out.items() if v is not None and v is not False}
    if getattr(args, "quiet", False):
        out["quiet"] = True
    return out


def train_values(command_line: Any, args: argparse.Namespace, extra: list[str] | None = None) -> dict[str, object]:
    """Values for ``command_line.train`` from the parsed ``ptycho train`` flags (those given), keyed by
    ``command_line.train_destinations``, plus the ``ptycho train`` recipe (:data:`ptycho_cli.recipe.TRAIN_RECIPE`)
    for the fields the user left unset — unless that command line's own ``--config`` file is given (``extra``),
    whose values then stand."""
    values = _values(args, command_line.train_destinations)
    uses_config = any(a == "--config" or a.startswith("--config=") for a in (extra or []))
    for field, value in recipe_for("pytorch", values.get("architecture")).items():
        if field not in values and not uses_config:
            values[field] = value
    return values


def infer_values(command_line: Any, args: argparse.Namespace) -> dict[str, object]:
    """Values for ``command_line.infer`` (those given), keyed by ``command_line.infer_destinations``."""
    return _values(args, command_line.infer_destinations)


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


def _refuse_command_line_flags(args: argparse.Namespace, backend: str) -> None:
    """UserError naming the teacher or multi-process flags given to a backend without its own command line
    (``--teacher none`` alone is accepted): the refinement teacher and DDP exist only in ptycho_torch."""
    teacher = [f"--{name.replace('_', '-')}" for name in _TEACHER if getattr(args, name, None) is not None]
    if teacher and not (teacher == ["--teacher"] and args.teacher == "none"):
        raise UserError(f"{', '.join(teacher)}: the refinement teacher needs --backend pytorch, found {backend} "
                        "(the refinement solver and the two-stage loss exist only in ptycho_torch; specs/cli.md §4.2)")
    given = [f"--{name.replace('_', '-')}" for name in _COMMAND_LINE_ONLY
             if getattr(args, name, None) not in (None, 1, "auto")]
    if given:
        raise UserError(f"{', '.join(given)}: multi-process training needs --backend pytorch, found {backend}")


def _no_extra(extra: list[str], backend: str) -> None:
    if extra:
        raise UserError(f"unrecognized arguments for the {backend} backend: {' '.join(extra)}")


def cmd_train(args: argparse.Namespace, extra: list[str]) -> int:
    if args.backend == "tensorflow":  # before the backend check: the answer does not depend on TF being installed
        _refuse_command_line_flags(args, args.backend)
    name, reason = choose_backend(args.backend)
    _announce(name, reason)
    _check_data(args.train_data_file, args.test_data_file)
    backend = load_backend(name)
    if backend.command_line is not None:
        _debug_env(args)
        from ptycho_cli.progress import silence_library_logs

        silence_library_logs()  # the backend's import reset the framework loggers
        return int(backend.command_line.train(train_values(backend.command_line, args, extra), extra,
                                              prog="ptycho train", command=getattr(args, "command_line", None)) or 0)
    _no_extra(extra, name)
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
    if backend.command_line is not None:
        _debug_env(args)
        return int(backend.command_line.infer(infer_values(backend.command_line, args), extra, prog="ptycho infer")
                   or 0)
    _no_extra(extra, name)
    from ptycho_cli.tf_entry import infer_with_backend

    infer_with_backend(backend, args)
    return 0
