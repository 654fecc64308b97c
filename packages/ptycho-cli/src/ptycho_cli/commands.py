"""Framework-free subcommands: ``simulate``, ``validate``, ``evaluate`` (specs/cli.md §2, §5)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ptycho_cli.errors import EXIT_OK, EXIT_USAGE, UserError, one_line
from ptycho_cli.progress import is_quiet, stage

__all__ = ["cmd_simulate", "cmd_validate", "cmd_evaluate", "simulate_to", "format_metrics_table"]


def simulate_to(path: str | Path, *, object_kind: str = "lines", N: int = 64, n_positions: int = 512,
                scan: str = "fermat", nphotons: float = 1e9, seed: int = 1, probe_kind: str = "zoneplate",
                jitter: float = 1.0, interpolation: str = "finegrid", oversample: int = 4, probe_modes: int = 1,
                mode_powers: list[float] | None = None) -> dict[str, Any]:
    """Simulate a scan and write it atomically at ``path`` after a contract check (defaults: the realistic scan
    of :data:`ptycho_cli.recipe.REALISTIC_SCAN`; ``probe_modes`` K > 1: a (K, N, N) mixed-state probe).

    Returns a summary dict (path, M, N, object size, photons, seed, scan). Raises UserError for bad
    choices (unknown object/scan kind, N outside 64/128/256, probe modes outside 1..32) and a name not ending in
    ``.npz``; missing folders on the path follow the command line's output rule (specs/cli.md §1.1).
    """
    from ptycho.data_contract import ALLOWED_N, validate_npz
    from ptycho.simulation import MEASUREMENT_MODELS, OBJECT_KINDS, PROBE_KINDS, SCAN_KINDS, write_simulation

    if object_kind not in OBJECT_KINDS:
        raise UserError(f"--object: expected one of {', '.join(OBJECT_KINDS)}, found {object_kind!r}")
    if scan not in SCAN_KINDS:
        raise UserError(f"--scan: expected one of {', '.join(SCAN_KINDS)}, found {scan!r}")
    if probe_kind not in PROBE_KINDS:
        raise UserError(f"--probe: expected one of {', '.join(PROBE_KINDS)}, found {probe_kind!r}")
    if interpolation not in MEASUREMENT_MODELS:
        raise UserError(f"--interpolation: expected one of {', '.join(MEASUREMENT_MODELS)}, found {interpolation!r}")
    if N not in ALLOWED_N:
        raise UserError(f"--N: expected one of {', '.join(map(str, ALLOWED_N))}, found {N}")
    if not 1 <= probe_modes <= 32:
        raise UserError(f"--probe-modes: expected an integer between 1 and 32, found {probe_modes}")
    if mode_powers is not None and len(mode_powers) != probe_modes:
        raise UserError(f"--mode-powers: expected {probe_modes} comma-separated positive numbers (one per mode of "
                        f"--probe-modes {probe_modes}), found {len(mode_powers)}")
    target = Path(path)
    if target.is_dir():
        raise UserError(f"--output {target}: expected a file path, found a directory")
    if target.suffix.lower() != ".npz":
        raise UserError(f"--output {target}: expected a file name ending in .npz, found {target.suffix or 'no suffix'!r}")
    with stage(f"simulating {n_positions} positions ({object_kind}, N={N})"):
        write_simulation(target, object_kind=object_kind, N=N, n_positions=n_positions, scan=scan,
                         nphotons=nphotons, seed=seed, probe_kind=probe_kind, jitter=jitter,
                         interpolation=interpolation, oversample=oversample, probe_modes=probe_modes,
                         mode_powers=mode_powers)
    data = validate_npz(target)
    obj = data["objectGuess"]
    return {"path": str(target), "M": int(data["M"]), "N": int(data["N"]), "object_shape": list(obj.shape),
            "nphotons": float(nphotons), "seed": int(seed), "scan": scan, "object": object_kind, "probe": probe_kind,
            "probe_modes": int(probe_modes)}


def cmd_simulate(args: argparse.Namespace, extra: list[str]) -> int:
    info = simulate_to(args.output, object_kind=args.object_kind, N=args.N, n_positions=args.n_positions,
                       scan=args.scan, nphotons=args.nphotons, seed=args.seed, probe_kind=args.probe_kind,
                       jitter=args.jitter, interpolation=args.interpolation, oversample=args.oversample,
                       probe_modes=args.probe_modes, mode_powers=args.mode_powers)
    modes = f" ({info['probe_modes']} modes)" if info["probe_modes"] > 1 else ""
    print(f"wrote {info['path']}: {info['M']} positions ({info['scan']} scan), N={info['N']}, "
          f"{info['object']} object {info['object_shape'][0]}x{info['object_shape'][1]}, {info['probe']} probe{modes}, "
          f"nphotons={info['nphotons']:g}, seed={info['seed']}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace, extra: list[str]) -> int:
    """Print ``<file>: OK (...)`` or the ContractError line per file; 2 if any failed."""
    from ptycho.data_contract import ContractError, validate_npz

    failed = 0
    for name in args.files:
        try:
            data = validate_npz(name)
        except ContractError as exc:
            failed += 1
            print(one_line(exc), flush=True)
            continue
        parts = [f"{data['M']} positions", f"N={data['N']}"]
        if data["probeGuess"].ndim == 3:
            parts.append(f"{data['probeGuess'].shape[0]} probe modes")
        if data["objectGuess"] is not None:
            parts.append("objectGuess {}x{}".format(*data["objectGuess"].shape))
        print(f"{name}: OK ({', '.join(parts)})", flush=True)
    if failed:
        print(f"ptycho validate: {failed} of {len(args.files)} file(s) failed", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def format_metrics_table(metrics: dict[str, Any]) -> str:
    """Fixed-width table: one row per metric, columns amplitude and phase."""
    amp = metrics.get("amplitude") or {}
    ph = metrics.get("phase") or {}
    names = [k for k in ("ssim", "ms_ssim", "psnr", "mae", "mse", "frc50", "frc_1_7", "frc_half_bit")
             if k in amp or k in ph]

    def fmt(v: Any) -> str:
        return f"{float(v):>12.4f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{'-':>12}"

    lines = [f"{'metric':<12}{'amplitude':>12}{'phase':>12}", "-" * 36]
    lines += [f"{name:<12}{fmt(amp.get(name))}{fmt(ph.get(name))}" for name in names]
    return "\n".join(lines)


def cmd_evaluate(args: argparse.Namespace, extra: list[str]) -> int:
    from ptycho_cli.evaluation import evaluate_files, load_ground_truth, load_reconstruction

    load_reconstruction(args.reconstruction)  # bad inputs fail before any progress output
    load_ground_truth(args.ground_truth)
    with stage("evaluating", enabled=None if not is_quiet() else False):
        metrics = evaluate_files(args.reconstruction, args.ground_truth, args.output_dir,
                                 register=args.register, phase_align=args.phase_align)
    print(format_metrics_table(metrics))
    print(f"wrote {metrics['files']['metrics']} and {metrics['files']['comparison']}")
    return EXIT_OK
