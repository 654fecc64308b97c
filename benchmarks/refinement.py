"""Maximum-likelihood refinement (``ptycho_torch.refine``): SSIM against wall time, position and probe recovery.

Usage:  OMP_NUM_THREADS=2 python benchmarks/refinement.py [--positions 512] [--iterations 30] [--threads 2]
            [--scan SCAN.npz] [--bundle RUN_DIR] [--device cpu] [--rows flat,network,positions,probe,memory]
            [--object-size S] [--json out.json]

Scan: ``--scan`` (a contract NPZ with ``objectGuess``), else ``ptycho.simulation.simulate`` of the realistic kind
(Siemens star, N = 64, zone-plate probe with phase structure, 1-px position jitter, band-limited sub-pixel
extraction, 1e6 photons, Fermat scan of ``--positions`` points, seed ``--seed``). Rows, each in its own process
(so its peak RSS is its own):

* ``flat``: flat start, ``--iterations`` passes; SSIM at checkpoints against the accumulated iteration time;
* ``network``: the stitched object of the trained PyTorch bundle ``--bundle`` (inference in-process, its time
  reported) as the start; skipped without ``--bundle``;
* ``positions``: positions perturbed by random errors of 1 px RMS (mean removed), flat start, positions
  refined from iteration 2; RMS error before/after (mean offset removed: a common shift is the object's);
* ``probe``: the true probe magnified by 1.2 about its centre (20 % too wide, same power), flat start, probe
  refined from iteration 1; correlation |<P, P_true>| / (|P| |P_true|) before/after;
* ``memory``: 3 passes with probe and position refinement and no scoring; the RSS high-water mark is reset
  just before (``/proc/self/clear_refs``), so its peak is the solver's own, next to the RSS it started from.

Scoring: ``ptycho.metrics.evaluate`` (registration, amplitude scale, phase plane) on the ground-truth window
the fidelity benchmark uses for a stitched network output: the union of the 20 x 20 stitching crops around the
positions, its bounding box shrunk until fully covered, then by 5 px per side. Memory: peak RSS of the row's
process (``ru_maxrss``) and its increase over the RSS after loading the scan and importing torch, next to the
size of the diffraction stack. The realistic scan's unseen half, the network-fine-tuning rows and the pty-chi
LSQML column are ``benchmarks/refinement_realistic.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_options import add_run_options  # noqa: E402

from ptycho.physics.patches import STITCH_M

CHECKPOINTS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50, 75, 100)


def score_window(positions: np.ndarray, shape: tuple[int, int], M: int = STITCH_M) -> tuple[int, int, int, int]:
    """(r0, r1, c0, c1) in object pixels: covered box of the M x M crops, shrunk until covered, then by M//4."""
    cov = np.zeros(shape, bool)
    for x, y in np.round(positions).astype(int):
        cov[max(y - M // 2, 0):max(y + M // 2, 0), max(x - M // 2, 0):max(x + M // 2, 0)] = True
    rows, cols = np.nonzero(cov)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    while r1 - r0 > 8 and c1 - c0 > 8 and not cov[r0:r1, c0:c1].all():
        r0, r1, c0, c1 = r0 + 1, r1 - 1, c0 + 1, c1 - 1
    m = M // 4
    return int(r0 + m), int(r1 - m), int(c0 + m), int(c1 - m)


def score(obj: np.ndarray, origin_xy, truth: np.ndarray, positions: np.ndarray) -> tuple[float, float]:
    """Amplitude and phase SSIM of a canvas whose pixel (0, 0) is at integer object coordinates ``origin_xy``."""
    from ptycho.metrics import evaluate

    r0, r1, c0, c1 = score_window(positions, truth.shape)
    x0, y0 = int(origin_xy[0]), int(origin_xy[1])
    ev = evaluate(obj[r0 - y0:r1 - y0, c0 - x0:c1 - x0], truth[r0:r1, c0:c1])
    return ev["amplitude"]["ssim"], ev["phase"]["ssim"]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def hwm_mb() -> float:
    """Peak RSS since the last reset of /proc/self/clear_refs (VmHWM), MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


def wide_probe(probe: np.ndarray, factor: float = 1.2) -> np.ndarray:
    """``probe`` magnified by ``factor`` about its centre (cubic spline), rescaled to the same power."""
    from scipy import ndimage

    n = probe.shape[0]
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    src = [c + (yy - c) / factor, c + (xx - c) / factor]
    out = ndimage.map_coordinates(probe.real, src, order=3) + 1j * ndimage.map_coordinates(probe.imag, src, order=3)
    return (out * np.sqrt((np.abs(probe) ** 2).sum() / (np.abs(out) ** 2).sum())).astype(np.complex64)


def _network_start(bundle: str, scan_path: str, device: str) -> tuple[np.ndarray, np.ndarray, float, tuple]:
    from pathlib import Path as P

    from ptycho.raw_data import RawData
    from ptycho_torch.stitching import canvas_origin
    from ptycho_torch.workflows.components import _reassemble_cdi_image_torch, load_inference_bundle_torch
    from ptycho_torch.workflows.inference_config import build_inference_config

    t0 = time.perf_counter()
    models, tc = load_inference_bundle_torch(P(bundle))
    raw = RawData.from_file(scan_path)
    config = build_inference_config(tc, P(bundle), P(scan_path), P(tempfile.mkdtemp()), None)
    _, _, results = _reassemble_cdi_image_torch(raw, config, M=STITCH_M, models=models)
    canvas = results["stitched_obj"]
    origin = canvas_origin(results["global_offsets"], canvas.shape[0], STITCH_M)
    return canvas, origin, time.perf_counter() - t0, (tc.model.N, tc.model.gridsize)


def run_row(row: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    from ptycho_torch.refine import RefineOptions, refine
    from ptycho_torch.refine.scan import load_scan
    from ptycho_torch.refine.start import embed_start

    scan = load_scan(args.scan_path)
    with np.load(args.scan_path) as z:
        truth = z["objectGuess"]
    true_pos = scan["positions"]
    base_rss = rss_mb()
    out: dict[str, Any] = {"row": row, "K": int(len(true_pos)), "N": int(scan["diffraction"].shape[-1]),
                           "diffraction_mb": scan["diffraction"].nbytes / 2**20}
    positions, probe, obj, origin = true_pos, scan["probe"], None, None
    kw: dict[str, Any] = {}
    if row == "network":
        canvas, net_origin, seconds, model = _network_start(args.bundle, args.scan_path, args.device)
        out["inference_s"] = seconds
        out["model"] = {"N": model[0], "gridsize": model[1]}
        obj, origin = embed_start(canvas, net_origin, positions, out["N"])
        base_rss = rss_mb()
    if row == "positions":
        rng = np.random.default_rng(args.seed + 1)
        err = rng.normal(0.0, 1.0 / np.sqrt(2.0), true_pos.shape)
        err -= err.mean(0)
        err *= 1.0 / np.sqrt((err ** 2).sum(1).mean())  # exactly 1 px RMS
        positions = true_pos + err
        kw["refine_positions"] = True
    if row == "probe":
        probe = wide_probe(scan["probe"])
        kw["refine_probe"] = True
    if row == "memory":
        out["peak_rss_before_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with open("/proc/self/clear_refs", "w") as fh:  # Linux: reset the high-water mark (VmHWM) to the current RSS
            fh.write("5")
        base_rss = rss_mb()
        opts = RefineOptions(iterations=3, batch_size=args.batch_size, device=args.device, refine_probe=True,
                             refine_positions=True, position_start=1)
        refine(scan["diffraction"], positions, probe, scale=scan["scale"], options=opts)
        out.update(curve=[], peak_rss_mb=hwm_mb(), base_rss_mb=base_rss)
        if args.device.startswith("cuda"):
            out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        return out

    def pos_rms(p: np.ndarray) -> float:
        e = p - true_pos
        e = e - e.mean(0)
        return float(np.sqrt((e ** 2).sum(1).mean()))

    def corr(p: np.ndarray) -> float:
        t = scan["probe"]
        return float(abs(np.vdot(p, t)) / np.linalg.norm(p) / np.linalg.norm(t))

    curve: list[dict[str, float]] = []

    def snapshot(res: Any) -> None:
        it = len(res.history)
        if it in CHECKPOINTS or it == args.iterations:
            a, p = score(res.object, res.origin_xy, truth, true_pos)
            entry = {"iteration": it, "time_s": res.history[-1]["time_s"], "nll": res.history[-1]["nll"],
                     "amp_ssim": a, "phase_ssim": p}
            if row == "positions":
                entry["position_rms_px"] = pos_rms(res.positions)
            if row == "probe":
                entry["probe_corr"] = corr(res.probe)
            curve.append(entry)

    opts = RefineOptions(iterations=args.iterations, batch_size=args.batch_size, device=args.device, seed=args.seed, **kw)
    start = refine(scan["diffraction"], positions, probe, obj, origin, scale=scan["scale"],
                   options=RefineOptions(iterations=0, device=args.device))
    a0, p0 = score(start.object, start.origin_xy, truth, true_pos)
    curve.append({"iteration": 0, "time_s": 0.0, "nll": start.initial_nll, "amp_ssim": a0, "phase_ssim": p0})
    res = refine(scan["diffraction"], positions, probe, obj, origin, scale=scan["scale"], options=opts,
                 on_result=snapshot)
    out["curve"] = curve
    out["final_nll"] = res.final_nll
    if row == "positions":
        out["position_rms_before_px"] = pos_rms(positions)
        out["position_rms_after_px"] = pos_rms(res.positions)
        # by distance from the scan centre: the Siemens star's fine structure (position information) is central
        err = res.positions - true_pos
        err = np.sqrt(((err - err.mean(0)) ** 2).sum(1))
        dist = np.sqrt(((true_pos - true_pos.mean(0)) ** 2).sum(1))
        out["position_rms_by_radius"] = [
            {"from_px": lo, "to_px": hi, "count": int(((dist >= lo) & (dist < hi)).sum()),
             "rms_px": float(np.sqrt((err[(dist >= lo) & (dist < hi)] ** 2).mean()))}
            for lo, hi in ((0, 40), (40, 70), (70, 10_000)) if ((dist >= lo) & (dist < hi)).any()]
    if row == "probe":
        out["probe_corr_before"] = corr(probe)
        out["probe_corr_after"] = corr(res.probe)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["base_rss_mb"] = base_rss
    if args.device.startswith("cuda"):
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def truth_nll(args: argparse.Namespace) -> float:
    """NLL of the true object (what a perfect fit of the noise-free model scores; the fit goes below it)."""
    from ptycho_torch.refine import RefineOptions, refine
    from ptycho_torch.refine.scan import load_scan

    scan = load_scan(args.scan_path)
    with np.load(args.scan_path) as z:
        truth = z["objectGuess"]
    pad = scan["diffraction"].shape[-1] // 2  # room for the (N + 32) sub-pixel windows at the object's edge
    res = refine(scan["diffraction"], scan["positions"], scan["probe"], np.pad(truth, pad, constant_values=1.0),
                 (-pad, -pad), scale=scan["scale"], options=RefineOptions(iterations=0))
    return res.initial_nll


def print_tables(rows: list[dict[str, Any]], truth: float) -> None:
    print(f"NLL of the true object (per element, counts): {truth:.6g}")
    for r in rows:
        if "skipped" in r:
            print(f"\n{r['row']}: skipped ({r['skipped']})")
            continue
        head = f"\n{r['row']} (K={r['K']}, N={r['N']})"
        if "inference_s" in r:
            head += f", network inference {r['inference_s']:.1f} s"
        print(head)
        extra = [k for k in ("position_rms_px", "probe_corr") if r["curve"] and k in r["curve"][-1]]
        if r["curve"]:
            print("| iteration | seconds | NLL | amp SSIM | phase SSIM |" + "".join(f" {k} |" for k in extra))
            print("|---|---|---|---|---|" + "---|" * len(extra))
        for c in r["curve"]:
            cells = "".join(f" {c[k]:.3f} |" if k in c else " - |" for k in extra)
            print(f"| {c['iteration']} | {c['time_s']:.1f} | {c['nll']:.6g} | {c['amp_ssim']:.3f} | "
                  f"{c['phase_ssim']:.3f} |{cells}")
        if "position_rms_after_px" in r:
            print(f"position RMS error: {r['position_rms_before_px']:.3f} px -> {r['position_rms_after_px']:.3f} px")
            for band in r["position_rms_by_radius"]:
                print(f"  {band['from_px']}-{band['to_px']} px from the scan centre: {band['count']} positions, "
                      f"RMS {band['rms_px']:.3f} px")
        if "probe_corr_after" in r:
            print(f"probe correlation: {r['probe_corr_before']:.3f} -> {r['probe_corr_after']:.3f}")
        mem = (f"peak RSS {r['peak_rss_mb']:.0f} MB (RSS before refining: {r['base_rss_mb']:.0f} MB; "
               f"diffraction stack {r['diffraction_mb']:.1f} MB)")
        if "peak_rss_before_mb" in r:
            mem += f"; peak RSS before refining {r['peak_rss_before_mb']:.0f} MB (loading)"
        if "cuda_peak_mb" in r:
            mem += f"; CUDA peak {r['cuda_peak_mb']:.0f} MB"
        print(mem)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(ap, positions=512)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--scan", type=Path, default=None, help="scan NPZ with objectGuess (default: simulate one)")
    ap.add_argument("--bundle", default=None, help="trained PyTorch run folder (wts.h5.zip) for the network row")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--object-size", type=int, default=None, help="simulated object side (default 3.5 N)")
    ap.add_argument("--rows", default="flat,network,positions,probe,memory")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--row", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--scan-path", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row is not None:
        print(json.dumps(run_row(args.row, args)), flush=True)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.scan is None:
            from ptycho.simulation import write_simulation

            path = Path(tmp) / "scan.npz"
            write_simulation(path, object_kind="siemens", N=64, n_positions=args.positions, probe_kind="zoneplate",
                             jitter=1.0, interpolation="fourier", nphotons=1e6, seed=args.seed,
                             object_size=args.object_size)
        else:
            path = args.scan
        args.scan_path = str(path)
        truth = truth_nll(args)
        rows = []
        for row in [r.strip() for r in args.rows.split(",") if r.strip()]:
            if row == "network" and not args.bundle:
                rows.append({"row": row, "skipped": "no --bundle given"})
                continue
            cmd = [sys.executable, __file__, "--row", row, "--scan-path", str(path), "--iterations", str(args.iterations),
                   "--batch-size", str(args.batch_size), "--threads", str(args.threads), "--seed", str(args.seed),
                   "--device", args.device] + (["--bundle", args.bundle] if args.bundle else [])
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"row {row} failed: {proc.stderr.strip().splitlines()[-1:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)  # a row is never lost to a later failure
    print_tables(rows, truth)
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows, "truth_nll": truth, "args": {k: str(v) for k, v in vars(args).items()}},
                                        indent=2))


if __name__ == "__main__":
    main()
