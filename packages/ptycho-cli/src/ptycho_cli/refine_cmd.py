"""``ptycho refine`` and ``ptycho infer --refine-iterations K`` (specs/refinement.md §7).

The subcommand and the infer flags live here so the parser needs only a few-line hook
(:func:`add_refine_parser`, :func:`add_refine_infer_flags`, :func:`cmd_infer_then_refine`). The solver is
``ptycho_torch.refine``; files are written by :mod:`ptycho_cli.refine_outputs`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from ptycho_bridge.flag_style import hide_spellings
from ptycho_bridge.option_types import nonnegative_float, nonnegative_int, positive_int
from ptycho_cli.errors import EXIT_OK, UserError
from ptycho_cli.progress import steps
from ptycho_cli.refine_network import TARGETS, finetuned_start, require_torch_bundle

__all__ = ["add_refine_parser", "add_refine_infer_flags", "cmd_refine", "cmd_infer_then_refine"]

_DEVICES = ("auto", "cpu", "cuda")

#: Plain inference's files and the names they keep when refinement writes the final answer beside them
#: (specs/cli.md §4: the folder's reconstructed_object.npz is always the final answer).
NETWORK_RENAMES = {"reconstructed_object.npz": "network_object.npz",
                   "reconstructed_amplitude.png": "network_amplitude.png",
                   "reconstructed_phase.png": "network_phase.png",
                   "reconstruction.png": "network_reconstruction.png"}
_LIKELIHOODS = ("poisson", "gaussian")


def add_refine_parser(sub: argparse._SubParsersAction, common: Any) -> None:
    """The ``refine`` subcommand; ``common`` adds --debug/--quiet like the other subcommands."""
    p = sub.add_parser("refine", help="maximum-likelihood refinement from a flat start (no model)",
                       description="Iterative maximum-likelihood reconstruction of a scan from a flat object "
                                   "(illumination-preconditioned steps; optional probe and position refinement). "
                                   "Writes the object like 'ptycho infer', a convergence log and figure.")
    p.add_argument("--test-data", "--test_data", dest="test_data", required=True, metavar="NPZ", help="scan (.npz)")
    p.add_argument("--output-dir", "--output_dir", dest="output_dir", required=True, metavar="DIR",
                   help="folder for reconstructed_object.npz, PNGs and refine_log.*")
    p.add_argument("--refine-iterations", "--iterations", dest="iterations", type=nonnegative_int, default=None,
                   metavar="K",
                   help="most passes over the scan (default: RefineOptions' cap; the stopping rule may end earlier)")
    p.add_argument("--probe-modes", dest="probe_modes", type=positive_int, default=None, metavar="K",
                   help="incoherent probe modes to refine with (default: the scan's probe, one mode or its (K, N, N) "
                        "stack); K > 1 from a one-mode probe starts from K orthogonal Hermite-like modes")
    _solver_flags(p, short_aliases=True)
    hide_spellings(p, *(f"--{name}" for name in SHORT_SPELLINGS))
    common(p, suppress=True)


#: the solver flags' short spellings, accepted (hidden) by ``ptycho refine`` for the --refine-* names
SHORT_SPELLINGS = ("iterations", "likelihood", "device", "batch-size", "batch-start", "tolerance", "subpixel", "seed")


def _solver_flags(p: argparse.ArgumentParser, short_aliases: bool = False) -> None:
    """Solver flags, the same ``--refine-*`` names on ``ptycho refine`` and ``ptycho infer`` (specs/cli.md §8);
    ``short_aliases``: ``ptycho refine`` also accepts its former spellings (--iterations, --likelihood, ...),
    hidden from its usage."""

    def names(name: str) -> list[str]:
        return [f"--refine-{name}", *([f"--{name}"] if short_aliases else [])]

    p.add_argument("--refine-probe", dest="refine_probe", action="store_true",
                   help="also refine the probe (from iteration 1)")
    p.add_argument("--refine-positions", dest="refine_positions", action="store_true",
                   help="also refine the sub-pixel scan positions (from iteration 2)")
    p.add_argument(*names("likelihood"), dest="refine_likelihood", choices=_LIKELIHOODS, default=None,
                   help="noise model that sets the step length (default poisson)")
    p.add_argument(*names("device"), dest="refine_device", choices=_DEVICES, default=None,
                   help="auto (default: CUDA when present, else CPU), cpu, cuda")
    p.add_argument(*names("batch-size"), dest="refine_batch_size", type=positive_int, default=None, metavar="B",
                   help="largest patterns per update (default: the whole scan, reached by doubling from "
                        "--refine-batch-start; full-scan passes take conjugate-gradient steps)")
    p.add_argument(*names("batch-start"), dest="refine_batch_start", type=positive_int, default=None, metavar="B",
                   help="patterns per update in the first pass, doubled every pass (default 16)")
    p.add_argument(*names("tolerance"), dest="refine_tolerance", type=nonnegative_float, default=None,
                   metavar="TOL", help="stop after 5 passes in a row that each change the object by less than TOL "
                                       "relative (default 0.003; 0 runs every pass)")
    p.add_argument(*names("subpixel"), dest="refine_subpixel", choices=("object", "probe"), default=None,
                   help="sub-pixel model: probe (default, RefineOptions.subpixel; shifted probe, cheaper) or object "
                        "(band-limited shift of the object window; 2-3x the cost, better on sharp objects)")
    p.add_argument(*names("seed"), dest="refine_seed", type=nonnegative_int, default=None, metavar="SEED",
                   help="seed of the batch order (default 0)")


def add_refine_infer_flags(p: argparse.ArgumentParser) -> None:
    """``--refine-iterations K`` and friends on ``ptycho infer``."""
    p.add_argument("--refine-iterations", dest="refine_iterations", type=positive_int, default=None, metavar="K",
                   help="after inference, refine the network's object with K maximum-likelihood passes: "
                        "OUTPUT_DIR/reconstructed_object.npz is then the refined object, the network's own "
                        "result stays beside it as network_object.npz")
    p.add_argument("--refine-target", dest="refine_target", choices=TARGETS, default=None,
                   help="what the K passes update: object (default: the network's stitched object), network "
                        "(fine-tune the PyTorch network's weights on the scan, then stitch), or both (K network "
                        "passes, then K object passes)")
    p.add_argument("--probe-modes", dest="probe_modes", type=positive_int, default=None, metavar="K",
                   help="incoherent probe modes the object refinement uses, as 'ptycho refine --probe-modes' "
                        "(default: the scan's probe, one mode or its (K, N, N) stack; K > 1 from a one-mode probe "
                        "starts from K orthogonal Hermite-like modes)")
    _solver_flags(p)


def _options(args: argparse.Namespace, iterations: int | None) -> Any:
    from ptycho_torch.refine import RefineOptions

    device = args.refine_device or "auto"
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UserError("device cuda: expected a CUDA device, found none (torch.cuda.is_available() is False)")
    kw: dict[str, Any] = {"refine_probe": bool(args.refine_probe),
                          "refine_positions": bool(args.refine_positions), "device": device}
    if iterations is not None:
        kw["iterations"] = int(iterations)
    for dest, field in (("refine_likelihood", "likelihood"), ("refine_batch_size", "batch_size"),
                        ("refine_seed", "seed"), ("refine_batch_start", "batch_start"),
                        ("refine_tolerance", "tolerance"), ("refine_subpixel", "subpixel")):
        value = getattr(args, dest, None)
        if value is not None:
            kw[field] = value
    return RefineOptions(**kw)


def _load_scan(path: str | Path) -> dict[str, Any]:
    """``ptycho_torch.refine.scan.load_scan`` (PyTorch imported only when a refinement runs)."""
    from ptycho_torch.refine.scan import load_scan

    return load_scan(path)


def _run(scan: dict[str, Any], options: Any, out_dir: Path, start: tuple[np.ndarray, Any] | None,
         quiet: bool, network_log: dict[str, Any] | None = None, keep_network: bool = False) -> dict[str, Any]:
    """Refine ``scan`` (from ``start`` or a flat object) and write the files into ``out_dir``. ``keep_network``:
    ``out_dir`` holds plain inference's files, renamed by :func:`set_network_aside` before the refined ones take
    the plain names (and renamed back if writing them fails)."""
    from ptycho_cli.refine_outputs import write_refinement
    from ptycho_torch.refine import refine
    from ptycho_torch.refine.start import embed_start

    obj = origin = None
    n = scan["diffraction"].shape[-1]
    if start is not None:
        margin = 4 + (options.subpixel_margin if options.subpixel == "object" else 0)
        obj, origin = embed_start(start[0], start[1], scan["positions"], n, margin)
    # one line per pass in a pipe, a redrawn line on a terminal (stderr); the total is the cap, the stopping
    # rule may end the run earlier
    with steps(int(options.iterations), "refining: pass", enabled=not quiet) as shown:
        result = refine(scan["diffraction"], scan["positions"], scan["probe"], obj, origin, scale=scan["scale"],
                        options=options, on_iteration=lambda row: shown.step(nll=float(row["nll"])))
    moved = set_network_aside(out_dir) if keep_network else {}
    try:
        written = write_refinement(out_dir, result, scan, options, network_log)
    except BaseException:
        for plain, aside in moved.items():
            os.replace(aside, plain)  # write_refinement removed its own files: plain inference's layout again
        raise
    print(f"refined={out_dir.resolve()} iterations={len(result.history)} "
          f"nll={result.initial_nll:.6g}->{result.final_nll:.6g}", flush=True)
    return written


def set_network_aside(out_dir: Path) -> dict[Path, Path]:
    """Rename plain inference's files in ``out_dir`` to :data:`NETWORK_RENAMES` (atomic renames, replacing a
    previous run's); returns {plain path: new path} of those present."""
    moved = {}
    for plain, aside in NETWORK_RENAMES.items():
        if (out_dir / plain).is_file():
            os.replace(out_dir / plain, out_dir / aside)
            moved[out_dir / plain] = out_dir / aside
    return moved


def cmd_refine(args: argparse.Namespace, extra: list[str]) -> int:
    """``ptycho refine``: flat start, no model."""
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--output-dir {out}: expected a folder, found a file")
    options = _options(args, args.iterations)
    options.validate()
    scan = _load_scan(args.test_data)
    modes = getattr(args, "probe_modes", None)
    if modes is not None:
        scan["probe"] = _probe_modes(scan["probe"], int(modes), args.test_data)
    _run(scan, options, out, None, bool(getattr(args, "quiet", False)))
    return EXIT_OK


def _probe_modes(probe: np.ndarray, k: int, source: str) -> np.ndarray:
    """The start probe of ``--probe-modes K`` (specs/refinement.md §10): a one-mode probe split into K orthogonal
    Hermite-like modes of its power (K = 1: itself); a (K, N, N) stack kept when K matches, else refused."""
    from ptycho_torch.refine.modes import initial_modes

    if probe.ndim == 3:
        if probe.shape[0] != k:
            raise UserError(f"--probe-modes {k}: expected the {probe.shape[0]} modes of {source}'s probeGuess "
                            f"(or no --probe-modes), found {k}")
        return probe
    return probe if k == 1 else initial_modes(probe, k)


def _network_start(out_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(stitched object, origin_xy) from the ``reconstructed_object.npz`` plain inference wrote in ``out_dir``
    (either backend)."""
    from ptycho_cli.evaluation import load_reconstruction

    path = out_dir / "reconstructed_object.npz"
    if not path.is_file():
        raise UserError(f"{out_dir}: expected reconstructed_object.npz from inference, found none")
    obj, origin = load_reconstruction(path)
    if origin is None:
        raise UserError(f"{path}: key 'origin_xy': expected the canvas origin to place the start object, found none")
    return obj, origin


def cmd_infer_then_refine(args: argparse.Namespace, extra: list[str]) -> int:
    """``ptycho infer``, then (with ``--refine-iterations``) refinement of its object: OUTPUT_DIR's
    ``reconstructed_object.npz`` becomes the refined object, the network's own is kept as ``network_object.npz``."""
    from ptycho_cli.delegate import cmd_infer

    k = getattr(args, "refine_iterations", None)
    if k is None:
        for flag, dest in (("--refine-probe", "refine_probe"), ("--refine-positions", "refine_positions"),
                           ("--refine-likelihood", "refine_likelihood"), ("--refine-device", "refine_device"),
                           ("--refine-batch-size", "refine_batch_size"), ("--refine-seed", "refine_seed"),
                           ("--refine-batch-start", "refine_batch_start"), ("--refine-tolerance", "refine_tolerance"),
                           ("--refine-subpixel", "refine_subpixel"), ("--refine-target", "refine_target"),
                           ("--probe-modes", "probe_modes")):
            if getattr(args, dest, None) not in (None, False):
                raise UserError(f"{flag}: needs --refine-iterations K")
        return cmd_infer(args, extra)
    target = getattr(args, "refine_target", None) or "object"
    if target == "network" and (args.refine_probe or args.refine_positions):
        raise UserError("--refine-probe/--refine-positions: expected --refine-target object or both "
                        "(they refine the object's probe and positions), found --refine-target network")
    modes = getattr(args, "probe_modes", None)
    if target == "network" and modes is not None:
        raise UserError("--probe-modes: expected --refine-target object or both (the modes are the object "
                        "refinement's), found --refine-target network")
    options = _options(args, k if target != "network" else 0)
    options.validate()
    net_options = _network_options(options, k) if target != "object" else None
    if net_options is not None:
        require_torch_bundle(args)
    scan = None
    if modes is not None:  # checked against the scan's probe before inference writes anything
        scan = _load_scan(args.test_data)
        scan["probe"] = _probe_modes(scan["probe"], int(modes), args.test_data)
    code = cmd_infer(args, extra)
    if code != EXIT_OK:
        return code
    out = Path(args.output_dir)
    scan = scan if scan is not None else _load_scan(args.test_data)
    quiet = bool(getattr(args, "quiet", False))
    if net_options is None:
        _run(scan, options, out, _network_start(out), quiet, keep_network=True)
        return EXIT_OK
    with steps(int(net_options.iterations), "refining the network: pass", enabled=not quiet) as shown:
        canvas, origin, history, before, after = finetuned_start(
            args.model_path, args.test_data, net_options, out, lambda row: shown.step(nll=float(row["nll"])))
    log = {"target": target, "options": dataclasses.asdict(net_options), "initial_nll": before,
           "final_nll": after, "history": history}
    _run(scan, options, out, (canvas, origin), quiet, log, keep_network=True)
    return EXIT_OK


def _network_options(options: Any, iterations: int) -> Any:
    """Network fine-tuning options of ``--refine-target network|both``: K passes, the solver's likelihood,
    seed and device, batch 16 (the training recipe's)."""
    from ptycho_torch.refine import NetworkOptions

    net = NetworkOptions(iterations=int(iterations), likelihood=options.likelihood, seed=options.seed,
                         device=options.device)
    net.validate()
    return net
