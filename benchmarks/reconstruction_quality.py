"""Reconstruction quality on the real task: train on one half of a realistic scan, reconstruct the other.

Usage:
    python benchmarks/reconstruction_quality.py [--objects siemens,natural | --benchmark-scans all] [--train-minutes 14]
        [--ptychi-iterations 20] [--train-args "--gridsize 2"] [--probe zoneplate|fresnel]
        [--output-dir reconstruction_quality_output] [--quick]

For each object (issue 14, item 1; pieces in benchmarks/realistic.py):

1. simulate a realistic scan (N = 64, 2000 jittered Fermat positions, 1e6 photons, Poisson, a probe
   with phase structure, a 384^2 object with amplitude and phase, band-limited patch extraction);
2. split it spatially (train: y < centre; test: the rest) into contract NPZ files without ground truth;
3. train through the product's entry point, ``ptycho train --backend pytorch`` as a subprocess
   (its default recipe, ``--nphotons`` of the scan, ``--max-time`` from ``--train-minutes`` when the
   CLI has it, plus ``--train-args``); reconstruct the test half with the trained bundle (the
   inference path of ``ptycho infer``) and stitch the predicted patches with the CLI's bilinear
   stitcher, with the band-limited one (``reassemble_position(..., interpolation='fourier')``), and
   with the band-limited one after phase synchronisation (``ptycho.physics.phase_sync_factors``:
   per-patch phase constants, which a single far-field pattern cannot fix, recovered from the overlaps);
4. score every result with ``ptycho.metrics.evaluate`` (registered SSIM / PSNR / FRC50 of amplitude
   and phase) on one window: the largest rectangle of object pixels covered by the test positions'
   central 20 x 20 crops; floors in the same table: a flat object, and the TRUE patches stitched back
   (bilinear and Fourier: the ceiling any patch-wise method can reach through that stitcher);
5. the iterative anchor: pty-chi LSQML (optional dependency, benchmarks/requirements.txt) with the
   true probe and true positions on the test half's data, scored after 1, 2, 5, 10, 20 iterations
   (SSIM against wall time); and pty-chi's forward model on the true object against our data.

Prints one markdown table per object; writes ``<output-dir>/<object>/reconstructions.png`` (truth
and reconstructions, amplitude and phase, on the scoring window) and ``<output-dir>/results.json``.
Timings are also given as time x the float32 matmul rate measured in the same run (TFLOP-equivalents:
what the machine could have multiplied in that time), which carries across machines better than seconds.
``--quick``: a 400-position scan of a 192^2 object, 1 minute of training, 5 pty-chi iterations, to
check that the script works (about 3 minutes on 2 idle cores; the numbers mean little).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402
from correction_heads import NoProjectedInput  # noqa: E402
from network_canvas import network_canvas  # noqa: E402

M_STITCH = 20
#: a wider crop, scored beside the inference crop: with a refined estimate as input (specs/network.md §8.3) the
#: patches agree in one frame, and averaging more of each one smooths the corrections
M_WIDE = 48
CHECKPOINTS = (1, 2, 5, 10, 20, 50, 100)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--objects", default="siemens,natural", help="comma-separated object kinds (default siemens,natural)")
    p.add_argument("--benchmark-scans", default="", metavar="I,J",
                   help="indices into realistic.BENCHMARK_SCANS (probe, object and scan pattern each; neutral model) "
                        "or 'all'; replaces --objects/--probe/--seed")
    p.add_argument("--train-minutes", type=float, default=14.0, help="training budget passed as --max-time (default 14)")
    p.add_argument("--ptychi-iterations", type=int, default=20, help="LSQML iterations (default 20; 0 = skip)")
    p.add_argument("--ptychi-batch-size", type=int, default=0, help="LSQML batch size (default: test positions // 30, >= 16)")
    p.add_argument("--train-args", default="", help="extra flags for ptycho train, one quoted string")
    p.add_argument("--probe", choices=("zoneplate", "fresnel"), default="zoneplate", help="probe kind (default zoneplate)")
    p.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    p.add_argument("--output-dir", default="reconstruction_quality_output", help="where results go")
    p.add_argument("--skip-network", action="store_true", help="floors and pty-chi only")
    p.add_argument("--refine-passes", type=int, default=10,
                   help="object refinement passes from the network's stitch and from flat, scored after 1, 2, 5, "
                        "10, ... passes (default 10; 0 = skip)")
    p.add_argument("--quick", action="store_true", help="small scan, 1 min training, 5 pty-chi iterations")
    args = p.parse_args(argv)
    if args.quick:
        args.train_minutes = min(args.train_minutes, 1.0)
        args.ptychi_iterations = min(args.ptychi_iterations, 5)
    if args.train_minutes <= 0 or args.ptychi_iterations < 0:
        p.error("--train-minutes must be > 0 and --ptychi-iterations >= 0")
    return args


def _scans(args: argparse.Namespace) -> list[tuple[str, R.ScanSpec | None]]:
    """(folder name, spec or None) per scan: the benchmark scans chosen by --benchmark-scans, else --objects."""
    if not args.benchmark_scans:
        return [(k.strip(), None) for k in args.objects.split(",") if k.strip()]
    picks = range(len(R.BENCHMARK_SCANS)) if args.benchmark_scans == "all" else \
        [int(v) for v in args.benchmark_scans.split(",")]
    return [(R.BENCHMARK_SCANS[i].label.replace("/", "_"), R.BENCHMARK_SCANS[i]) for i in picks]


def _max_time(minutes: float) -> str:
    total = max(1, int(round(minutes * 60)))
    d, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d:02d}:{h:02d}:{m:02d}:{s:02d}"


def _cli_has_max_time() -> bool:
    out = subprocess.run([sys.executable, "-m", "ptycho_cli", "train", "--help"], capture_output=True, text=True)
    return "--max-time" in out.stdout or "--max_time" in out.stdout


def _row(name: str, seconds: float | None, metrics: dict[str, Any], rate: float, note: str = "") -> dict[str, Any]:
    row = {"method": name, "seconds": seconds, "tflop_equiv": None if seconds is None else seconds * rate / 1e12,
           "note": note}
    row.update(R.headline(metrics))
    return row


def _cell(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(title: str, rows: list[dict[str, Any]]) -> str:
    head = ("| method | wall s | × matmul (TFLOP-eq) | amp SSIM | amp PSNR | amp FRC50 | phase SSIM | phase PSNR "
            "| phase FRC50 |\n|---|---|---|---|---|---|---|---|---|")
    lines = [f"### {title}", "", head]
    for r in rows:
        sec = "–" if r["seconds"] is None else f"{r['seconds']:.1f}"
        tf = "–" if r["tflop_equiv"] is None else f"{r['tflop_equiv']:.2f}"
        cells = [_cell(r[k], d) for k, d in (("amp_ssim", 3), ("amp_psnr", 1), ("amp_frc50", 1), ("phase_ssim", 3),
                                               ("phase_psnr", 1), ("phase_frc50", 1))]
        lines.append(f"| {r['method']} | {sec} | {tf} | " + " | ".join(cells) + " |")
    lines += ["", "FRC50: `ptycho.metrics.evaluate`'s first 0.5 crossing in rings (cycles per window side), searched "
              "from ring 2 (specs/metrics.md §4.2); 0 means ring 2 is already below 0.5."]
    return "\n".join(lines)


def _figure(path: Path, panels: list[tuple[str, np.ndarray]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ptycho.atomic_io import atomic_write

    fig, axes = plt.subplots(2, len(panels), figsize=(3.2 * len(panels), 6.0), squeeze=False)
    truth = panels[0][1]
    for j, (name, img) in enumerate(panels):
        overlap = np.sum(img * np.conj(truth))  # display with the global phase offset removed (as the metric)
        img = img * np.exp(-1j * np.angle(overlap)) if abs(overlap) > 0 else img
        amp = axes[0, j].imshow(np.abs(img), cmap="gray")
        axes[0, j].set_title(f"{name}\namplitude", fontsize=8)
        fig.colorbar(amp, ax=axes[0, j], fraction=0.046)
        ph = axes[1, j].imshow(np.angle(img), cmap="viridis")
        axes[1, j].set_title("phase (rad)", fontsize=8)
        fig.colorbar(ph, ax=axes[1, j], fraction=0.046)
        for a in axes[:, j]:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=90)
    plt.close(fig)


def _train(args: argparse.Namespace, work: Path, scan: dict[str, np.ndarray], has_max_time: bool) -> float:
    cmd = [sys.executable, "-m", "ptycho_cli", "train", "--backend", "pytorch",
           "--train_data_file", str(work / "data" / "train.npz"), "--output_dir", str(work / "model"),
           "--nphotons", repr(float(scan["nphotons"]))]
    if has_max_time:
        cmd += ["--max-time", _max_time(args.train_minutes)]
    elif args.quick and "epoch" not in args.train_args:
        cmd += ["--max_epochs", "2"]
    cmd += shlex.split(args.train_args)
    print("  $ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    log = work / "train.log"
    t = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-3:]
        raise SystemExit(f"reconstruction_quality: ptycho train failed (exit {proc.returncode}, log {log}): "
                         + " | ".join(tail))
    return seconds


def refinement_from_start(case: R.Case, canvas: np.ndarray, origin: Any, passes: int,
                          rate: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Object refinement of the test half (``RefineOptions`` defaults, exactly ``passes`` passes: no stopping rule)
    from the network's stitched object and from a flat start, scored after 1, 2, 5, 10, ... passes.

    Returns table rows and ``{"network": curve, "flat": curve, "passes_to_flat_final": k}``, where ``k`` is the
    first pass at which the network start is within 0.005 of both SSIMs the flat start has after ``passes`` passes
    (None if never): fewer than ``passes`` means the network's start saves refinement work.
    """
    from refinement_realistic import Bench, refine_curve

    bench = Bench(case)
    origin_xy = tuple(int(v) for v in np.floor(np.asarray(origin, dtype=float) + 0.5))
    net, _ = refine_curve(bench, passes, obj=canvas, origin=origin_xy, tolerance=0.0)
    flat, _ = refine_curve(bench, passes, tolerance=0.0)
    final = flat[-1]
    reach = next((c["iteration"] for c in net if c["amp_ssim"] >= final["amp_ssim"] - 0.005
                  and c["phase_ssim"] >= final["phase_ssim"] - 0.005), None)
    rows = []
    for label, curve in (("network start", net), ("flat start", flat)):
        for c in curve:
            if c["iteration"] not in (1, 2, 5, 10, 20, 50, passes):
                continue
            rows.append({"method": f"refinement from {label}, {c['iteration']} passes", "seconds": c["time_s"],
                         "tflop_equiv": c["time_s"] * rate / 1e12, "note": "", "amp_ssim": c["amp_ssim"],
                         "phase_ssim": c["phase_ssim"], "amp_psnr": None, "amp_frc50": None,
                         "phase_psnr": None, "phase_frc50": None})
    print(f"  refinement: the network start reaches the flat start's {passes}-pass SSIM "
          f"({final['amp_ssim']:.3f} / {final['phase_ssim']:.3f}, within 0.005) after "
          f"{reach if reach is not None else 'more than ' + str(passes)} passes", flush=True)
    return rows, {"network": net, "flat": flat, "passes_to_flat_final": reach}


def run_object(kind: str, args: argparse.Namespace, rate: float, has_max_time: bool,
               spec: R.ScanSpec | None = None) -> dict[str, Any]:
    """One scan: ``spec`` (a benchmark scan) or ``ScanSpec(kind, --probe, --seed)``; ``kind`` names its folder."""
    quick = {"n_positions": 400, "object_size": 192} if args.quick else {}
    if spec is None:
        spec = R.ScanSpec(object_kind=kind, probe_kind=args.probe, seed=args.seed, **quick)
    elif quick:
        spec = dataclasses.replace(spec, **quick)
    work = Path(args.output_dir) / kind
    t = time.perf_counter()
    case = R.prepare(spec, work / "data", M=M_STITCH)
    scan, train_idx, test_idx, pos, window = case.scan, case.train, case.test, case.test_positions, case.window
    truth = case.truth
    r0, r1, c0, c1 = window
    print(f"{kind}: {len(train_idx)} train / {len(test_idx)} test positions, scoring window rows {r0}:{r1} "
          f"cols {c0}:{c1} (simulated in {time.perf_counter() - t:.1f} s)", flush=True)
    rows: list[dict[str, Any]] = []
    panels: list[tuple[str, np.ndarray]] = [("truth", truth[r0:r1, c0:c1])]

    flat = np.ones((r1 - r0, c1 - c0), np.complex64)
    rows.append(_row("flat object (floor)", None, R.score(flat, truth, window, register=False), rate))
    for interp in ("bilinear", "fourier"):
        canvas, origin = R.stitch(scan["Y"][test_idx], pos, M=M_STITCH, interpolation=interp)
        rows.append(_row(f"true patches, {interp} stitch (ceiling)", None,
                         R.score(R.window_of(canvas, origin, window), truth, window), rate))

    result: dict[str, Any] = {"spec": dataclasses.asdict(spec), "window": list(window),
                              "n_train": int(len(train_idx)), "n_test": int(len(test_idx))}
    if not args.skip_network:
        train_s = _train(args, work, scan, has_max_time)
        t = time.perf_counter()
        patches, offsets = R.network_patches(work / "model", work / "data" / "test.npz", M=M_STITCH)
        infer_s = time.perf_counter() - t
        from ptycho.physics import phase_sync_factors

        t = time.perf_counter()
        synced = patches * phase_sync_factors(patches, offsets, M=32)[:, None, None].astype(np.complex64)
        sync_s = time.perf_counter() - t
        variants = (("bilinear stitch (as ptycho infer)", patches, "bilinear"),
                    ("fourier stitch", patches, "fourier"),
                    ("phase-synced, fourier stitch", synced, "fourier"))
        for label, p, interp in variants:
            canvas, origin = R.stitch(p, offsets, M=M_STITCH, interpolation=interp)
            recon = R.window_of(canvas, origin, window)
            rows.append(_row(f"network, {label}", train_s, R.score(recon, truth, window), rate,
                             note=f"training wall time; inference {infer_s:.1f} s, phase sync {sync_s:.1f} s"))
            panels.append((f"network, {label}", recon))
        t = time.perf_counter()
        canvas, origin = network_canvas(work / "model", work / "data" / "test.npz", M=M_STITCH)
        canvas_s = time.perf_counter() - t
        recon = R.window_of(canvas, origin, window)
        rows.append(_row("network, ptycho infer's canvas", train_s, R.score(recon, truth, window), rate,
                         note=f"training wall time; inference {canvas_s:.1f} s"))
        panels.append(("network, ptycho infer's canvas", recon))
        canvas, origin = R.stitch(patches, offsets, M=M_WIDE, interpolation="bilinear")
        rows.append(_row(f"network, bilinear stitch of the central {M_WIDE} px", train_s,
                         R.score(R.window_of(canvas, origin, window), truth, window), rate))
        try:  # the physics estimate the CNN corrects: its share of the score is not the network's
            est, est_offsets = R.network_patches(work / "model", work / "data" / "test.npz", M=M_STITCH,
                                                 estimate_only=True)
        except NoProjectedInput:
            est = None
        if est is not None:
            canvas, origin = R.stitch(est, est_offsets, M=M_STITCH, interpolation="bilinear")
            recon = R.window_of(canvas, origin, window)
            rows.append(_row("estimate alone (correction heads zeroed), bilinear stitch", None,
                             R.score(recon, truth, window), rate))
            panels.append(("estimate alone", recon))
        if args.refine_passes:
            canvas, origin = R.stitch(patches, offsets, M=M_STITCH, interpolation="fourier")
            start_rows, result["refine_from_start"] = refinement_from_start(case, canvas, origin, args.refine_passes,
                                                                            rate)
            rows += start_rows
        result["network"] = {"train_seconds": train_s, "infer_seconds": infer_s, "phase_sync_seconds": sync_s,
                             "max_time": _max_time(args.train_minutes) if has_max_time else None,
                             "train_args": args.train_args}

    if args.ptychi_iterations:
        try:
            R.import_ptychi()
        except ImportError as exc:
            print(f"  pty-chi not installed ({exc}); see benchmarks/requirements.txt", flush=True)
        else:
            check = R.ptychi_forward_check(scan, test_idx)
            print(f"  pty-chi forward model vs ours (true object): rel. error {check['integer_positions']:.1e} at "
                  f"integer positions, {check['scan_positions']:.3f} at the scan's sub-pixel positions "
                  f"({check['smooth_probe_scan_positions']:.3f} with a smooth Gaussian probe; Poisson noise "
                  f"{check['poisson_noise']:.3f})", flush=True)
            # ~30 batches per epoch: on the 1001-position Siemens test half (zone plate) batch 32 reached
            # amplitude / phase SSIM 0.46 / 0.50 after 10 iterations, batch 100 0.38 / 0.17 (RESULTS.md)
            batch = args.ptychi_batch_size or max(16, len(test_idx) // 30)
            run = R.PtychiRun(scan, test_idx, truth.shape, batch_size=batch, seed=args.seed)
            curve = []
            for target in [c for c in CHECKPOINTS if c < args.ptychi_iterations] + [args.ptychi_iterations]:
                run.run(target - run.iterations)
                metrics = R.score(run.object()[r0:r1, c0:c1], truth, window)
                rows.append(_row(f"pty-chi LSQML, {run.iterations} it", run.seconds, metrics, rate,
                                 note=f"batch {batch}"))
                curve.append({"iterations": run.iterations, "seconds": run.seconds, **R.headline(metrics)})
            panels.append((f"pty-chi ({run.iterations} it)", run.object()[r0:r1, c0:c1]))
            result["ptychi"] = {"forward_check": check, "batch_size": batch, "curve": curve}

    _figure(work / "reconstructions.png", panels)
    result["rows"] = rows
    print(_table(f"{kind} ({'quick' if args.quick else 'full'}; probe {spec.probe_kind}, scan {spec.scan})", rows), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch

    from ptycho.atomic_io import save_json_atomic

    rate = R.matmul_rate()
    has_max_time = _cli_has_max_time()
    print(f"float32 matmul rate {rate / 1e9:.1f} GFLOP/s ({torch.get_num_threads()} torch threads); "
          f"ptycho train --max-time {'available' if has_max_time else 'NOT available: training runs its default epochs'}",
          flush=True)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"matmul_flops": rate, "torch_threads": torch.get_num_threads(),
                               "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "args": vars(args),
                               "objects": {}}
    for kind, spec in _scans(args):
        results["objects"][kind] = run_object(kind, args, rate, has_max_time, spec)
        save_json_atomic(out / "results.json", results)
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
