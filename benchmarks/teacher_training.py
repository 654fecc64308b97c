"""Refinement as a teacher: supervised training on refined patches against the Poisson PINN, equal epochs.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/teacher_training.py [--epochs 8] [--teacher-iterations 20]
        [--refine-iterations 10] [--batch-size 16] [--parallel] [--output-dir teacher_training_output] [--quick]

Question: a network trained self-supervised (Poisson NLL through the forward model) on the training half of the
realistic Siemens scan reconstructs the unseen half badly at a CPU budget (benchmarks/RESULTS.md). Maximum-
likelihood refinement recovers the training half's object in ~20 passes. Does a network trained SUPERVISED on
patches of that refined object (a physics-derived teacher, no ground-truth labels) generalise better per epoch?

Steps (the scan and scoring of ``benchmarks/realistic.py``, as in ``reconstruction_quality.py``):

1. ``realistic.prepare``: Siemens star, zone-plate probe, 2000 positions, 1e6 photons; train half / test half
   contract NPZ files without ground truth; the scoring window of the test half (M = 20).
2. Teacher: ``ptycho refine --test-data train.npz --iterations K`` (flat start, the scan's probe and positions,
   Poisson likelihood); its object is scored on the TRAIN half's window against the truth (for the record only).
3. Labels: ``ptycho.physics.extract_patches(object, positions - origin_xy, N, interpolation='fourier')`` at the
   train positions, written as the contract's ``Y`` into a copy of train.npz (``train_teacher.npz``).
4. Two networks, same entry point and settings (``ptycho train --backend pytorch``, its recipe: n_filters_scale 1;
   batch 16, every train pattern per epoch, ``--max_epochs E``, seed 42): (A) the default PINN (Poisson NLL on
   train.npz); (B) ``--model_type supervised`` (the supervised baseline network, MAE on amplitude and phase
   of ``Y``) on train_teacher.npz.
5. ``ptycho infer`` of each on the TEST half, without and with ``--refine-iterations`` object passes after;
   ``reconstructed_object.npz`` scored by ``realistic.score`` on the test window (registered SSIM / PSNR; the
   network-alone rows also unregistered, since the amplitude cross-correlation can misfire on a blotchy stitch);
   and on the TRAIN half (network alone, scored on the train window: how well it fits what it was trained on).

Rows also give the floors (flat object) and the ceiling (true test patches, bilinear stitch as ``ptycho infer``
stitches) and object refinement of the test half from a flat start with the same number of passes.
``--reuse-models`` keeps networks trained by an earlier run in the same ``--output-dir`` (the scan is
deterministic for a seed). ``--parallel`` trains A and B at the same time (two processes; per-epoch comparison is unaffected, seconds are).
Writes ``<output-dir>/results.json``. ``--quick``: 400 positions, 192^2 object, 1 epoch, 3 passes (a smoke run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402

M_STITCH = 20


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8, help="training epochs E of both networks (default 8)")
    p.add_argument("--teacher-iterations", type=int, default=20, help="refinement passes of the teacher (default 20)")
    p.add_argument("--refine-iterations", type=int, default=10,
                   help="object passes after inference on the test half (default 10; 0 = none)")
    p.add_argument("--batch-size", type=int, default=16, help="training batch size (default 16)")
    p.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    p.add_argument("--parallel", action="store_true", help="train the two networks at the same time")
    p.add_argument("--reuse-models", action="store_true",
                   help="skip training a network whose folder under --output-dir already holds wts.h5.zip")
    p.add_argument("--output-dir", default="teacher_training_output", help="where results go")
    p.add_argument("--quick", action="store_true", help="small scan, 1 epoch, 3 passes (smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.teacher_iterations = 1, 3
        args.refine_iterations = min(args.refine_iterations, 3)
    if args.epochs < 1 or args.teacher_iterations < 1 or args.refine_iterations < 0 or args.batch_size < 1:
        p.error("--epochs, --teacher-iterations, --batch-size must be >= 1 and --refine-iterations >= 0")
    return args


def _ptycho(args: list[str], log: Path, wait: bool = True) -> subprocess.Popen | None:
    """Run ``python -m ptycho_cli ARGS`` with stdout/stderr to ``log``; raise SystemExit on failure."""
    cmd = [sys.executable, "-m", "ptycho_cli", *args]
    print("  $ ptycho " + " ".join(args), flush=True)
    handle = open(log, "w")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    proc.handle = handle  # type: ignore[attr-defined]
    if wait:
        _finish(proc)
        return None
    return proc


def _finish(proc: subprocess.Popen) -> None:
    rc = proc.wait()
    proc.handle.close()  # type: ignore[attr-defined]
    if rc != 0:
        tail = Path(proc.log).read_text().strip().splitlines()[-3:]  # type: ignore[attr-defined]
        raise SystemExit(f"teacher_training: ptycho {' '.join(proc.args[3:5])} failed (exit {rc}, "
                         f"log {proc.log}): " + " | ".join(tail))  # type: ignore[attr-defined]


def _load_object(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(object (H, W) complex64, origin_xy (2,) [x, y]) of a ``reconstructed_object.npz``."""
    with np.load(folder / "reconstructed_object.npz") as f:
        return f["object"], f["origin_xy"]


def _scores(obj: np.ndarray, origin: np.ndarray, truth: np.ndarray, window: tuple[int, int, int, int],
            register: bool = True) -> dict:
    """``realistic.headline`` of the object's window plus ``shift``: the registration's [dy, dx] (px)."""
    metrics = R.score(R.window_of(obj, origin, window), truth, window, register=register)
    return {**R.headline(metrics), "shift": [float(v) for v in metrics.get("registration_shift", (0.0, 0.0))]}


def write_teacher_npz(train_npz: Path, obj: np.ndarray, origin: np.ndarray, target: Path) -> np.ndarray:
    """Copy ``train_npz`` with ``Y`` (P, N, N) complex64 = patches of the refined ``obj`` (canvas pixel (0, 0)
    at object coordinates ``origin`` [x, y]) at the scan positions, band-limited extraction. Returns ``Y``."""
    from ptycho.atomic_io import save_npz_atomic
    from ptycho.data_contract import validate_arrays
    from ptycho.physics import extract_patches

    with np.load(train_npz) as f:
        arrays = {k: f[k] for k in f.files}
    n = arrays["diffraction"].shape[-1]
    pos = np.stack([arrays["xcoords"], arrays["ycoords"]], axis=1).astype(np.float64) - np.asarray(origin, float)
    arrays["Y"] = extract_patches(obj, pos, n, interpolation="fourier").astype(np.complex64)
    validate_arrays(arrays, source=str(target))
    save_npz_atomic(target, **arrays)
    return arrays["Y"]


def _train_args(data: Path, out: Path, args: argparse.Namespace, n_train: int, nphotons: float,
                supervised: bool) -> list[str]:
    a = ["train", "--backend", "pytorch", "--train_data_file", str(data), "--output_dir", str(out),
         "--nphotons", repr(nphotons), "--max_epochs", str(args.epochs), "--n_groups", str(n_train),
         "--batch_size", str(args.batch_size), "--logger", "none", "--quiet"]
    return a + (["--model_type", "supervised"] if supervised else [])


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("| method | epochs / passes | train s | reg. shift px | amp SSIM | amp PSNR | phase SSIM | phase PSNR |\n"
            "|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        sec = "–" if r.get("seconds") is None else f"{r['seconds']:.0f}"
        shift = "–" if "shift" not in r else f"{float(np.hypot(*r['shift'])):.1f}"
        lines.append(f"| {r['method']} | {r.get('budget', '–')} | {sec} | {shift} | {r['amp_ssim']:.3f} | {r['amp_psnr']:.1f} | "
                     f"{r['phase_ssim']:.3f} | {r['phase_psnr']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch

    from ptycho.atomic_io import save_json_atomic

    out = Path(args.output_dir)
    data = out / "data"
    spec = R.ScanSpec(object_kind="siemens", seed=args.seed,
                      **({"n_positions": 400, "object_size": 192} if args.quick else {}))
    case = R.prepare(spec, data, M=M_STITCH)
    truth, window, scan = case.truth, case.window, case.scan
    train_pos = np.stack([scan["xcoords"][case.train], scan["ycoords"][case.train]], axis=1)
    train_window = R.scoring_window(train_pos, truth.shape, M=M_STITCH)
    nphotons = float(scan["nphotons"])
    print(f"siemens: {len(case.train)} train / {len(case.test)} test positions; test window {window}, train window "
          f"{train_window}; torch threads {torch.get_num_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}",
          flush=True)
    rows: list[dict[str, Any]] = []
    r0, r1, c0, c1 = window
    rows.append({"method": "flat object (floor)",
                 **R.headline(R.score(np.ones((r1 - r0, c1 - c0), np.complex64), truth, window, register=False))})
    canvas, origin = R.stitch(scan["Y"][case.test], case.test_positions, M=M_STITCH, interpolation="bilinear")
    rows.append({"method": "true test patches, bilinear stitch (ceiling of ptycho infer)",
                 **_scores(canvas, origin, truth, window)})

    # 2. teacher: refinement of the train half from flat
    t = time.perf_counter()
    _ptycho(["refine", "--test-data", str(data / "train.npz"), "--output-dir", str(out / "teacher"),
             "--iterations", str(args.teacher_iterations)], out / "teacher.log")
    teacher_s = time.perf_counter() - t
    t_obj, t_origin = _load_object(out / "teacher")
    teacher = _scores(t_obj, t_origin, truth, train_window)
    print(f"teacher ({args.teacher_iterations} passes, {teacher_s:.0f} s) on the TRAIN window: amplitude / phase "
          f"SSIM {teacher['amp_ssim']:.3f} / {teacher['phase_ssim']:.3f}", flush=True)

    # 3. labels
    labels = write_teacher_npz(data / "train.npz", t_obj, t_origin, data / "train_teacher.npz")
    true_y = scan["Y"][case.train]
    scale = np.vdot(labels, true_y) / np.vdot(labels, labels)  # best complex scale (global phase is free)
    label_err = float(np.linalg.norm(scale * labels - true_y) / np.linalg.norm(true_y))
    print(f"labels: {labels.shape}, relative error against the true train patches {label_err:.3f} "
          "(after the best complex scale; for the record, never used in training)", flush=True)

    # 4. train both networks
    runs = {"A: PINN (Poisson NLL)": (data / "train.npz", out / "pinn", False),
            "B: supervised on the teacher's patches": (data / "train_teacher.npz", out / "supervised", True)}
    seconds: dict[str, float] = {}
    procs = {}
    for name, (npz, model, sup) in runs.items():
        if args.reuse_models and (model / "wts.h5.zip").exists():
            print(f"  reusing {model} (trained earlier; no training time)", flush=True)
            continue
        t = time.perf_counter()
        train_args = _train_args(npz, model, args, len(case.train), nphotons, sup)
        if args.parallel:
            procs[name] = (_ptycho(train_args, out / f"{model.name}_train.log", wait=False), t)
        else:
            _ptycho(train_args, out / f"{model.name}_train.log")
            seconds[name] = time.perf_counter() - t
    for name, (proc, t) in procs.items():
        _finish(proc)
        seconds[name] = time.perf_counter() - t

    # 5. infer on the test half, with and without object refinement after
    fits: dict[str, dict] = {}
    for name, (_, model, _) in runs.items():
        infer_dir = out / f"{model.name}_infer"
        extra = ["--refine-iterations", str(args.refine_iterations)] if args.refine_iterations else []
        _ptycho(["infer", "--model_path", str(model), "--test_data", str(data / "test.npz"),
                 "--output_dir", str(infer_dir), *extra], out / f"{model.name}_infer.log")
        obj, origin = _load_object(infer_dir)
        rows.append({"method": f"{name}, network alone", "budget": f"{args.epochs} ep",
                     "seconds": seconds.get(name), **_scores(obj, origin, truth, window)})
        # registration is an amplitude cross-correlation: a blotchy amplitude can pull it off by many pixels
        rows.append({"method": f"{name}, network alone, unregistered", "budget": f"{args.epochs} ep",
                     "seconds": seconds.get(name), **_scores(obj, origin, truth, window, register=False)})
        if args.refine_iterations:
            obj, origin = _load_object(infer_dir / "refined")
            rows.append({"method": f"{name}, + {args.refine_iterations} object passes",
                         "budget": f"{args.epochs} ep + {args.refine_iterations} p", "seconds": seconds.get(name),
                         **_scores(obj, origin, truth, window)})
        # the same network on the half it was trained on (its fit, scored on the train window)
        fit_dir = out / f"{model.name}_infer_train"
        _ptycho(["infer", "--model_path", str(model), "--test_data", str(data / "train.npz"),
                 "--output_dir", str(fit_dir)], out / f"{model.name}_infer_train.log")
        obj, origin = _load_object(fit_dir)
        fits[name] = _scores(obj, origin, truth, train_window)
        fits[f"{name} (unregistered)"] = _scores(obj, origin, truth, train_window, register=False)
    if args.refine_iterations:
        _ptycho(["refine", "--test-data", str(data / "test.npz"), "--output-dir", str(out / "test_flat"),
                 "--iterations", str(args.refine_iterations)], out / "test_flat.log")
        obj, origin = _load_object(out / "test_flat")
        rows.append({"method": "object refinement of the test half from flat", "budget": f"{args.refine_iterations} p",
                     **_scores(obj, origin, truth, window)})

    print(_table(rows), flush=True)
    print("on the TRAIN window (fit, not generalisation): teacher "
          f"{teacher['amp_ssim']:.3f} / {teacher['phase_ssim']:.3f}; "
          + "; ".join(f"{k} {v['amp_ssim']:.3f} / {v['phase_ssim']:.3f}" for k, v in fits.items())
          + " (amplitude / phase SSIM)", flush=True)
    save_json_atomic(out / "results.json", {
        "args": vars(args), "window": list(window), "train_window": list(train_window),
        "n_train": int(len(case.train)), "n_test": int(len(case.test)), "torch_threads": torch.get_num_threads(),
        "teacher": {"seconds": teacher_s, "train_half": teacher, "label_rel_error": label_err},
        "train_half_fit": fits, "rows": rows})
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
