"""Refinement as a teacher: networks trained on refined patches against the Poisson PINN, equal epochs.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/teacher_training.py [--epochs 8] [--teacher-iterations 20]
        [--refine-iterations 10] [--batch-size 16] [--rows AB] [--warm-epochs K] [--supervised-loss complex|split]
        [--parallel]
        [--reuse-models] [--output-dir teacher_training_output] [--quick]

Question: a network trained self-supervised (Poisson NLL through the forward model) on the training half of the
realistic Siemens scan reconstructs the unseen half badly at a CPU budget (benchmarks/RESULTS.md). Maximum-
likelihood refinement recovers the training half's object in ~20 passes. Does a network trained SUPERVISED on
patches of that refined object (a physics-derived teacher, no ground-truth labels) generalise better per epoch?

Steps (the scan and scoring of ``benchmarks/realistic.py``, as in ``reconstruction_quality.py``):

1. ``realistic.prepare``: Siemens star, zone-plate probe, 2000 positions, 1e6 photons; train half / test half
   contract NPZ files without ground truth; the scoring window of the test half (M = 20).
2. Teacher: ``ptycho refine --test-data train.npz --refine-iterations K`` (flat start, the scan's probe and positions,
   Poisson likelihood); its object is scored on the TRAIN half's window against the truth (for the record only).
3. Labels: ``ptycho.physics.extract_patches(object, positions - origin_xy, N, interpolation='fourier')`` at the
   train positions, written as the contract's ``Y`` into a copy of train.npz (``train_teacher.npz``).
4. Networks (``--rows``, any of A B C D; default AB), batch 16, every train pattern per epoch, E epochs, seed 42:
   (A) the default PINN, ``ptycho train --backend pytorch`` with its recipe (n_filters_scale 1), Poisson NLL on
   train.npz; (B) ``ptycho train ... --model_type supervised`` (the supervised baseline network, MAE on amplitude
   and phase of ``Y``) on train_teacher.npz; (C) the PINN generator of A (``PtychoPINN_Lightning``, model_type
   'pinn', the same TrainingConfig as A, the same initial weights and batch order) trained by a plain PyTorch
   loop (below) on train_teacher.npz with a SUPERVISED loss: complex L1, mean over pixels of
   |o - y| between the module's object patch o = amp·exp(i·phase) (``forward(...)['object']``, what inference
   stitches) and the label y; (D) warm start: C's first W = ``--warm-epochs`` epochs (default E//2), then E − W
   epochs of the module's own Poisson loss (``module.compute_loss(batch)[0]``) on the same train patterns,
   with a fresh Adam (``module.configure_optimizers()``). ``--supervised-loss split``: C and D's supervised
   loss is instead B's (MAE of amplitude + MAE of phase, on the generator's amp and phase outputs), which
   separates the architecture from the loss against B. C and D run in one worker process (``--worker``):
   D's supervised part IS C's first W epochs (same seed, initial weights and batch order), so D continues
   C's snapshot after epoch W instead of repeating it; D's seconds are C's first W epochs plus its own.
   The loop: ``lightning.seed_everything(42)``, the module built as ``train_cdi_model_torch`` builds it,
   ``build_dataloader(container, batch, shuffle=True, seed=42)`` with ``set_epoch(e)`` each epoch (Lightning's
   order), Adam from ``module.configure_optimizers()`` (the module's learning rate), denormals flushed as in
   ``on_fit_start``; no validation, no checkpoints; ``ptycho_torch.bundle.save_torch_model_bundle`` writes
   ``wts.h5.zip`` so that C and D go through the same ``ptycho infer`` as A and B.
5. ``ptycho infer`` of each on the TEST half, without and with ``--refine-iterations`` object passes after;
   ``reconstructed_object.npz`` scored by ``realistic.score`` on the test window (registered SSIM / PSNR; the
   network-alone rows also unregistered, since the amplitude cross-correlation can misfire on a blotchy stitch);
   and on the TRAIN half (network alone, scored on the train window: how well it fits what it was trained on).
   Every registered row is also scored PHASE-registered (:func:`phase_shift`: the shift from cross-correlating
   the unit phasors exp(i·phase) of reconstruction and truth, insensitive to wrapping, the free phase constant
   and the amplitude; then ``realistic.score`` unregistered on the shifted window).

Rows also give the floors (flat object), the ceiling (true test patches, bilinear stitch as ``ptycho infer``
stitches), a frame check (the true test patches stitched by the library, ``ptycho_torch.stitching.stitch_patches``
with the container's offsets, placed by ``canvas_origin``: must score like the ceiling) and object refinement of
the test half from a flat start with the same number of passes.
``--reuse-models`` keeps networks trained by an earlier run in the same ``--output-dir`` (the scan is
deterministic for a seed). ``--parallel`` trains the networks at the same time (one process for A, one for B,
one for C+D; per-epoch comparison is unaffected, seconds are) and scores each as soon as it is trained.
Writes ``<output-dir>/results.json``. ``--quick``: 400 positions, 192^2 object, 1 epoch (2 with D), 3 passes
(a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402
import teacher_scoring as TS  # noqa: E402
from teacher_generator import SUPERVISED_LOSSES, TRAIN_RECORD, generator_config, train_generator  # noqa: E402

M_STITCH = 20
#: row letter -> (label, model folder under --output-dir)
NETWORKS = {
    "A": ("A: PINN (Poisson NLL)", "pinn"),
    "B": ("B: supervised on the teacher's patches", "supervised"),
    "C": ("C: PINN generator, complex L1 on the teacher's patches", "pinn_teacher"),
    "D": ("D: PINN generator, teacher warm start then Poisson NLL", "pinn_warm"),
}


def _network_name(letter: str, args: argparse.Namespace) -> tuple[str, str]:
    """(row label, model folder) of a network; C/D's label names the split loss when it is used."""
    name, folder = NETWORKS[letter]
    if letter in "CD" and getattr(args, "supervised_loss", "complex") == "split":
        name = name.replace("complex L1", "amp MAE + phase MAE").replace("teacher warm start",
                                                                          "teacher warm start (amp + phase MAE)")
    return name, folder


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=8, help="training epochs E of every network (default 8)")
    p.add_argument("--teacher-iterations", type=int, default=20, help="refinement passes of the teacher (default 20)")
    p.add_argument("--refine-iterations", type=int, default=10,
                   help="object passes after inference on the test half (default 10; 0 = none)")
    p.add_argument("--batch-size", type=int, default=16, help="training batch size (default 16)")
    p.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    p.add_argument("--rows", default="AB", help="networks to train and score, letters of ABCD (default AB)")
    p.add_argument("--warm-epochs", type=int, default=None,
                   help="D: supervised epochs before the Poisson ones (default E//2; 1 <= W < E)")
    p.add_argument("--supervised-loss", choices=("complex", "split"), default="complex",
                   help="C and D's supervised loss: complex L1 (default) or 'split': MAE of amplitude + MAE of "
                        "phase, the supervised model's loss (row B's)")
    p.add_argument("--parallel", action="store_true", help="train the networks at the same time")
    p.add_argument("--reuse-models", action="store_true",
                   help="skip training a network whose folder under --output-dir already holds wts.h5.zip")
    p.add_argument("--output-dir", default="teacher_training_output", help="where results go")
    p.add_argument("--quick", action="store_true", help="small scan, 1 epoch (2 with D), 3 passes (smoke run)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: train C/D from a job JSON
    args = p.parse_args(argv)
    if args.worker is not None:
        return args
    args.rows = "".join(sorted(set(args.rows.upper())))
    if not args.rows or set(args.rows) - set(NETWORKS):
        p.error(f"--rows: expected letters of ABCD, found {args.rows!r}")
    if args.quick:
        args.epochs, args.teacher_iterations = (2 if "D" in args.rows else 1), 3
        args.refine_iterations = min(args.refine_iterations, 3)
    if args.epochs < 1 or args.teacher_iterations < 1 or args.refine_iterations < 0 or args.batch_size < 1:
        p.error("--epochs, --teacher-iterations, --batch-size must be >= 1 and --refine-iterations >= 0")
    if args.warm_epochs is None:
        args.warm_epochs = args.epochs // 2
    if "D" in args.rows and not 1 <= args.warm_epochs < args.epochs:
        p.error(f"D: expected 1 <= --warm-epochs < --epochs, found {args.warm_epochs} and {args.epochs}")
    return args


def _launch(cmd: list[str], shown: str, log: Path, wait: bool) -> subprocess.Popen | None:
    """Start ``cmd`` with stdout/stderr to ``log`` (echoing ``shown``); wait for it (None) or return the process."""
    print(f"  $ {shown}", flush=True)
    handle = open(log, "w")
    proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    proc.handle = handle  # type: ignore[attr-defined]
    if wait:
        _finish(proc)
        return None
    return proc


def _ptycho(args: list[str], log: Path, wait: bool = True) -> subprocess.Popen | None:
    """Run ``python -m ptycho_cli ARGS`` with stdout/stderr to ``log``; raise SystemExit on failure."""
    return _launch([sys.executable, "-m", "ptycho_cli", *args], "ptycho " + " ".join(args), log, wait)


def _finish(proc: subprocess.Popen) -> None:
    rc = proc.wait()
    proc.handle.close()  # type: ignore[attr-defined]
    if rc != 0:
        tail = Path(proc.log).read_text().strip().splitlines()[-3:]  # type: ignore[attr-defined]
        raise SystemExit(f"teacher_training: ptycho {' '.join(proc.args[3:5])} failed (exit {rc}, "
                         f"log {proc.log}): " + " | ".join(tail))  # type: ignore[attr-defined]


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


def _spawn_worker(job: Path, log: Path, wait: bool) -> subprocess.Popen | None:
    """Run this script with ``--worker JOB`` (C/D training) with output to ``log``; see :func:`_ptycho`."""
    return _launch([sys.executable, str(Path(__file__).resolve()), "--worker", str(job)],
                   f"python {Path(__file__).name} --worker {job}", log, wait)


# ------------------------------------------------------------------------------------------------ report
def _table(rows: list[dict[str, Any]]) -> str:
    head = ("| method | epochs / passes | train s | reg. shift px | amp SSIM | amp PSNR | phase SSIM | phase PSNR "
            "| phase-reg. shift px | amp SSIM (phase-reg.) | phase SSIM (phase-reg.) | phase PSNR (phase-reg.) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        sec = "–" if r.get("seconds") is None else f"{r['seconds']:.0f}"
        shift = "–" if "shift" not in r else f"{float(np.hypot(*r['shift'])):.1f}"
        pr = r.get("phase_reg")
        preg = ("| – | – | – | –" if pr is None else
                f"| {float(np.hypot(*pr['shift'])):.1f} | {pr['amp_ssim']:.3f} | {pr['phase_ssim']:.3f} | "
                f"{pr['phase_psnr']:.1f}")
        lines.append(f"| {r['method']} | {r.get('budget', '–')} | {sec} | {shift} | {r['amp_ssim']:.3f} | "
                     f"{r['amp_psnr']:.1f} | {r['phase_ssim']:.3f} | {r['phase_psnr']:.1f} {preg} |")
    return "\n".join(lines)


def _bundle_config_diff(a_dir: Path, other: Path) -> list[str]:
    """Fields of the stored TrainingConfig in which two bundles differ (paths and the run length aside)."""
    from ptycho_torch.bundle import read_bundle

    a, b = read_bundle(a_dir).config, read_bundle(other).config
    skip = {"output_dir", "train_data_file", "nepochs"}
    keys = sorted((set(a) | set(b)) - skip)
    out = [f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys if k != "model" and a.get(k) != b.get(k)]
    am, bm = a.get("model", {}), b.get("model", {})
    return out + [f"model.{k}: {am.get(k)!r} vs {bm.get(k)!r}" for k in sorted(set(am) | set(bm)) if am.get(k) != bm.get(k)]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.worker is not None:
        train_generator(json.loads(Path(args.worker).read_text()))
        return 0
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
    n_train = int(len(case.train))
    print(f"siemens: {n_train} train / {len(case.test)} test positions; test window {window}, train window "
          f"{train_window}; rows {args.rows}, {args.epochs} epochs; torch threads {torch.get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}", flush=True)
    rows: list[dict[str, Any]] = []
    r0, r1, c0, c1 = window
    rows.append({"method": "flat object (floor)",
                 **R.headline(R.score(np.ones((r1 - r0, c1 - c0), np.complex64), truth, window, register=False))})
    canvas, origin = R.stitch(scan["Y"][case.test], case.test_positions, M=M_STITCH, interpolation="bilinear")
    rows.append({"method": "true test patches, bilinear stitch (ceiling of ptycho infer)",
                 **TS.scored(canvas, origin, truth, window)})
    # frame check: the true patches through the library's stitcher and canvas_origin, as ptycho infer places them
    frame_cfg = generator_config(data / "train.npz", out / "frame_check", args.epochs, args.batch_size, n_train,
                                 nphotons, int(scan["Y"].shape[-1]))
    canvas, origin = TS.library_stitch(data / "test.npz", scan["Y"][case.test], frame_cfg)
    rows.append({"method": "true test patches, library stitch + canvas_origin (frame check)",
                 **TS.scored(canvas, origin, truth, window)})

    # 2. teacher: refinement of the train half from flat
    t = time.perf_counter()
    _ptycho(["refine", "--test-data", str(data / "train.npz"), "--output-dir", str(out / "teacher"),
             "--refine-iterations", str(args.teacher_iterations)], out / "teacher.log")
    teacher_s = time.perf_counter() - t
    t_obj, t_origin = TS.load_object(out / "teacher")
    teacher = TS.scores(t_obj, t_origin, truth, train_window)
    print(f"teacher ({args.teacher_iterations} passes, {teacher_s:.0f} s) on the TRAIN window: amplitude / phase "
          f"SSIM {teacher['amp_ssim']:.3f} / {teacher['phase_ssim']:.3f}", flush=True)

    # 3. labels
    labels = write_teacher_npz(data / "train.npz", t_obj, t_origin, data / "train_teacher.npz")
    true_y = scan["Y"][case.train]
    scale = np.vdot(labels, true_y) / np.vdot(labels, labels)  # best complex scale (global phase is free)
    label_err = float(np.linalg.norm(scale * labels - true_y) / np.linalg.norm(true_y))
    label_amp = np.abs(labels)
    print(f"labels: {labels.shape}, relative error against the true train patches {label_err:.3f} "
          "(after the best complex scale; for the record, never used in training); label amplitude "
          f"{label_amp.min():.3f}..{label_amp.max():.3f}", flush=True)

    # 4. train the networks
    seconds: dict[str, float | None] = {}
    waiting: dict[str, Any] = {}  # letter -> ('train', proc, t0) for A/B, ('worker', proc) for C/D
    for letter in args.rows:
        if letter in "AB":
            model = out / NETWORKS[letter][1]
            if args.reuse_models and (model / "wts.h5.zip").exists():
                print(f"  reusing {model} (trained earlier; no training time)", flush=True)
                seconds[letter] = None
                continue
            npz = data / ("train.npz" if letter == "A" else "train_teacher.npz")
            t = time.perf_counter()
            train_args = _train_args(npz, model, args, n_train, nphotons, letter == "B")
            if args.parallel:
                waiting[letter] = ("train", _ptycho(train_args, out / f"{model.name}_train.log", wait=False), time.time())
            else:
                _ptycho(train_args, out / f"{model.name}_train.log")
                seconds[letter] = time.perf_counter() - t
    gen = [x for x in args.rows if x in "CD"]
    if gen:
        dirs = {x: out / NETWORKS[x][1] for x in gen}
        sup_name = SUPERVISED_LOSSES[args.supervised_loss][1]
        if args.reuse_models and all((d / TRAIN_RECORD).exists() and sup_name in
                                     json.loads((d / TRAIN_RECORD).read_text())["loss"] for d in dirs.values()):
            print(f"  reusing {', '.join(map(str, dirs.values()))} (trained earlier; no training time)", flush=True)
            seconds.update({x: None for x in gen})
        else:
            for d in dirs.values():
                (d / TRAIN_RECORD).unlink(missing_ok=True)
            job = {"teacher_npz": str(data / "train_teacher.npz"), "epochs": args.epochs,
                   "warm_epochs": args.warm_epochs, "batch_size": args.batch_size, "n_train": n_train,
                   "nphotons": nphotons, "supervised_loss": args.supervised_loss, "c_dir": str(dirs["C"]) if "C" in dirs else None,
                   "d_dir": str(dirs["D"]) if "D" in dirs else None}
            save_json_atomic(out / "generator_job.json", job)
            proc = _spawn_worker(out / "generator_job.json", out / "generator_train.log", wait=not args.parallel)
            for x in gen:
                waiting[x] = ("worker", proc)
            if proc is None:
                seconds.update({x: json.loads((dirs[x] / TRAIN_RECORD).read_text())["seconds"] for x in gen})

    def ready(letter: str) -> bool:
        """True once the network is trained (recording its seconds); raises if its process failed."""
        entry = waiting.get(letter)
        if entry is None:
            return True
        model = out / NETWORKS[letter][1]
        if entry[0] == "train":
            if entry[1].poll() is None:
                return False
            _finish(entry[1])
            seconds[letter] = (model / "wts.h5.zip").stat().st_mtime - entry[2]  # not the time we noticed
            return True
        if (model / TRAIN_RECORD).exists():
            seconds[letter] = json.loads((model / TRAIN_RECORD).read_text())["seconds"]
            return True
        if entry[1].poll() is not None:
            _finish(entry[1])  # raises on failure
            raise SystemExit(f"teacher_training: the worker ended without writing {model / TRAIN_RECORD}")
        return False

    # 5. infer on the test half, with and without object refinement after; each network as soon as it is trained
    per_net: dict[str, list[dict]] = {}
    fits: dict[str, dict] = {}
    pending = list(args.rows)
    while pending:
        letter = next((x for x in pending if ready(x)), None)
        if letter is None:
            time.sleep(2.0)
            continue
        pending.remove(letter)
        name, folder = _network_name(letter, args)
        model = out / folder
        per_net[letter] = net_rows = []
        budget = f"{args.epochs} ep" + (f" ({args.warm_epochs} L1 + {args.epochs - args.warm_epochs} Poisson)"
                                        if letter == "D" else "")
        infer_dir = out / f"{model.name}_infer"
        extra = ["--refine-iterations", str(args.refine_iterations)] if args.refine_iterations else []
        _ptycho(["infer", "--model_path", str(model), "--test_data", str(data / "test.npz"),
                 "--output_dir", str(infer_dir), *extra], out / f"{model.name}_infer.log")
        obj, origin = TS.load_object(infer_dir, "network_object.npz" if args.refine_iterations else
                                   "reconstructed_object.npz")
        net_rows.append({"method": f"{name}, network alone", "budget": budget, "seconds": seconds.get(letter),
                         **TS.scored(obj, origin, truth, window)})
        # registration is an amplitude cross-correlation: a blotchy amplitude can pull it off by many pixels
        net_rows.append({"method": f"{name}, network alone, unregistered", "budget": budget,
                         "seconds": seconds.get(letter), **TS.scores(obj, origin, truth, window, register=False)})
        if args.refine_iterations:
            obj, origin = TS.load_object(infer_dir)
            net_rows.append({"method": f"{name}, + {args.refine_iterations} object passes",
                             "budget": f"{budget} + {args.refine_iterations} p", "seconds": seconds.get(letter),
                             **TS.scored(obj, origin, truth, window)})
        # the same network on the half it was trained on (its fit, scored on the train window)
        fit_dir = out / f"{model.name}_infer_train"
        _ptycho(["infer", "--model_path", str(model), "--test_data", str(data / "train.npz"),
                 "--output_dir", str(fit_dir)], out / f"{model.name}_infer_train.log")
        obj, origin = TS.load_object(fit_dir)
        fits[name] = TS.scored(obj, origin, truth, train_window)
        fits[f"{name} (unregistered)"] = TS.scores(obj, origin, truth, train_window, register=False)
        print(f"  {name}: test half network alone amplitude / phase SSIM {net_rows[0]['amp_ssim']:.3f} / "
              f"{net_rows[0]['phase_ssim']:.3f} (phase-registered {net_rows[0]['phase_reg']['amp_ssim']:.3f} / "
              f"{net_rows[0]['phase_reg']['phase_ssim']:.3f})", flush=True)
    for entry in {id(e[1]): e for e in waiting.values() if e[0] == "worker" and e[1] is not None}.values():
        _finish(entry[1])
    for letter in args.rows:
        rows.extend(per_net[letter])
    config_diffs = {}
    if "A" in args.rows:
        for letter in "CD":
            if letter in args.rows:
                config_diffs[letter] = _bundle_config_diff(out / NETWORKS["A"][1], out / NETWORKS[letter][1])
                print(f"stored config of {letter} against A: "
                      f"{'; '.join(config_diffs[letter]) or 'identical (paths and nepochs aside)'}", flush=True)
    records = {x: json.loads((out / NETWORKS[x][1] / TRAIN_RECORD).read_text()) for x in args.rows if x in "CD"}
    if args.refine_iterations:
        _ptycho(["refine", "--test-data", str(data / "test.npz"), "--output-dir", str(out / "test_flat"),
                 "--refine-iterations", str(args.refine_iterations)], out / "test_flat.log")
        obj, origin = TS.load_object(out / "test_flat")
        rows.append({"method": "object refinement of the test half from flat", "budget": f"{args.refine_iterations} p",
                     **TS.scored(obj, origin, truth, window)})

    print(_table(rows), flush=True)
    print("on the TRAIN window (fit, not generalisation): teacher "
          f"{teacher['amp_ssim']:.3f} / {teacher['phase_ssim']:.3f}; "
          + "; ".join(f"{k} {v['amp_ssim']:.3f} / {v['phase_ssim']:.3f}" for k, v in fits.items())
          + " (amplitude / phase SSIM, amplitude-registered unless marked)", flush=True)
    save_json_atomic(out / "results.json", {
        "args": vars(args), "window": list(window), "train_window": list(train_window),
        "n_train": n_train, "n_test": int(len(case.test)), "torch_threads": torch.get_num_threads(),
        "teacher": {"seconds": teacher_s, "train_half": teacher, "label_rel_error": label_err},
        "generator_training": records, "config_diff_vs_A": config_diffs,
        "train_half_fit": fits, "rows": rows})
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
