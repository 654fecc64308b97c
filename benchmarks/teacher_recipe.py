"""Variants of the ``ptycho train --teacher refine`` recipe on the realistic scans' unseen halves.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/teacher_recipe.py [--object siemens] [--epochs 10]
        [--variants none S1=1/0 S05=0.5/0 K100=0.5/100] [--teacher-iterations 20] [--max-time DD:HH:MM:SS]
        [--refine-iterations 0] [--teacher-ceiling] [--batch-size 16] [--seed 1] [--output-dir teacher_recipe_output]
        [--quick]

Every variant is the PRODUCT path, run as a user runs it: ``ptycho train --backend pytorch`` on the training
half's NPZ (no ground truth in it) with ``--teacher refine --teacher-supervised-share F --teacher-keep-weight W``
(variant ``LABEL=F/W``) or ``--teacher none`` (variant ``none``: the plain Poisson PINN), the same epochs
(``--max_epochs E``, optionally also ``--max-time``), ``--n_groups`` = every training pattern, batch 16,
``--nphotons`` of the scan; then ``ptycho infer`` of the unseen test half (bilinear stitch), optionally with
``--refine-iterations K`` object passes after. Scored by ``benchmarks/realistic.py`` on the test half's window:
amplitude-registered SSIM (the project's standard score), unregistered, and phase-registered (the registration
of ``teacher_training.phase_shift``: an amplitude cross-correlation misfires on a blotchy amplitude).
The scan: ``realistic.prepare(ScanSpec(object_kind=...))`` (2000 positions, zone-plate probe, 1e6 photons,
train = top half). ``--quick``: 400 positions on a 192² object, 2 epochs, 3 teacher passes (a smoke run).

``--teacher-ceiling`` adds the teacher itself, scored on the TRAIN half's window: its refined object, and its
labels stitched back bilinearly (what the network would score there by reproducing its labels exactly).
Prints one table row per variant; writes ``<output-dir>/results.json``. Seconds are wall time of the whole
``ptycho train`` process (teacher included) and depend on the machine's load: compare variants by epochs.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402
import teacher_scoring as TS  # noqa: E402

M_STITCH = 20
_VARIANT = re.compile(r"^(?P<label>[A-Za-z0-9_.+-]+)=(?P<share>[0-9.]+)/(?P<keep>[0-9.eE+-]+)$")


def parse_variant(text: str) -> dict[str, Any]:
    """'none' -> plain Poisson; 'LABEL=F/W' -> teacher with supervised share F and keep weight W."""
    if text == "none":
        return {"label": "none", "teacher": "none"}
    m = _VARIANT.match(text)
    if m is None:
        raise SystemExit(f"teacher_recipe: --variants: expected 'none' or LABEL=SHARE/KEEP_WEIGHT, found {text!r}")
    return {"label": m["label"], "teacher": "refine", "share": float(m["share"]), "keep": float(m["keep"])}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--object", default="siemens", help="ScanSpec.object_kind of the scan (default siemens)")
    p.add_argument("--probe", default="zoneplate", help="ScanSpec.probe_kind (default zoneplate)")
    p.add_argument("--epochs", type=int, default=10, help="training epochs of every variant (default 10)")
    p.add_argument("--variants", nargs="+", default=["none", "S1=1/0", "S05=0.5/0"],
                   help="'none' or LABEL=SHARE/KEEP_WEIGHT (default: none S1=1/0 S05=0.5/0)")
    p.add_argument("--teacher-iterations", type=int, default=20, help="refinement passes of the teacher (default 20)")
    p.add_argument("--max-time", default=None, help="also pass --max-time DD:HH:MM:SS to ptycho train")
    p.add_argument("--refine-iterations", type=int, default=0,
                   help="object passes after inference on the test half (default 0 = network alone only)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=1, help="simulation seed (default 1)")
    p.add_argument("--output-dir", default="teacher_recipe_output")
    p.add_argument("--teacher-ceiling", action="store_true",
                   help="also score the teacher's own labels on the TRAIN half (bilinear stitch, train window): "
                        "what the network would score there if it reproduced its labels exactly")
    p.add_argument("--quick", action="store_true", help="small scan, 2 epochs, 3 teacher passes (smoke run)")
    args = p.parse_args(argv)
    args.variants = [parse_variant(v) for v in args.variants]
    if args.quick:
        args.epochs, args.teacher_iterations = 2, 3
    if args.epochs < 1 or args.teacher_iterations < 1 or args.refine_iterations < 0:
        p.error("--epochs and --teacher-iterations must be >= 1, --refine-iterations >= 0")
    return args


def _run(cmd: list[str], log: Path) -> float:
    """Run ``python -m ptycho_cli CMD`` with output to ``log``; seconds; SystemExit with the log's tail on failure."""
    print("  $ ptycho " + " ".join(cmd), flush=True)
    t = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.call([sys.executable, "-m", "ptycho_cli", *cmd], stdout=fh, stderr=subprocess.STDOUT)
    if rc != 0:
        tail = " | ".join(log.read_text().strip().splitlines()[-3:])
        raise SystemExit(f"teacher_recipe: ptycho {cmd[0]} failed (exit {rc}, log {log}): {tail}")
    return time.perf_counter() - t


def _history(run: Path) -> dict[str, Any]:
    """Per-epoch training loss and the stage switch from the run's last checkpoint (weights_only load)."""
    import torch

    ckpt = run / "checkpoints" / "last.ckpt"
    if not ckpt.exists():
        return {}
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    hist = (state.get("ptycho_resume") or {}).get("loss_history", {}).get("train", [])
    teacher = state.get("ptycho_teacher") or {}
    return {"train_loss": [float(v) for v in hist], "epochs": len(hist), "stage": teacher.get("stage"),
            "switch_epoch": teacher.get("switch_epoch")}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch

    from ptycho.atomic_io import save_json_atomic

    out = Path(args.output_dir)
    data = out / "data"
    spec = R.ScanSpec(object_kind=args.object, probe_kind=args.probe, seed=args.seed,
                      **({"n_positions": 400, "object_size": 192} if args.quick else {}))
    case = R.prepare(spec, data, M=M_STITCH)
    truth, window, scan = case.truth, case.window, case.scan
    n_train, nphotons = int(len(case.train)), float(scan["nphotons"])
    print(f"{args.object} / {args.probe}: {n_train} train / {len(case.test)} test positions; window {window}; "
          f"{args.epochs} epochs; torch threads {torch.get_num_threads()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}", flush=True)
    r0, r1, c0, c1 = window
    rows: list[dict[str, Any]] = [{"variant": "flat object (floor)", **R.headline(
        R.score(np.ones((r1 - r0, c1 - c0), np.complex64), truth, window, register=False))}]
    canvas, origin = R.stitch(scan["Y"][case.test], case.test_positions, M=M_STITCH, interpolation="bilinear")
    rows.append({"variant": "true test patches, bilinear stitch (ceiling of ptycho infer)",
                 **TS.scores(canvas, origin, truth, window)})
    if args.teacher_ceiling:
        rows.extend(teacher_ceiling(case, args.teacher_iterations))
    for v in args.variants:
        run = out / f"run_{v['label']}"
        cmd = ["train", "--backend", "pytorch", "--train_data_file", str(data / "train.npz"), "--output_dir", str(run),
               "--nphotons", repr(nphotons), "--max_epochs", str(args.epochs), "--n_groups", str(n_train),
               "--batch_size", str(args.batch_size), "--logger", "none", "--quiet", "--teacher", v["teacher"]]
        if v["teacher"] == "refine":
            cmd += ["--teacher-iterations", str(args.teacher_iterations), "--teacher-supervised-share",
                    repr(v["share"]), "--teacher-keep-weight", repr(v["keep"])]
        if args.max_time:
            cmd += ["--max-time", args.max_time]
        train_s = _run(cmd, out / f"train_{v['label']}.log")
        hist = _history(run)
        infer = out / f"infer_{v['label']}"
        extra = ["--refine-iterations", str(args.refine_iterations)] if args.refine_iterations else []
        _run(["infer", "--model_path", str(run), "--test_data", str(data / "test.npz"), "--output_dir", str(infer),
              "--quiet", *extra], out / f"infer_{v['label']}.log")
        obj, origin = TS.load_object(infer, "network_object.npz" if args.refine_iterations else
                                     "reconstructed_object.npz")
        reg, unreg = TS.scores(obj, origin, truth, window), TS.scores(obj, origin, truth, window, register=False)
        preg = TS.scores(obj, origin, truth, window, register="phase")
        row = {"variant": v["label"], "spec": v, "train_s": train_s, "history": hist, **reg,
               "unregistered": unreg, "phase_reg": preg}
        if args.refine_iterations:
            obj, origin = TS.load_object(infer)
            row["refined"] = TS.scores(obj, origin, truth, window)
        rows.append(row)
        print(f"  {v['label']}: amp / phase SSIM {reg['amp_ssim']:.3f} / {reg['phase_ssim']:.3f} (unregistered "
              f"{unreg['amp_ssim']:.3f} / {unreg['phase_ssim']:.3f}, phase-registered {preg['amp_ssim']:.3f} / "
              f"{preg['phase_ssim']:.3f}); {hist.get('epochs')} epochs, switch after {hist.get('switch_epoch')}; "
              f"{train_s:.0f} s", flush=True)
        save_json_atomic(out / "results.json", {"args": {**vars(args), "variants": args.variants},
                                                "window": list(window), "n_train": n_train, "rows": rows})
    print(table(rows, args.refine_iterations), flush=True)
    print(f"wrote {out / 'results.json'}")
    return 0


def teacher_ceiling(case: Any, iterations: int) -> list[dict[str, Any]]:
    """Rows scoring the teacher on the TRAIN half's window: its refined object, and its labels (the patches the
    generator is trained on, ``ptycho_torch.teacher.teacher_labels``) stitched back bilinearly as ``ptycho infer``
    stitches - the best the network can do there by reproducing its labels."""
    from ptycho_torch.teacher import teacher_labels

    scan = case.scan
    pos = np.stack([scan["xcoords"][case.train], scan["ycoords"][case.train]], axis=1)
    train_window = R.scoring_window(pos, case.truth.shape, M=M_STITCH)
    labels = teacher_labels(scan["diffraction"][case.train], pos, scan["probeGuess"], iterations=iterations)
    rows = [{"variant": f"teacher: refined object ({iterations} passes), TRAIN window", "train_s": labels.seconds,
             **TS.scores(labels.object, np.asarray(labels.origin_xy, float), case.truth, train_window)}]
    canvas, origin = R.stitch(labels.Y, pos, M=M_STITCH, interpolation="bilinear")
    rows.append({"variant": "teacher: its labels, bilinear stitch, TRAIN window", **TS.scores(canvas, origin, case.truth,
                                                                                              train_window)})
    canvas, origin = R.stitch(scan["Y"][case.train], pos, M=M_STITCH, interpolation="bilinear")
    rows.append({"variant": "true train patches, bilinear stitch, TRAIN window", **TS.scores(canvas, origin, case.truth,
                                                                                             train_window)})
    for r in rows:
        print(f"  {r['variant']}: amp / phase SSIM {r['amp_ssim']:.3f} / {r['phase_ssim']:.3f}", flush=True)
    return rows


def table(rows: list[dict[str, Any]], refine_iterations: int = 0) -> str:
    """Markdown table: variant, epochs (supervised + Poisson), train s, SSIMs (registered / unregistered /
    phase-registered), optional refined SSIM."""
    head = ("| variant | share / keep | epochs (sup + Poisson) | train s | amp SSIM | phase SSIM | amp / phase "
            "unregistered | amp / phase phase-registered |" + (f" + {refine_iterations} passes |" if refine_iterations else ""))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        spec, hist = r.get("spec") or {}, r.get("history") or {}
        sv = "–" if not spec else ("Poisson" if spec["teacher"] == "none" else f"{spec['share']:g} / {spec['keep']:g}")
        ep = "–"
        if hist.get("epochs"):
            sw = hist.get("switch_epoch")
            sup = 0 if spec.get("teacher") == "none" else (hist["epochs"] if sw in (None, -1) else sw)
            ep = f"{hist['epochs']} ({sup} + {hist['epochs'] - sup})"
        un, pr = r.get("unregistered"), r.get("phase_reg")
        cells = [r["variant"], sv, ep, "–" if "train_s" not in r else f"{r['train_s']:.0f}",
                 f"{r['amp_ssim']:.3f}", f"{r['phase_ssim']:.3f}",
                 "–" if un is None else f"{un['amp_ssim']:.3f} / {un['phase_ssim']:.3f}",
                 "–" if pr is None else f"{pr['amp_ssim']:.3f} / {pr['phase_ssim']:.3f}"]
        if refine_iterations:
            rf = r.get("refined")
            cells.append("–" if rf is None else f"{rf['amp_ssim']:.3f} / {rf['phase_ssim']:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
