"""How many refinement passes the refined-scan input needs, and how to stitch the CNN's corrections
(specs/network.md §8.3; benchmarks/RESULTS.md "The network on the refined scan").

For one benchmark scan: refine the training half from flat for ``--teacher`` passes (the labels) and keep its
object after each of ``--passes``; for each R, train the projected generator's CNN (``build_projected_parts``,
n_filters_scale ``--nfs``, Adam 1e-3, batch 16, the teacher's split loss) for ``--minutes`` on (R-pass patch ->
label patch) pairs of the training half, then on the unseen half refine R passes from flat, correct every
patch and score (registered SSIM on the scoring window):

* ``R passes alone``: the refined canvas itself;
* ``patches, M``: the estimate patches, and the corrected patches, stitched with the central M pixels (bilinear);
* ``canvas + corrections, M``: the refined canvas plus the Fourier stitch of (corrected - estimate) patches.

Labels and inputs are both cut from refinements of the training half (no ground truth); everything runs in the
refinement's own units and phase frame (no calibration needed: the product does the same in the network's).

    OMP_NUM_THREADS=1 python benchmarks/refined_input_passes.py --scan 0 --passes 2 3 5 --minutes 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402
from refinement_realistic import Bench  # noqa: E402


def _train_cnn(x, y, n: int, nfs: int, minutes: float):
    """The projected generator's CNN trained on (x -> y) patch pairs, torch (P, 1, N, N) complex; returns (its
    parts, epochs)."""
    import torch

    from ptycho_torch.generators.projected import build_projected_parts, correct_estimates
    from ptycho_torch.teacher.loss import split_loss

    parts = build_projected_parts(types.SimpleNamespace(N=n, n_filters_scale=nfs, pad_object=True, probe_big=True,
                                                        correction_window=0))
    opt = torch.optim.Adam([p for m in parts for p in m.parameters()], lr=1e-3)
    t0, epochs = time.time(), 0
    while time.time() - t0 < minutes * 60:
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 16):
            idx = perm[i:i + 16]
            amp, phase = correct_estimates(*parts, x[idx], torch.float32)
            loss = split_loss(amp, phase, y[idx].abs(), y[idx].angle())
            opt.zero_grad()
            loss.backward()
            opt.step()
        epochs += 1
    return parts, epochs


def run(scan_index: int, passes: list[int], teacher: int, minutes: float, nfs: int) -> list[dict]:
    import torch

    from ptycho_torch.generators.projected import correct_estimates
    from ptycho_torch.refine import RefineOptions, refine
    from ptycho_torch.teacher.labels import label_patches

    torch.manual_seed(0)
    case = R.prepare(R.BENCHMARK_SCANS[scan_index])
    bench, scan, tr = Bench(case), case.scan, case.train
    d_tr = np.ascontiguousarray(scan["diffraction"][tr])
    p_tr = np.stack([scan["xcoords"][tr], scan["ycoords"][tr]], 1)

    def keep(store: dict, res) -> None:
        if len(res.history) in passes:
            store[len(res.history)] = (np.array(res.object), res.origin_xy, res.history[-1]["time_s"])

    train_objs: dict = {}
    labels_run = refine(d_tr, p_tr, bench.probe, scale=bench.scale, options=RefineOptions(iterations=teacher),
                        on_result=lambda r: keep(train_objs, r))
    n = d_tr.shape[-1]
    y = torch.from_numpy(label_patches(labels_run.object, labels_run.origin_xy, p_tr, n))[:, None]
    test_objs: dict = {}
    refine(bench.diffraction, bench.positions, bench.probe, scale=bench.scale,
           options=RefineOptions(iterations=max(passes)), on_result=lambda r: keep(test_objs, r))
    rows = []
    for r in passes:
        obj_tr, org_tr, _ = train_objs[r]
        obj_te, org_te, refine_s = test_objs[r]
        x = torch.from_numpy(label_patches(obj_tr, org_tr, p_tr, n))[:, None]
        x_te = torch.from_numpy(label_patches(obj_te, org_te, bench.positions, n))[:, None]
        parts, epochs = _train_cnn(x, y, n, nfs, minutes)
        with torch.no_grad():
            t0 = time.time()
            out = np.concatenate([
                (lambda a: (a[0] * torch.exp(1j * a[1]))[:, 0].numpy())(correct_estimates(*parts, x_te[i:i + 64],
                                                                                        torch.float32))
                for i in range(0, x_te.shape[0], 64)])
            cnn_s = time.time() - t0
        est = x_te[:, 0].numpy()
        row = {"scan": case.spec.label, "R": r, "refine_s": refine_s, "cnn_s": cnn_s, "epochs": epochs,
               "R passes alone": bench.score(obj_te, org_te)}
        for m in (20, 48):
            row[f"estimate patches, M {m}"] = bench.score(*R.stitch(est, bench.positions, M=m, interpolation="bilinear"))
            row[f"corrected patches, M {m}"] = bench.score(*R.stitch(out, bench.positions, M=m,
                                                                      interpolation="bilinear"))
            c1, o1 = R.stitch(out, bench.positions, M=m, interpolation="fourier")
            c0, _ = R.stitch(est, bench.positions, M=m, interpolation="fourier")
            comb = R.window_of(obj_te, org_te, case.window) + R.window_of(c1 - c0, o1, case.window)
            h = R.headline(R.score(comb, case.truth, case.window))
            row[f"canvas + corrections, M {m}"] = (h["amp_ssim"], h["phase_ssim"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scan", type=int, default=0, help="index into realistic.BENCHMARK_SCANS")
    ap.add_argument("--passes", type=int, nargs="+", default=[2, 3, 5], help="refinement passes R of the input")
    ap.add_argument("--teacher", type=int, default=20, help="refinement passes of the labels")
    ap.add_argument("--minutes", type=float, default=5.0, help="CNN training time per R")
    ap.add_argument("--nfs", type=int, default=1, help="n_filters_scale of the CNN")
    args = ap.parse_args(argv)
    rows = run(args.scan, sorted(set(args.passes)), args.teacher, args.minutes, args.nfs)
    keys = [k for k in rows[0] if isinstance(rows[0][k], tuple)]
    print("| R | epochs | refine s | " + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for row in rows:
        cells = " | ".join(f"{row[k][0]:.3f} / {row[k][1]:.3f}" for k in keys)
        print(f"| {row['R']} | {row['epochs']} | {row['refine_s']:.1f} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
