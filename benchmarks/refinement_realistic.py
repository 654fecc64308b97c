"""Refinement on the realistic scan's unseen half: flat start, network start, network fine-tuning, pty-chi LSQML.

Usage:  OMP_NUM_THREADS=2 python benchmarks/refinement_realistic.py [--train-minutes 3] [--iterations 30]
            [--aux-iterations 30] [--network-passes 3] [--ptychi-iterations 20] [--threads 2] [--output-dir refinement_realistic_output]
            [--rows flat,network,finetune,both,ptychi,positions,probe,memory] [--model DIR]

Scan: ``benchmarks/realistic.py``'s ``prepare`` (Siemens star, N = 64, 2000 jittered Fermat positions, zone-plate
probe, 1e6 photons, band-limited extraction, seed 1), split spatially; the network is trained on the train half by
``ptycho train --backend pytorch --max-time`` (``--train-minutes``; or an existing run folder ``--model``) and every
method reconstructs the unseen test half, scored by ``realistic.score`` (registered SSIM) on the same window.
Rows, all in this process with ``--threads`` torch threads:

* ``flat``: object refinement (``ptycho_torch.refine.refine``, default options) from a flat start;
* ``network``: the trained network's stitched object (inference time counted), then object refinement;
* ``finetune``: the network's weights fine-tuned on the test half (``finetune_network``), its stitch scored after
  every pass (the ``--refine-target network`` path);
* ``both``: ``--network-passes`` fine-tuning passes, then object refinement from that stitch;
* ``ptychi``: pty-chi LSQML (true probe and positions, like ours) for ``--ptychi-iterations``;
* ``positions``: flat start, positions perturbed by 1 px RMS, refined; RMS error after;
* ``probe``: flat start, probe 20 % too wide, refined; correlation with the true probe after;
* ``memory``: peak RSS of a refinement with probe and positions over the RSS before it (after one warm-up pass
  on 16 patterns, so one-time library loading is not counted), against the stack and the model's size.

Curves are scored after the passes in ``CHECKPOINTS``; times exclude scoring. The summary gives, per method, the time to reach pty-chi's final SSIM (amplitude and phase
both at least as high), and its ratio to pty-chi's time, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402
from bench_options import add_run_options  # noqa: E402

M_STITCH = 20
#: passes after which a curve is scored (and the last one); scoring time is excluded from the curves' times
CHECKPOINTS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50)


def time_to_reach(curve: list[dict[str, float]], amp: float, phase: float) -> float | None:
    """Seconds of the first curve point with amp_ssim >= ``amp`` and phase_ssim >= ``phase`` (None if never)."""
    for point in curve:
        if point["amp_ssim"] >= amp and point["phase_ssim"] >= phase:
            return float(point["time_s"])
    return None


def position_rms(positions: np.ndarray, truth: np.ndarray) -> float:
    """RMS distance (px) between ``positions`` and ``truth`` (K, 2) after removing the mean offset (the object's)."""
    err = np.asarray(positions, np.float64) - np.asarray(truth, np.float64)
    err = err - err.mean(0)
    return float(np.sqrt((err ** 2).sum(1).mean()))


def probe_correlation(probe: np.ndarray, truth: np.ndarray) -> float:
    """|<P, P_true>| / (|P| |P_true|): 1 for the true probe up to a complex factor."""
    return float(abs(np.vdot(probe, truth)) / np.linalg.norm(probe) / np.linalg.norm(truth))


def perturbed_positions(positions: np.ndarray, rms: float, seed: int) -> np.ndarray:
    """``positions`` plus random errors of exactly ``rms`` px RMS with zero mean."""
    rng = np.random.default_rng(seed)
    err = rng.normal(0.0, 1.0, positions.shape)
    err -= err.mean(0)
    err *= rms / np.sqrt((err ** 2).sum(1).mean())
    return positions + err


class Bench:
    """The prepared case and the scoring of one canvas."""

    def __init__(self, case: Any) -> None:
        self.case = case
        scan, test = case.scan, case.test
        self.diffraction = np.ascontiguousarray(scan["diffraction"][test])
        self.positions = case.test_positions
        self.probe = scan["probeGuess"].astype(np.complex64)
        self.scale = float(scan["sim_intensity_scale"])

    def score(self, canvas: np.ndarray, origin: Any) -> tuple[float, float]:
        m = R.headline(R.score(R.window_of(canvas, origin, self.case.window), self.case.truth, self.case.window))
        return m["amp_ssim"], m["phase_ssim"]


def refine_curve(bench: Bench, iterations: int, obj=None, origin=None, t_start: float = 0.0,
                 **kw: Any) -> tuple[list[dict[str, float]], Any]:
    """Object refinement with a score after every pass; times start at ``t_start`` (e.g. inference)."""
    from ptycho_torch.refine import RefineOptions, refine

    curve: list[dict[str, float]] = []
    if obj is not None:
        a, p = bench.score(obj, origin)
        curve.append({"iteration": 0, "time_s": t_start, "amp_ssim": a, "phase_ssim": p})

    def snap(res: Any) -> None:
        if len(res.history) not in CHECKPOINTS and len(res.history) != iterations:
            return
        a, p = bench.score(res.object, res.origin_xy)
        row = {"iteration": len(res.history), "time_s": t_start + res.history[-1]["time_s"], "amp_ssim": a,
               "phase_ssim": p, "nll": res.history[-1]["nll"]}
        if kw.get("refine_positions"):
            row["position_rms_px"] = position_rms(res.positions, bench.positions)
        if kw.get("refine_probe"):
            row["probe_corr"] = probe_correlation(res.probe, bench.probe)
        curve.append(row)

    positions = kw.pop("positions", bench.positions)
    probe = kw.pop("probe", bench.probe)
    if obj is not None:
        from ptycho_torch.refine.start import embed_start

        obj, origin = embed_start(obj, origin, positions, bench.diffraction.shape[-1])
    res = refine(bench.diffraction, positions, probe, obj, origin, scale=bench.scale,
                 options=RefineOptions(iterations=iterations, **kw), on_result=snap)
    return curve, res


def network_canvas(model_dir: Path, test_npz: Path, module: Any = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(stitched canvas, origin, seconds) of the bundle's network (or of ``module``) on the test half."""
    from ptycho.raw_data import RawData
    from ptycho_torch.bundle import load_inference_bundle_torch
    from ptycho_torch.stitching import canvas_origin
    from ptycho_torch.workflows.inference_config import build_inference_config
    from ptycho_torch.workflows.reassembly import reassemble_cdi_image_torch

    t = time.perf_counter()
    models, tc = load_inference_bundle_torch(model_dir)
    if module is not None:
        models = {**models, "lightning_module": module}
    config = build_inference_config(tc, model_dir, test_npz, model_dir / "infer", None)
    execution = {"accelerator": "cpu", "inference_batch_size": 64, "num_workers": 0}
    _, _, res = reassemble_cdi_image_torch(RawData.from_file(str(test_npz)), config, M=M_STITCH, models=models,
                                           execution_config=execution)
    canvas = res["stitched_obj"]
    return canvas, canvas_origin(res["global_offsets"], canvas.shape[0], M_STITCH), time.perf_counter() - t


def finetune_curve(bench: Bench, model_dir: Path, test_npz: Path, passes: int, seed: int,
                   t_start: float) -> tuple[list[dict[str, float]], Any]:
    """Fine-tune the network on the test half; score its stitch after every pass. Returns (curve, module)."""
    from ptycho.raw_data import RawData
    from ptycho_torch.bundle import load_inference_bundle_torch
    from ptycho_torch.data import create_ptycho_data_container
    from ptycho_torch.refine import NetworkOptions, finetune_network
    from ptycho_torch.workflows.inference_config import build_inference_config

    models, tc = load_inference_bundle_torch(model_dir)
    module = models["lightning_module"]
    config = build_inference_config(tc, model_dir, test_npz, model_dir / "infer", None)
    container = create_ptycho_data_container(RawData.from_file(str(test_npz)), config,
                                             intensity_scale=float(models.get("intensity_scale") or module.intensity_scale))
    curve: list[dict[str, float]] = []
    elapsed = t_start
    for it in range(passes):
        hist = finetune_network(module, container, NetworkOptions(iterations=1, seed=seed + it))
        elapsed += hist[-1]["time_s"]
        canvas, origin, infer_s = network_canvas(model_dir, test_npz, module)
        a, p = bench.score(canvas, origin)
        curve.append({"iteration": it + 1, "time_s": elapsed + infer_s, "amp_ssim": a, "phase_ssim": p,
                      "nll": hist[-1]["nll"], "canvas": (canvas, origin)})
    return curve, module


def memory_row(bench: Bench, model_dir: Path | None) -> dict[str, float]:
    """Peak RSS of 3 passes with probe and positions above the RSS before them (VmHWM reset), MB."""
    from ptycho_torch.refine import RefineOptions, refine

    refine(bench.diffraction[:16], bench.positions[:16], bench.probe, scale=bench.scale,
           options=RefineOptions(iterations=1, refine_probe=True, refine_positions=True, probe_start=0, position_start=0))
    with open("/proc/self/clear_refs", "w") as fh:  # Linux: reset the high-water mark (VmHWM) to the current RSS
        fh.write("5")
    base = _status_mb("VmRSS")
    refine(bench.diffraction, bench.positions, bench.probe, scale=bench.scale,
           options=RefineOptions(iterations=3, refine_probe=True, refine_positions=True, position_start=1))
    peak = _status_mb("VmHWM")
    model_mb = (model_dir / "wts.h5.zip").stat().st_size / 2**20 if model_dir else 0.0
    return {"stack_mb": bench.diffraction.nbytes / 2**20, "model_file_mb": model_mb, "base_rss_mb": base,
            "peak_rss_mb": peak, "increase_mb": peak - base}


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} missing from /proc/self/status")


def ptychi_curve(bench: Bench, iterations: int, seed: int) -> list[dict[str, float]]:
    case = bench.case
    batch = max(16, len(case.test) // 30)  # as benchmarks/reconstruction_quality.py
    run = R.PtychiRun(case.scan, case.test, case.truth.shape, batch_size=batch, seed=seed)
    curve = []
    for it in [c for c in CHECKPOINTS if c < iterations] + [iterations]:
        run.run(it - run.iterations)
        a, p = bench.score(run.object(), (0, 0))
        curve.append({"iteration": it, "time_s": run.seconds, "amp_ssim": a, "phase_ssim": p})
    return curve


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-minutes", type=float, default=3.0)
    p.add_argument("--model", type=Path, default=None, help="existing training run folder (skips training)")
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--aux-iterations", type=int, default=30, help="passes of the positions and probe rows")
    p.add_argument("--network-passes", type=int, default=3)
    p.add_argument("--ptychi-iterations", type=int, default=20)
    add_run_options(p)
    p.add_argument("--rows", default="flat,network,finetune,both,ptychi,positions,probe,memory")
    p.add_argument("--output-dir", type=Path, default=Path("refinement_realistic_output"))
    return p.parse_args(argv)


def _print_curve(name: str, curve: list[dict[str, Any]]) -> None:
    """One markdown table of a curve."""
    extra = [k for k in ("nll", "position_rms_px", "probe_corr") if curve and k in curve[-1]]
    print(f"\n{name}\n| iteration | seconds | amp SSIM | phase SSIM |" + "".join(f" {k} |" for k in extra))
    print("|---|---|---|---|" + "---|" * len(extra))
    for c in curve:
        print(f"| {c['iteration']} | {c['time_s']:.1f} | {c['amp_ssim']:.3f} | {c['phase_ssim']:.3f} |"
              + "".join(f" {c[k]:.4g} |" if k in c else " - |" for k in extra), flush=True)


def main(argv: list[str] | None = None) -> int:
    import torch

    args = _parse(argv)
    torch.set_num_threads(args.threads)
    # Lightning (the network rows) must be imported before pty-chi: realistic.import_ptychi may stub
    # torchvision with a spec-less module, which Lightning's package check cannot handle
    import ptycho_torch.model  # noqa: F401
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    case = R.prepare(R.ScanSpec(object_kind="siemens"), out / "data", M=M_STITCH)
    bench = Bench(case)
    print(f"scan: {len(case.train)} train / {len(case.test)} test positions, window {case.window}, "
          f"prepared in {time.perf_counter() - t:.1f} s; torch threads {args.threads}; "
          f"matmul {R.matmul_rate(args.threads) / 1e9:.1f} GFLOP/s; load average {os.getloadavg()[0]:.1f}", flush=True)
    curves: dict[str, list[dict[str, Any]]] = {}
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "curves": curves}
    test_npz = case.files["test"]
    model_dir = args.model
    needs_model = any(r in rows for r in ("network", "finetune", "both"))
    if needs_model and model_dir is None:
        import reconstruction_quality as Q

        model_dir = out / "model"
        ns = types.SimpleNamespace(train_minutes=args.train_minutes, quick=False, train_args="")
        result["train_s"] = Q._train(ns, out, case.scan, True)
        print(f"trained {result['train_s']:.0f} s (budget {args.train_minutes} min)", flush=True)
    if "ptychi" in rows:
        curves["ptychi"] = ptychi_curve(bench, args.ptychi_iterations, args.seed)
        _print_curve("pty-chi LSQML", curves["ptychi"])
        _summary(result, out, quiet=True)
    if "flat" in rows:
        curves["flat"], _ = refine_curve(bench, args.iterations, seed=args.seed)
        _print_curve("flat start + object refinement", curves["flat"])
        _summary(result, out, quiet=True)
    if "network" in rows:
        canvas, origin, infer_s = network_canvas(model_dir, test_npz)
        result["inference_s"] = infer_s
        curves["network"], _ = refine_curve(bench, args.iterations, canvas, origin, t_start=infer_s, seed=args.seed)
        _print_curve(f"network start (inference {infer_s:.1f} s) + object refinement", curves["network"])
        _summary(result, out, quiet=True)
    if "finetune" in rows or "both" in rows:
        ft, _ = finetune_curve(bench, model_dir, test_npz, args.network_passes, args.seed, 0.0)
        canvas, origin = ft[-1].pop("canvas")
        for c in ft:
            c.pop("canvas", None)
        curves["finetune"] = ft
        _print_curve("network fine-tuned on the test half (score of its stitch)", ft)
        _summary(result, out, quiet=True)
        if "both" in rows:
            curves["both"], _ = refine_curve(bench, args.iterations, canvas, origin, t_start=ft[-1]["time_s"],
                                             seed=args.seed)
            _print_curve(f"both: {args.network_passes} network passes, then object refinement", curves["both"])
            _summary(result, out, quiet=True)
    if "positions" in rows:
        start = perturbed_positions(bench.positions, 1.0, args.seed + 1)
        curves["positions"], res = refine_curve(bench, args.aux_iterations, positions=start, refine_positions=True,
                                                seed=args.seed)
        _print_curve("positions 1 px RMS, refined (flat start)", curves["positions"])
        _summary(result, out, quiet=True)
    if "probe" in rows:
        from refinement import wide_probe

        curves["probe"], _ = refine_curve(bench, args.aux_iterations, probe=wide_probe(bench.probe), refine_probe=True,
                                          seed=args.seed)
        _print_curve("probe 20 % too wide, refined (flat start)", curves["probe"])
        _summary(result, out, quiet=True)
    if "memory" in rows:
        result["memory"] = memory_row(bench, model_dir)
        print("\nmemory: " + json.dumps(result["memory"]), flush=True)
    _summary(result, out)
    return 0


def _summary(result: dict[str, Any], out: Path, quiet: bool = False) -> None:
    """Print the time-to-pty-chi's-SSIM ratios (when pty-chi ran) and write results.json (after every row)."""
    curves = result["curves"]
    if "ptychi" in curves:
        ref = curves["ptychi"][-1]
        say = (lambda *a, **k: None) if quiet else print
        say(f"\npty-chi {ref['iteration']} it: {ref['amp_ssim']:.3f} / {ref['phase_ssim']:.3f} in {ref['time_s']:.1f} s",
              flush=True)
        summary = {}
        for name, curve in curves.items():
            reach = time_to_reach(curve, ref["amp_ssim"], ref["phase_ssim"])
            summary[name] = None if reach is None else reach / ref["time_s"]
            say(f"  {name}: reaches it at {'never' if reach is None else f'{reach:.1f} s'}"
                  + ("" if reach is None else f" = {reach / ref['time_s']:.2f} x pty-chi's time"), flush=True)
        result["ratio_to_ptychi"] = summary
    (out / "results.json").write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    raise SystemExit(main())
