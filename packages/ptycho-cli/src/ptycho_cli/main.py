"""The ``ptycho`` command: simulate, validate, train, infer, evaluate, demo, refine, convert (specs/cli.md).

Entry points (``[project.scripts]``): ``ptycho`` -> :func:`main`, ``ptycho_train`` -> :func:`train_main`,
``ptycho_inference`` -> :func:`inference_main`, ``ptycho_evaluate`` -> :func:`evaluate_main`; also
``python -m ptycho_cli``. Each returns (and exits with) 0 on success, 2 for a user error (one line on
stderr), 1 for an internal error; ``--debug`` adds the traceback. Heavy packages (torch, tensorflow,
matplotlib) are imported only by the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ptycho.runtime.interrupts import Interrupted, received_signal, signals_raise
from ptycho_bridge.flag_style import kebab_case_usage
from ptycho_bridge.option_types import (
    max_time_value,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)
from ptycho_cli import __version__
from ptycho_cli.convert_cmd import add_convert_parser
from ptycho_cli.errors import EXIT_OK, UserError, report_exception
from ptycho_cli.flags import add_infer_flags, add_train_flags
from ptycho_cli.refine_cmd import add_refine_infer_flags, add_refine_parser
from ptycho_cli.value_types import positive_float_list

__all__ = ["build_parser", "main", "train_main", "inference_main", "evaluate_main", "CliParser"]


class CliParser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a one-line :class:`UserError` instead of usage text + exit, and which never
    matches a flag by a prefix (``--train-data`` is not ``--train-data-file``; specs/cli.md §1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')", self.prog)


class UsageError(UserError):
    """A command-line error of the parser ``prog`` (e.g. 'ptycho simulate'): the line names that subcommand."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


def _common(p: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else False
    p.add_argument("--debug", action="store_true", default=default, help="show tracebacks of errors")
    p.add_argument("--quiet", "-q", action="store_true", default=default,
                   help="no progress bars and less logging")


def _backend_flag(p: argparse.ArgumentParser, default_text: str) -> None:
    p.add_argument("--backend", metavar="{pytorch,tensorflow}", default=None,
                   help=f"framework to run ({default_text})")


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    from ptycho_cli.recipe import REALISTIC_SCAN as R

    p = sub.add_parser("simulate", help="write a simulated scan with ground truth (.npz)",
                       description="Simulate a ptychography scan of a test object and write a contract-valid NPZ "
                                   "holding the diffraction amplitudes, positions, probe and ground-truth object. "
                                   "The defaults are the realistic scan 'ptycho demo' trains on.")
    p.add_argument("--output", "-o", required=True, metavar="NPZ", help="file to write")
    p.add_argument("--object", dest="object_kind", default=R["object_kind"], metavar="KIND",
                   help=f"test object: lines, grf, siemens, natural (default {R['object_kind']})")
    p.add_argument("--probe", dest="probe_kind", default=R["probe_kind"], metavar="KIND",
                   help="probe: disk (real, centro-symmetric), fresnel (propagated aperture), zoneplate "
                        "(defocused zone plate), phasescreen (aperture behind a random phase screen): the last "
                        f"three carry phase, like a beamline probe (default {R['probe_kind']})")
    p.add_argument("--jitter", type=nonnegative_float, default=R["jitter"], metavar="PX",
                   help=f"standard deviation of random position errors added to the scan, pixels "
                        f"(default {R['jitter']:g})")
    p.add_argument("--interpolation", default=R["interpolation"], metavar="MODEL",
                   help="measurement model of sub-pixel positions: finegrid (default; neutral: object, probe and "
                        "exit wave on an --oversample-times finer grid, the detector keeps the central band), "
                        "fourier (object shift), probe (probe shift), bilinear (interpolated patches)")
    p.add_argument("--oversample", type=positive_int, default=R["oversample"], metavar="S",
                   help=f"fine pixels per object pixel of --interpolation finegrid (default {R['oversample']})")
    p.add_argument("--probe-modes", dest="probe_modes", type=positive_int, default=1, metavar="K",
                   help="incoherent probe modes of a partially coherent beam (default 1: coherent); K > 1 splits "
                        "the probe into K orthogonal modes and writes probeGuess as (K, N, N)")
    p.add_argument("--mode-powers", dest="mode_powers", type=positive_float_list, default=None, metavar="P1,P2,...",
                   help="power of each mode, normalised to fractions (default geometric 0.3 ratio: "
                        "0.72,0.22,0.06 for K=3)")
    p.add_argument("--N", "-N", dest="N", type=positive_int, default=R["N"],
                   help=f"pattern size: 64, 128 or 256 (default {R['N']})")
    p.add_argument("--n-positions", "--n_positions", dest="n_positions", type=positive_int,
                   default=R["n_positions"], metavar="M", help=f"number of scan positions (default {R['n_positions']})")
    p.add_argument("--scan", default=R["scan"], metavar="KIND",
                   help=f"scan pattern: random, grid, fermat (default {R['scan']}: a spiral, uniform coverage)")
    p.add_argument("--nphotons", type=positive_float, default=R["nphotons"],
                   help=f"mean photons per pattern (default {R['nphotons']:g})")
    p.add_argument("--seed", type=nonnegative_int, default=1, help="random seed (default 1)")
    _common(p, suppress=True)


def _subcommand(sub: argparse._SubParsersAction, name: str, help: str, description: str,
                add_flags: Sequence[Callable[[argparse.ArgumentParser], None]] = (), *,
                backend_default: str | None = None, aliases: Sequence[str] = ()) -> argparse.ArgumentParser:
    """One subcommand: its help, optional ``--backend`` flag, its flag groups, then ``--debug`` / ``--quiet``."""
    p = sub.add_parser(name, aliases=list(aliases), help=help, description=description)
    if backend_default is not None:
        _backend_flag(p, backend_default)
    for add in add_flags:
        add(p)
    _common(p, suppress=True)
    return p


def _add_validate(sub: argparse._SubParsersAction) -> None:
    _subcommand(sub, "validate", "check data files against the data contract",
                "Print 'OK' or the contract violation for every file; exit 2 if any fails.",
                [lambda p: p.add_argument("files", nargs="+", metavar="FILE")])


def _add_train(sub: argparse._SubParsersAction) -> None:
    _subcommand(sub, "train", "train a model (delegates to the chosen backend)",
                "Train on a scan. The flags are those of python -m ptycho_torch.train (one option table; "
                "'PyTorch only' ones are refused by the TensorFlow backend).", [add_train_flags],
                backend_default="default: the only installed one, else the canonical default")


def _add_infer(sub: argparse._SubParsersAction) -> None:
    _subcommand(sub, "infer", "reconstruct a scan with a trained model",
                "Reconstruct a scan with a trained bundle. The flags are those of python -m ptycho_torch.inference "
                "(one option table; 'PyTorch only' ones are refused by the TensorFlow backend).",
                [add_infer_flags, add_refine_infer_flags],
                backend_default="default: the backend that wrote the bundle, else as for train", aliases=["inference"])


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``ptycho evaluate`` / ``ptycho_evaluate``."""
    p.add_argument("--reconstruction", "-r", required=True, metavar="FILE",
                   help="reconstruction (.npz with 'reconstruction' or 'amplitude'+'phase', or .npy)")
    p.add_argument("--ground-truth", "--ground_truth", "-g", dest="ground_truth", required=True, metavar="FILE",
                   help="ground truth: a scan .npz with objectGuess (e.g. from 'ptycho simulate'), or .npy/.npz")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir", default=".", metavar="DIR",
                   help="where metrics.json and comparison.png go (default: current folder)")
    p.add_argument("--phase-align", "--phase_align_method", dest="phase_align", default="plane",
                   choices=("plane", "mean"), help="phase alignment before metrics (default plane)")
    p.add_argument("--no-register", dest="register", action="store_false",
                   help="skip sub-pixel registration of the reconstruction onto the ground truth")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    _subcommand(sub, "evaluate", "compare a reconstruction with ground truth: metrics JSON + figure",
                "Align a reconstruction with the ground truth, write metrics.json (MAE, MSE, PSNR, SSIM, MS-SSIM, "
                "FRC for amplitude and phase) and comparison.png.", [add_evaluate_arguments])


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job: simulate, train, reconstruct, evaluate, plot",
                       description="Simulate the built-in default scan, train, reconstruct, evaluate against the "
                                   "ground truth, save figures and print a summary table.")
    _backend_flag(p, "default: pytorch")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir", default="ptycho_demo_output", metavar="DIR",
                   help="default ./ptycho_demo_output")
    p.add_argument("--epochs", "--max_epochs", "--nepochs", dest="epochs", type=positive_int, default=None,
                   help="train this many epochs instead of the time budget (with --max-time: whichever first)")
    p.add_argument("--max-time", "--max_time", dest="max_time", type=max_time_value, default=None,
                   metavar="DD:HH:MM:SS", help="training budget (default 00:00:02:00: the demo takes about 3 "
                   "minutes in all on any machine; a slower machine trains fewer epochs)")
    p.add_argument("--n-positions", "--n_positions", dest="n_positions", type=positive_int, default=None, metavar="M",
                   help="scan positions to simulate (default: the demo preset's)")
    p.add_argument("--gridsize", type=positive_int, default=None, help="group side (default: the preset's)")
    p.add_argument("--seed", type=nonnegative_int, default=1, help="seed of simulation and training (default 1)")
    p.add_argument("--fast", action="store_true",
                   help="tiny preset for smoke tests (seconds; the reconstruction is not meaningful)")
    _common(p, suppress=True)


def build_parser() -> CliParser:
    """The ``ptycho`` parser with its eight subcommands (specs/cli.md §1)."""
    parser = CliParser(prog="ptycho", description="PtychoPINN: simulate, validate, train, infer, evaluate, demo, refine, "
                                                  "convert.")
    parser.add_argument("--version", action="version", version=f"ptycho {__version__}")
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CliParser)
    sub.required = True
    _add_simulate(sub)
    _add_validate(sub)
    _add_train(sub)
    _add_infer(sub)
    _add_evaluate(sub)
    _add_demo(sub)
    add_refine_parser(sub, _common)
    add_convert_parser(sub, _common)
    return kebab_case_usage(parser)


def _handler(command: str) -> Callable[[argparse.Namespace, list[str]], int]:
    if command == "simulate":
        from ptycho_cli.commands import cmd_simulate as fn
    elif command == "validate":
        from ptycho_cli.commands import cmd_validate as fn
    elif command == "train":
        from ptycho_cli.delegate import cmd_train as fn
    elif command in ("infer", "inference"):
        from ptycho_cli.refine_cmd import cmd_infer_then_refine as fn
    elif command == "evaluate":
        from ptycho_cli.commands import cmd_evaluate as fn
    elif command == "demo":
        from ptycho_cli.demo import cmd_demo as fn
    elif command == "refine":
        from ptycho_cli.refine_cmd import cmd_refine as fn
    elif command == "convert":
        from ptycho_cli.convert_cmd import cmd_convert as fn
    else:  # pragma: no cover - argparse restricts the choices
        raise UserError(f"unknown command {command!r}")
    return fn


_PASS_THROUGH = {"train"}


def _run(argv: Sequence[str], parse: Callable[[list[str]], tuple[argparse.Namespace, list[str]]], prog: str) -> int:
    argv = list(argv)
    typed = prog  # the command as typed ('ptycho', 'ptycho_train'): the start of a --resume hint
    debug = "--debug" in argv
    try:
        args, extra = parse(argv)
        debug = bool(getattr(args, "debug", debug))
        from ptycho_cli import progress

        progress.set_quiet(bool(getattr(args, "quiet", False)))
        if bool(getattr(args, "quiet", False)):
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = args.command
        if prog == "ptycho":
            prog = f"ptycho {command}"
        if extra and command not in _PASS_THROUGH:
            raise UserError(f"unrecognized arguments: {' '.join(extra)} (see '{prog} --help')")
        args.argv = argv
        args.command_line = [typed, *argv]
        from ptycho_cli.notices import one_line_notices

        with signals_raise(), one_line_notices(prog), progress.quiet_libraries(), _output_rule(command, args) as out:
            code = int(_handler(command)(args, extra) or EXIT_OK)
            if code != EXIT_OK:
                out.failed()
            return code
    except SystemExit as exc:  # --help / --version, or a delegated command line that exits
        if exc.code == 1 and received_signal() is not None:  # Lightning turns an interrupted fit into exit(1)
            return report_exception(Interrupted(received_signal()), prog, debug)
        code = exc.code
        if code is None:
            return EXIT_OK
        if isinstance(code, int):
            return code
        print(f"{prog}: error: {code}", file=sys.stderr)
        return 2
    except BaseException as exc:  # noqa: BLE001 - every failure becomes one line + exit status
        if isinstance(exc, UsageError) and prog == "ptycho":
            prog = exc.prog  # a parse error names the subcommand it belongs to ('ptycho simulate')
        return report_exception(exc, prog, debug)


def _output_rule(command: str, args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    """The output-path rule of every command (:mod:`ptycho_cli.output_paths`, specs/cli.md §1.1)."""
    from ptycho_cli.output_paths import Outcome, command_output, output_transaction

    out = command_output(command, args)
    return contextlib.nullcontext(Outcome(None)) if out is None else output_transaction(*out)


def _parse_main(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    return build_parser().parse_known_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """``ptycho COMMAND ...``; returns the exit status (the console script exits with it)."""
    return _run(sys.argv[1:] if argv is None else argv, _parse_main, "ptycho")


def _single(command: str, prog: str) -> Callable[[list[str]], tuple[argparse.Namespace, list[str]]]:
    def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
        return build_parser().parse_known_args([command, *argv])

    return parse


def train_main(argv: Sequence[str] | None = None) -> int:
    """``ptycho_train`` = ``ptycho train``."""
    return _run(sys.argv[1:] if argv is None else argv, _single("train", "ptycho_train"), "ptycho_train")


def inference_main(argv: Sequence[str] | None = None) -> int:
    """``ptycho_inference`` = ``ptycho infer``."""
    return _run(sys.argv[1:] if argv is None else argv, _single("infer", "ptycho_inference"), "ptycho_inference")


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """``ptycho_evaluate`` = ``ptycho evaluate``."""
    return _run(sys.argv[1:] if argv is None else argv, _single("evaluate", "ptycho_evaluate"), "ptycho_evaluate")


def console_main() -> NoReturn:  # pragma: no cover - thin wrapper used by __main__
    sys.exit(main())
