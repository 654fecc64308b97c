"""Mixed-state probes: refinement with K = 3 incoherent modes against K = 1 and against pty-chi (issue 28).

Usage:  OMP_NUM_THREADS=1 python benchmarks/multimode.py [--n-positions 2000] [--iterations 60]
            [--ptychi-iterations 30] [--ptychi-batches 96,256] [--threads 1] [--output-dir multimode_output]

Scan: the first neutral benchmark scan (``realistic.BENCHMARK_SCANS[0]``: Siemens star, defocused zone plate, Fermat
spiral, 1e6 photons, neutral 'finegrid' model, specs/simulation.md §6) made partially coherent: 3 incoherent modes
with powers 0.7 / 0.2 / 0.1 (``simulate(probe_modes=3, mode_powers=...)``, specs/simulation.md §7). Every solver
reconstructs the unseen test half (``realistic.split_scan``) from a flat start with the true positions, scored by
``realistic.score`` (registered SSIM on the well-covered window) after every pass.

Rows:

* ``ours K=3 true``: ``refine`` with the scan's 3 modes, fixed (``RefineOptions()`` defaults: its own cap and stop);
* ``ours K=1``: one coherent probe, the primary mode scaled to the total power (the best one-mode guess that knows
  the beam's power), fixed; ``ours K=1 +probe``: the same with probe refinement (the one mode may adapt);
* ``ours K=3 +probe``: modes not known: 3 Hermite-like modes of the scaled primary mode
  (``refine.modes.initial_modes``, powers 0.72 / 0.22 / 0.06), refined and orthogonalised every pass;
* ``pty-chi K=3 true bB <variant>``: pty-chi LSQML with the 3 true modes fixed, batch B, ``--ptychi-iterations``
  epochs (best epoch reported), with pty-chi's default settings (its object preconditioner and step sizes use the
  first mode only) or ``all-modes`` (:func:`all_modes`); ``pty-chi K=1 bB``: the one-mode probe of ``ours K=1``
  (a control: pty-chi's one-mode speed on this scan); ``pty-chi K=3 +probe bB all-modes``: from the same Hermite-like
  start as ours, modes refined (orthogonalised by pty-chi every epoch).

Also printed: pty-chi's forward model with the true object and modes against our probe-shift model's incoherent counts
(the conventions check of ``realistic.ptychi_forward_check``, for modes): pty-chi 2.2.0 moves only the first mode by
the sub-pixel part of a position (:func:`forward_check`). Times: each solver's own passes (scoring
excluded), one process, one solver at a time, ``--threads`` torch threads.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402
from bench_options import add_run_options  # noqa: E402
from refinement_neutral import best_point, comparison_figure  # noqa: E402
from refinement_realistic import Bench  # noqa: E402

POWERS = (0.7, 0.2, 0.1)
#: within this of the anchor's SSIMs counts as reaching it (as benchmarks/refinement_neutral.py)
TOLERANCE = 0.003


def prepare(n_positions: int) -> R.Case:
    """The 3-mode version of ``BENCHMARK_SCANS[0]``, split like every benchmark scan."""
    from ptycho.simulation import simulate

    spec = dataclasses.replace(R.BENCHMARK_SCANS[0], n_positions=n_positions)
    scan = simulate(object_kind=spec.object_kind, N=spec.N, n_positions=spec.n_positions, nphotons=spec.nphotons,
                    probe_kind=spec.probe_kind, jitter=spec.jitter, object_size=spec.object_size, seed=spec.seed,
                    scan=spec.scan, interpolation=spec.interpolation, probe_modes=3, mode_powers=list(POWERS))
    train, test = R.split_scan(scan)
    pos = np.stack([scan["xcoords"][test], scan["ycoords"][test]], axis=1)
    return R.Case(spec, scan, train, test, pos, R.scoring_window(pos, scan["objectGuess"].shape), {})


def one_mode(modes: np.ndarray) -> np.ndarray:
    """The primary mode scaled to the total power of all modes, (N, N) complex64."""
    total = np.sum(np.abs(modes.astype(np.complex128)) ** 2)
    return (modes[0] * np.sqrt(total / np.sum(np.abs(modes[0].astype(np.complex128)) ** 2))).astype(np.complex64)


def ours(bench: Bench, probe: np.ndarray, **kw: Any) -> tuple[list[dict[str, float]], np.ndarray]:
    """``refine`` from flat with ``probe`` (K modes or one), scored after every pass; (curve, scored window)."""
    from ptycho_torch.refine import RefineOptions, refine

    curve: list[dict[str, float]] = []

    def snap(res: Any) -> None:
        a, p = bench.score(res.object, res.origin_xy)
        curve.append({"iteration": len(res.history), "time_s": res.history[-1]["time_s"], "amp_ssim": a,
                      "phase_ssim": p, "nll": res.history[-1]["nll"]})

    res = refine(bench.diffraction, bench.positions, probe, scale=bench.scale, options=RefineOptions(**kw),
                 on_result=snap)
    return curve, R.window_of(res.object, res.origin_xy, bench.case.window)


def all_modes(opts: Any) -> None:
    """pty-chi's LSQML settings that use every mode where its defaults use the first: the object preconditioner
    (``build_preconditioner_with_all_modes``) and the step sizes (``solve_step_sizes_only_using_first_probe_mode``)."""
    opts.object_options.build_preconditioner_with_all_modes = True
    opts.reconstructor_options.solve_step_sizes_only_using_first_probe_mode = False


def ptychi(bench: Bench, probe: np.ndarray, iterations: int, batch: int, optimise: bool,
           variant: str = "default") -> tuple[list[dict[str, float]], np.ndarray]:
    """pty-chi LSQML from flat with ``probe`` ((K, N, N) incoherent modes or (N, N)), scored after every epoch;
    ``variant`` 'default' (pty-chi's settings) or 'all-modes' (:func:`all_modes`). Returns (curve, scored window
    of the best epoch)."""
    case = bench.case
    scan = {**case.scan, "probeGuess": probe}
    run = R.PtychiRun(scan, case.test, case.truth.shape, batch_size=batch, probe_optimizable=optimise,
                      configure=all_modes if variant == "all-modes" else None)
    curve: list[dict[str, float]] = []
    r0, r1, c0, c1 = case.window
    best = None
    for it in range(1, iterations + 1):
        run.run(1)
        a, p = bench.score(run.object(), (0, 0))
        curve.append({"iteration": it, "time_s": run.seconds, "amp_ssim": a, "phase_ssim": p})
        if best_point(curve) is curve[-1]:
            best = run.object()[r0:r1, c0:c1]
    return curve, best


def forward_check(case: R.Case, count: int = 64) -> tuple[float, float]:
    """pty-chi's intensities (true object and modes) against our probe-shift model's incoherent counts on ``count``
    test patterns: (relative error with every mode moved by the sub-pixel part, with only mode 0 moved).

    pty-chi 2.2.0's forward model shifts only the first mode (``shift_unique_probes(..., first_mode_only=True)``);
    the second number (round-off when the conventions of ``realistic.PtychiRun`` hold) shows that this is the only
    difference, the first what it costs on this scan.
    """
    import torch

    from ptycho.simulation.models import probe_shift_amplitudes

    idx = case.test[:count]
    scan = case.scan
    run = R.PtychiRun(scan, idx, scan["objectGuess"].shape, initial_object=scan["objectGuess"])
    with torch.no_grad():
        pred = run.task.reconstructor.forward_model.forward(torch.arange(len(idx))).cpu().numpy()
    pred = np.fft.fftshift(pred.astype(np.float64), axes=(-2, -1))
    pos = np.stack([scan["xcoords"][idx], scan["ycoords"][idx]], axis=1)
    obj, modes, n = scan["objectGuess"], scan["probeGuess"], scan["probeGuess"].shape[-1]
    s2 = float(scan["sim_intensity_scale"]) ** 2
    every = s2 * sum(probe_shift_amplitudes(obj, m, pos, n) ** 2 for m in modes)
    first = s2 * (probe_shift_amplitudes(obj, modes[0], pos, n) ** 2
                  + sum(probe_shift_amplitudes(obj, m, np.round(pos), n) ** 2 for m in modes[1:]))
    return tuple(float(np.linalg.norm(pred - c) / np.linalg.norm(c)) for c in (every, first))  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-positions", type=int, default=2000)
    p.add_argument("--iterations", type=int, default=60, help="cap on our passes (RefineOptions default 60)")
    p.add_argument("--ptychi-iterations", type=int, default=60)
    p.add_argument("--ptychi-batches", default="32,96")
    p.add_argument("--ptychi-variants", default="default,all-modes",
                   help="pty-chi settings for the 3 true modes: default and/or all-modes (see all_modes)")
    p.add_argument("--skip-ours", action="store_true", help="only the pty-chi rows")
    p.add_argument("--no-controls", action="store_true", help="without the pty-chi K=1 and +probe rows")
    add_run_options(p, threads=1, seed=None)
    p.add_argument("--output-dir", default="multimode_output")
    args = p.parse_args(argv)
    import torch

    from ptycho_torch.refine.modes import initial_modes

    torch.set_num_threads(args.threads)
    R.import_ptychi()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    case = prepare(args.n_positions)
    bench = Bench(case)
    modes = case.scan["probeGuess"]
    single = one_mode(modes)
    start3 = initial_modes(single, 3)
    every, first = forward_check(case)
    print(f"scan: {case.spec.label}, 3 modes {POWERS}, test half {len(case.test)} patterns; pty-chi's forward model "
          f"(true object) against ours: relative error {every:.2e} (every mode shifted), {first:.2e} (only mode 0 "
          "shifted, as pty-chi does)", flush=True)
    runs: dict[str, list[dict[str, float]]] = {}
    pictures: list[tuple[str, np.ndarray]] = []
    ours_rows = [("ours K=3 true", modes, {}), ("ours K=1", single, {}),
                 ("ours K=1 +probe", single, {"refine_probe": True}),
                 ("ours K=3 +probe", start3, {"refine_probe": True})]
    for name, probe, kw in [] if args.skip_ours else ours_rows:
        runs[name], picture = ours(bench, probe, iterations=args.iterations, **kw)
        pictures.append((name, picture))
        print(f"  {name}: {json.dumps(runs[name][-1])}", flush=True)
    pc_rows = [(f"pty-chi K=3 true b{b} {v}", modes, int(b), False, v)
               for v in args.ptychi_variants.split(",") for b in args.ptychi_batches.split(",")]
    first = int(args.ptychi_batches.split(",")[0])
    if not args.no_controls:
        pc_rows += [(f"pty-chi K=1 b{first}", single, first, False, "default"),
                    (f"pty-chi K=3 +probe b{first} all-modes", start3, first, True, "all-modes")]
    for name, probe, batch, optimise, variant in pc_rows:
        runs[name], picture = ptychi(bench, probe, args.ptychi_iterations, batch, optimise, variant)
        pictures.append((name, picture))
        print(f"  {name}: {json.dumps(best_point(runs[name]))}", flush=True)
    anchor = max((n for n in runs if n.startswith("pty-chi K=3 true")),
                  key=lambda n: best_point(runs[n])["amp_ssim"] + best_point(runs[n])["phase_ssim"], default=None)
    target = best_point(runs[anchor]) if anchor else None
    r0, r1, c0, c1 = case.window
    # the figure: our four rows and the best pty-chi 3-mode row (every scored window is kept in windows.npz)
    shown = [(n, w) for n, w in pictures if n.startswith("ours") or n == anchor]
    comparison_figure(out / "multimode.png", case.truth[r0:r1, c0:c1], shown)
    np.savez(out / "windows.npz", truth=case.truth[r0:r1, c0:c1], **{n: w for n, w in pictures})
    print()
    print(f"anchor: {anchor} (best epoch); 'to anchor' = first pass with both SSIMs within {TOLERANCE} of it")
    print("| run | passes | amp SSIM | phase SSIM | seconds | seconds to anchor |")
    print("|---|---|---|---|---|---|")
    for name, curve in runs.items():
        row = best_point(curve) if name.startswith("pty-chi") else curve[-1]
        what = f"{row['iteration']} (best of {len(curve)})" if name.startswith("pty-chi") else str(row["iteration"])
        hit = None if target is None else next((c for c in curve if c["amp_ssim"] >= target["amp_ssim"] - TOLERANCE
                                                and c["phase_ssim"] >= target["phase_ssim"] - TOLERANCE), None)
        to = "never" if hit is None else f"{hit['time_s']:.1f} ({hit['iteration']})"
        print(f"| {name} | {what} | {row['amp_ssim']:.3f} | {row['phase_ssim']:.3f} | {row['time_s']:.1f} | {to} |")
    (out / "results.json").write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
