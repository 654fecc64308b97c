"""Why the network learns slowly: generator variants at equal optimiser steps, scored on the unseen half.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/network_diagnosis.py [--scan 0] [--steps 600] [--checkpoints 200,400,600]
        [--variants pinn teacher oracle] [--teacher-iterations 60] [--batch-size 16] [--seed 42]
        [--output-dir network_diagnosis_output] [--quick]

The harness behind benchmarks/RESULTS.md "Why the network learns slowly", rerunnable: each variant is this
project's PINN generator (``PtychoPINN_Lightning`` built from the canonical ``TrainingConfig`` that ``ptycho
train --backend pytorch`` builds: n_filters_scale 1, gridsize 1, Adam at the module's learning rate) trained by
a plain PyTorch loop for ``--steps`` optimiser steps (batch ``--batch-size``, every training pattern per epoch,
Lightning's epoch-seeded order), on the TRAINING half of a benchmark scan (``realistic.BENCHMARK_SCANS[--scan]``,
neutral fine-grid model). Optimiser steps are the comparable unit: seconds depend on the variant's step cost
and on the machine's load (both printed).

Variants (``VARIANTS``; any subset, in order):

* ``pinn``: the product's loss, the Poisson NLL through the forward model (``module.compute_loss``);
* ``pinn-nfs2``, ``pinn-grid2``, ``pinn-fno``, ``pinn-ffno``: the same with n_filters_scale 2, gridsize 2
  (object_big), the Fourier-operator generators (specs/network.md §7);
* ``pinn-kaiming``, ``teacher-kaiming``, ``oracle-kaiming``: He-normal re-initialisation of every convolution
  (the generator's Glorot start gives nearly input-independent outputs, RESULTS.md "Why the network learns
  slowly" #3); ``oracle-lr3e-3``: three times the learning rate;
* ``teacher``: the split loss (amplitude MAE + wrapped phase MAE, ``ptycho_torch.teacher.loss.split_loss``) on the
  refinement teacher's labels (``ptycho_torch.teacher.labels.teacher_labels``: the training half refined from flat
  with ``--teacher-iterations`` passes, labels calibrated to the network's units by ``calibrate_amplitude``); no
  ground truth, as ``ptycho train --teacher refine`` trains its supervised stage;
* ``oracle``: the same split loss on the TRUE training patches (the simulation's ``Y``, phase centred and
  calibrated the same way). Never a product path: it separates "the labels are wrong" from "the generator cannot
  learn the map in this many steps".

At each checkpoint the generator's patches of the training half and of the unseen half are stitched with the
band-limited stitcher (``realistic.stitch``, interpolation 'fourier', M = 20) and scored (``realistic.score``:
registered amplitude / phase SSIM) on each half's scoring window; also the mean Poisson NLL per element of the
training half under the current generator (``ptycho_torch.refine.network_nll``; counts), the one loss every variant
is compared on. Anchor rows: a flat object and the true patches stitched the same way.
Prints one markdown table; writes ``<output-dir>/results.json``. ``--quick``: 400 positions, 192^2 object, 30 steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402

M_STITCH = 20
#: variant -> (loss 'poisson' | 'split', labels None | 'teacher' | 'truth', ModelConfig overrides, loop options:
#: 'init' 'kaiming' re-initialises every Conv2d with He-normal weights (fan-in, ReLU gain) and zero biases;
#: 'lr' replaces the module's learning rate)
VARIANTS: dict[str, tuple[str, str | None, dict[str, Any], dict[str, Any]]] = {
    "pinn": ("poisson", None, {}, {}),
    "pinn-nfs2": ("poisson", None, {"n_filters_scale": 2}, {}),
    "pinn-grid2": ("poisson", None, {"gridsize": 2, "object_big": True}, {}),
    "pinn-fno": ("poisson", None, {"architecture": "fno"}, {}),
    "pinn-ffno": ("poisson", None, {"architecture": "ffno"}, {}),
    "pinn-kaiming": ("poisson", None, {}, {"init": "kaiming"}),
    "teacher": ("split", "teacher", {}, {}),
    "teacher-kaiming": ("split", "teacher", {}, {"init": "kaiming"}),
    "oracle": ("split", "truth", {}, {}),
    "oracle-kaiming": ("split", "truth", {}, {"init": "kaiming"}),
    "oracle-lr3e-3": ("split", "truth", {}, {"lr": 3e-3}),
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scan", type=int, default=0, help="index into realistic.BENCHMARK_SCANS (default 0)")
    p.add_argument("--steps", type=int, default=600, help="optimiser steps per variant (default 600)")
    p.add_argument("--checkpoints", default="", help="comma-separated steps to score at (default: --steps only)")
    p.add_argument("--variants", nargs="+", default=["pinn", "teacher", "oracle"], choices=sorted(VARIANTS))
    p.add_argument("--teacher-iterations", type=int, default=60, help="teacher refinement passes (default 60)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=42, help="weights and batch order (default 42)")
    p.add_argument("--output-dir", default="network_diagnosis_output")
    p.add_argument("--quick", action="store_true", help="400 positions, 192^2 object, 30 steps (a smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 30)
    marks = sorted({int(v) for v in args.checkpoints.split(",") if v.strip()} | {args.steps})
    if args.steps < 1 or marks[0] < 1 or marks[-1] > args.steps:
        p.error("--steps must be >= 1 and every checkpoint in 1..steps")
    args.marks = marks
    return args


def _config(train_npz: Path, out: Path, n_train: int, nphotons: float, batch: int, overrides: dict[str, Any]) -> Any:
    """The TrainingConfig ``ptycho train --backend pytorch`` builds for this scan, with ModelConfig overrides."""
    from ptycho.config.config import ModelConfig, TrainingConfig

    model = dataclasses.replace(ModelConfig(N=64, gridsize=1, n_filters_scale=1, model_type="pinn"), **overrides)
    return TrainingConfig(model=model, backend="pytorch", train_data_file=Path(train_npz), output_dir=Path(out),
                          n_groups=None, batch_size=int(batch), nepochs=1, nphotons=float(nphotons))


def _labels(kind: str, case: R.Case, iterations: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """(P, N, N) complex64 labels of the training half, phase centred; and a record of how they were made."""
    from ptycho_torch.teacher.labels import recentre_phase, teacher_labels

    scan, train = case.scan, case.train
    if kind == "truth":
        Y, offset = recentre_phase(np.asarray(scan["Y"][train], dtype=np.complex64))
        return Y, {"labels": "true patches", "phase_offset": offset}
    positions = np.stack([scan["xcoords"][train], scan["ycoords"][train]], axis=1).astype(np.float64)
    lab = teacher_labels(scan["diffraction"][train], positions, scan["probeGuess"], iterations=iterations, seed=seed)
    return lab.Y, {"labels": f"teacher, {iterations} passes", "seconds": lab.seconds, "nll": lab.nll}


def _raw(case: R.Case, index: np.ndarray, Y: np.ndarray | None = None) -> Any:
    """RawData of the scan restricted to ``index`` (no ground truth; ``Y`` as labels when given)."""
    from ptycho.raw_data import RawData

    scan = case.scan
    x, y = scan["xcoords"][index], scan["ycoords"][index]
    return RawData(x, y, x, y, np.asarray(scan["diffraction"][index], np.float32), scan["probeGuess"],
                   np.arange(len(index)), objectGuess=None, Y=Y)


def _patches(module: Any, container: Any) -> tuple[np.ndarray, np.ndarray]:
    """Generator patches (P, N, N) and their object positions (P, 2) [x, y], one per scan point of every group."""
    import torch

    module.eval()
    patches, offsets = [], []
    with torch.no_grad():
        for start in range(0, len(container), 128):
            idx = torch.arange(start, min(start + 128, len(container)))
            batch = container.batch(idx)
            out = module(batch["X"] * module.intensity_scale, batch["coords_relative"])["object"]
            out = out if out.dim() == 4 else out[..., None]  # (B, N, N, C)
            patches.append(out.permute(0, 3, 1, 2).reshape(-1, out.shape[1], out.shape[2]).numpy())
            # scan point of channel c: group offset minus the (sign -1) relative offset
            pos = (container.global_offsets[idx] - container.coords_relative[idx])  # (B, 1, 2, C)
            offsets.append(pos[:, 0].permute(0, 2, 1).reshape(-1, 2).numpy())
    module.train()
    return np.concatenate(patches), np.concatenate(offsets).astype(np.float64)


def _score(patches: np.ndarray, offsets: np.ndarray, case: R.Case, window: tuple[int, int, int, int],
           register: bool = True) -> tuple[float, float]:
    canvas, origin = R.stitch(patches, offsets, M=M_STITCH, interpolation="fourier")
    h = R.headline(R.score(R.window_of(canvas, origin, window), case.truth, window, register=register))
    return h["amp_ssim"], h["phase_ssim"]


def run_variant(name: str, case: R.Case, windows: dict[str, Any], args: argparse.Namespace,
                work: Path) -> list[dict[str, Any]]:
    """Train one variant for ``args.steps`` steps; one row per checkpoint."""
    import lightning.pytorch as L
    import torch

    from ptycho_torch.data import build_dataloader, create_ptycho_data_container
    from ptycho_torch.refine import network_nll
    from ptycho_torch.teacher.labels import calibrate_amplitude
    from ptycho_torch.teacher.loss import split_loss
    from ptycho_torch.teacher.module import TeacherPINN_Lightning

    loss_kind, label_kind, overrides, loop = VARIANTS[name]
    record: dict[str, Any] = {}
    Y = None
    if label_kind is not None:
        Y, record = _labels(label_kind, case, args.teacher_iterations, args.seed)
    config = _config(work / "train.npz", work / name, len(case.train), float(case.scan["nphotons"]),
                     args.batch_size, overrides)
    container = create_ptycho_data_container(_raw(case, case.train, Y), config)
    test_container = create_ptycho_data_container(_raw(case, case.test), config,
                                                  intensity_scale=container.intensity_scale)
    L.seed_everything(args.seed, verbose=False)
    module = TeacherPINN_Lightning(config.model, config, container.probe, container.intensity_scale)
    if loop.get("init") == "kaiming":
        for m in module.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    torch.nn.init.zeros_(m.bias)
    if Y is not None:
        container.Y = container.Y * calibrate_amplitude(module.forward_model, container)
    opt = module.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    if "lr" in loop:
        for group in opt.param_groups:
            group["lr"] = float(loop["lr"])
    loader = build_dataloader(container, args.batch_size, shuffle=True, seed=args.seed)
    rows, losses, step, epoch, seconds = [], [], 0, 0, 0.0
    module.train()
    print(f"{name}: {len(container)} groups, {sum(p.numel() for p in module.parameters())} parameters, "
          f"{record.get('labels', 'no labels')}", flush=True)
    while step < args.steps:
        loader.sampler.set_epoch(epoch)
        for batch in loader:
            t = time.perf_counter()
            if loss_kind == "poisson":
                loss = module.compute_loss(batch)[0]
            else:
                out = module(batch["X"] * module.intensity_scale, batch["coords_relative"])
                loss = split_loss(out["amp"], out["phase"], batch["label_amp"], batch["label_phase"])
            if not bool(torch.isfinite(loss)):
                raise SystemExit(f"network_diagnosis: {name}: non-finite loss at step {step + 1}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            seconds += time.perf_counter() - t
            step += 1
            losses.append(float(loss.detach()))
            if step in args.marks:
                rows.append(_checkpoint(name, module, container, test_container, case, windows, step, seconds,
                                        losses, record, network_nll))
            if step >= args.steps:
                break
        epoch += 1
    return rows


def _checkpoint(name, module, container, test_container, case, windows, step, seconds, losses, record,
                network_nll) -> dict[str, Any]:
    train_a, train_p = _score(*_patches(module, container), case, windows["train"])
    test_a, test_p = _score(*_patches(module, test_container), case, windows["test"])
    row = {"variant": name, "steps": step, "train_s": seconds, "loss_last50": float(np.mean(losses[-50:])),
           "train_nll": network_nll(module, container), "train_amp_ssim": train_a, "train_phase_ssim": train_p,
           "test_amp_ssim": test_a, "test_phase_ssim": test_p, **record}
    print(f"  {name} step {step}: {seconds:.0f} s, loss {row['loss_last50']:.4g}, train NLL {row['train_nll']:.4g}, "
          f"train {train_a:.3f} / {train_p:.3f}, unseen {test_a:.3f} / {test_p:.3f}", flush=True)
    return row


def _table(rows: list[dict[str, Any]], anchors: dict[str, Any]) -> str:
    lines = ["| variant | steps | step s (sum) | own loss (last 50) | train NLL | train amp / phase SSIM "
             "| unseen amp / phase SSIM |", "|---|---|---|---|---|---|---|"]
    for name, (a, p, ta, tp) in anchors.items():
        lines.append(f"| {name} | – | – | – | – | {ta:.3f} / {tp:.3f} | {a:.3f} / {p:.3f} |")
    for r in rows:
        lines.append(f"| {r['variant']} | {r['steps']} | {r['train_s']:.0f} | {r['loss_last50']:.4g} | "
                     f"{r['train_nll']:.4g} | {r['train_amp_ssim']:.3f} / {r['train_phase_ssim']:.3f} | "
                     f"{r['test_amp_ssim']:.3f} / {r['test_phase_ssim']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    import torch

    from ptycho.atomic_io import save_json_atomic

    spec = R.BENCHMARK_SCANS[args.scan]
    if args.quick:
        spec = dataclasses.replace(spec, n_positions=400, object_size=192)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rate = R.matmul_rate()
    case = R.prepare(spec, M=M_STITCH)
    train_pos = np.stack([case.scan["xcoords"][case.train], case.scan["ycoords"][case.train]], axis=1)
    windows = {"test": case.window,
               "train": R.scoring_window(train_pos, case.scan["objectGuess"].shape, M=M_STITCH)}
    print(f"scan {spec.label}: {len(case.train)} train / {len(case.test)} unseen positions; float32 matmul "
          f"{rate / 1e9:.1f} GFLOP/s, {torch.get_num_threads()} torch threads", flush=True)
    ones = np.ones((64, 64), np.complex64)
    anchors = {
        "flat object": (*_score(np.repeat(ones[None], len(case.test), 0), case.test_positions, case, windows["test"],
                                False),
                        *_score(np.repeat(ones[None], len(case.train), 0), train_pos, case, windows["train"], False)),
        "true patches": (*_score(case.scan["Y"][case.test], case.test_positions, case, windows["test"]),
                         *_score(case.scan["Y"][case.train], train_pos, case, windows["train"])),
    }
    rows: list[dict[str, Any]] = []
    results = {"scan": spec.label, "matmul_flops": rate, "args": {k: v for k, v in vars(args).items()},
               "anchors": anchors, "rows": rows}
    for name in args.variants:
        rows += run_variant(name, case, windows, args, out)
        save_json_atomic(out / "results.json", results)
    print(_table(rows, anchors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
