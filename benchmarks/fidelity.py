"""Reconstruction fidelity of the PyTorch and TensorFlow backends on one simulated 'lines' scan.

Usage:  python benchmarks/fidelity.py [--positions 1000] [--epochs 50] [--gridsize 2] [--n-groups N]
                                      [--n-filters-scale 2] [--accelerator auto] [--backend both]
                                      [--tf-init torch|own] [--json out.json]

Simulates (``ptycho.simulation.simulate``) a 'lines' object, N=64, ``--positions`` Fermat-scan
points, 1e9 photons with Poisson noise; trains PtychoPINN (PyTorch backend) self-supervised on that
scan (no labels) with ``run_cdi_example_torch``; stitches the reconstruction (M=20) and scores it
against the simulated object with ``ptycho.metrics.evaluate`` (registration, amplitude scaling,
phase-plane removal), after cutting the ground-truth window under the covered part of the canvas.
Prints amplitude/phase SSIM and PSNR, and the same for two references: the untrained (epoch-0)
model, the true object patches stitched by the same code ('true_patches', the ceiling of the
scoring pipeline: bilinear stitching and the canvas edges cost some SSIM even for perfect patches), and a
flat object (amplitude 1, phase 0) on the same canvas ('flat', the floor: a reconstruction that learned
nothing but the mean scores about this).
With ``--backend both`` (default) the TensorFlow backend trains on the same scan with the same config
(``ptycho.workflows.components.run_cdi_example``, same groups through the shared default seed) and is
scored the same way; the table then shows the SSIM difference between the backends (the issue's target:
within 0.02). The defaults are the full benchmark (hours on a 2-core CPU; minutes on a GPU); the slow test
``test_torch_fidelity_guard`` runs a reduced configuration of the same code.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

N, M_STITCH = 64, 20


def ground_truth_window(canvas: np.ndarray, obj: np.ndarray, offsets: np.ndarray, M: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut equal windows of the stitched canvas and the true object (object pixel frame).

    The canvas (side M + 2·pad) is centred on the mean group offset, which lands at canvas index
    pad + M//2; so canvas pixel (r, c) is object pixel (mean_y − pad − M//2 + r, mean_x − pad − M//2 + c).
    The window is the bounding box of the covered canvas (|canvas| > 0), shrunk symmetrically until every pixel
    in it is covered (a spiral scan covers a disk, whose bounding-box corners are empty and would count as
    errors in every row), then by M//4 px per side.
    """
    off = np.asarray(offsets, np.float64).reshape(-1, 2)
    side = canvas.shape[0]
    pad = (side - M) // 2
    origin_x, origin_y = off.mean(0) - (pad + M // 2)
    covered = np.abs(canvas) > 0
    rows, cols = np.nonzero(covered)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    # a Fermat-spiral scan covers a disk: shrink the box until every pixel in it is covered
    while r1 - r0 > 8 and c1 - c0 > 8 and not covered[r0:r1, c0:c1].all():
        r0, r1, c0, c1 = r0 + 1, r1 - 1, c0 + 1, c1 - 1
    m = M // 4
    r0, r1, c0, c1 = r0 + m, r1 - m, c0 + m, c1 - m
    gr, gc = int(round(origin_y)) + r0, int(round(origin_x)) + c0
    gr0, gc0 = max(gr, 0), max(gc, 0)
    gr1, gc1 = min(gr + (r1 - r0), obj.shape[0]), min(gc + (c1 - c0), obj.shape[1])
    win = canvas[r0 + (gr0 - gr): r0 + (gr1 - gr), c0 + (gc0 - gc): c0 + (gc1 - gc)]
    return win, obj[gr0:gr1, gc0:gc1]


def _score(canvas: np.ndarray, obj: np.ndarray, offsets: np.ndarray) -> dict[str, Any]:
    from ptycho.metrics import evaluate

    win, truth = ground_truth_window(canvas, obj, offsets, M_STITCH)
    ev = evaluate(win, truth)
    out: dict[str, Any] = {part: {k: ev[part][k] for k in ("ssim", "psnr", "mae")} for part in ("amplitude", "phase")}
    out["window"] = list(win.shape)
    return out


def run_tensorflow(raw: Any, cfg: Any, obj: np.ndarray, init_module: Any = None) -> dict[str, Any]:
    """Train the TensorFlow backend on the same scan and config; stitch and score it like the PyTorch run.

    The TensorFlow run uses ``PYTORCH_DEFAULTS`` (every group trains, constant learning rate, every epoch runs),
    the schedule the PyTorch run has, instead of the original trainer's 5 % hold-out, plateau decay and
    3-epoch early stopping: otherwise the two backends would train on different schedules. With
    ``init_module`` (the PyTorch run's untrained module) the Keras network starts from its weights
    (``torch_to_tf`` of the parity suite's ``tests-parity/weight_transfer.py``), so that the comparison measures
    the backends, not two random initialisations.
    """
    from ptycho.workflows.components import run_cdi_example
    from ptycho_tf.training import PYTORCH_DEFAULTS

    tf_cfg = replace(cfg, backend="tensorflow", output_dir=Path(cfg.output_dir).with_name("run_tf"))
    t = time.perf_counter()
    init = None
    if init_module is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests-parity"))  # the parity suite's helper
        from weight_transfer import torch_to_tf

        def init(model: Any) -> None:
            torch_to_tf(init_module, model, include_physics=False)
    _, _, res = run_cdi_example(raw, raw, tf_cfg, M=M_STITCH, do_stitching=True, policy=PYTORCH_DEFAULTS,
                                init_weights=init)
    seconds = time.perf_counter() - t
    scores = _score(res["obj_tensor_full"], obj, res["global_offsets"])
    scores["train_seconds"] = seconds
    scores["final_train_loss"] = res["history"]["train_loss"][-1]
    return scores


def run(positions: int = 1000, epochs: int = 50, gridsize: int = 2, n_groups: int | None = None,
        n_filters_scale: int = 2, batch_size: int = 16, accelerator: str = "auto", seed: int = 0,
        nphotons: float = 1e9, backend: str = "pytorch", tf_init: str = "torch") -> dict[str, Any]:
    """Simulate, train, stitch, score; returns a JSON-able dict of the figures."""
    import torch

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho.simulation import write_simulation
    from ptycho_torch.workflows.components import _reassemble_cdi_image_torch, run_cdi_example_torch

    with tempfile.TemporaryDirectory() as tmp:
        path = write_simulation(Path(tmp) / "lines.npz", object_kind="lines", N=N, n_positions=positions,
                                nphotons=nphotons, seed=seed)
        raw = RawData.from_file(path)
        obj = raw.objectGuess
        cfg = TrainingConfig(
            model=ModelConfig(N=N, gridsize=gridsize, n_filters_scale=n_filters_scale),
            n_groups=n_groups or positions, batch_size=batch_size, nepochs=epochs, nphotons=nphotons,
            neighbor_count=max(4, gridsize * gridsize), subsample_seed=seed, output_dir=Path(tmp) / "run",
            backend="pytorch",
        )
        exec_cfg = {"accelerator": accelerator, "logger_backend": "none"}
        scores: dict[str, Any] = {"config": {"positions": positions, "epochs": epochs, "gridsize": gridsize,
                                             "n_groups": cfg.n_groups, "n_filters_scale": n_filters_scale,
                                             "batch_size": batch_size, "nphotons": nphotons}}
        # untrained reference: same seed, same initial weights as the training run
        import lightning.pytorch as L

        from ptycho_torch.data import PtychoDataContainerTorch
        from ptycho_torch.model import PtychoPINN_Lightning

        container = PtychoDataContainerTorch.from_raw_data(raw, cfg)
        L.seed_everything(seed, verbose=False)
        untrained = PtychoPINN_Lightning(cfg.model, cfg, container.probe, container.intensity_scale).eval()
        # ceiling of the scoring pipeline: the true object patches at every scan point, stitched the same way
        from ptycho_torch.stitching import stitch_patches

        gs1 = PtychoDataContainerTorch.from_raw_data(raw, replace(cfg, model=replace(cfg.model, gridsize=1), n_groups=positions))
        canvas, used = stitch_patches(gs1.Y[..., 0], gs1.global_offsets, M_STITCH)
        scores["true_patches"] = _score(canvas.numpy(), obj, used.numpy())
        # floor of the scoring pipeline: a flat object (amplitude 1, phase 0) over the same covered canvas
        flat = np.where(np.abs(canvas.numpy()) > 0, 1.0 + 0.0j, 0.0).astype(np.complex64)
        scores["flat"] = _score(flat, obj, used.numpy())
        for label, models in (("untrained", {"lightning_module": untrained}), ("trained", None)):
            t = time.perf_counter()
            if models is None:
                _, _, res = run_cdi_example_torch(container, None, cfg, do_stitching=False, execution_config=exec_cfg)
                scores["train_seconds"] = time.perf_counter() - t
                scores["final_train_loss"] = res["history"]["train_loss"][-1]
                models = res["models"]
            _, _, rec = _reassemble_cdi_image_torch(container, cfg, M=M_STITCH, models=models, execution_config=exec_cfg)
            scores[label] = _score(rec["stitched_obj"], obj, rec["global_offsets"])
        scores["device"] = "cuda" if (accelerator != "cpu" and torch.cuda.is_available()) else "cpu"
        if backend == "both":
            scores["trained_tensorflow"] = run_tensorflow(raw, cfg, obj, untrained if tf_init == "torch" else None)
            scores["config"]["tf_init"] = tf_init
        return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--gridsize", type=int, default=2)
    ap.add_argument("--n-groups", type=int, default=None, help="groups to train on (default: one per position)")
    ap.add_argument("--n-filters-scale", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--accelerator", default="auto")
    ap.add_argument("--backend", choices=("pytorch", "both"), default="both",
                    help="'both' also trains the TensorFlow backend on the same scan (default)")
    ap.add_argument("--tf-init", choices=("torch", "own"), default="torch",
                    help="TensorFlow run's initial weights: the PyTorch run's (default) or its own random ones")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    s = run(args.positions, args.epochs, args.gridsize, args.n_groups, args.n_filters_scale, args.batch_size,
            args.accelerator, args.seed, backend=args.backend, tf_init=args.tf_init)
    c = s["config"]
    print(f"PyTorch fidelity: lines, N={N}, {c['positions']} positions, {c['n_groups']} groups, gridsize {c['gridsize']}, "
          f"{c['epochs']} epochs, nphotons {c['nphotons']:.0e}, n_filters_scale {c['n_filters_scale']}, {s['device']}")
    print(f"training {s['train_seconds']:.0f} s, final train loss {s['final_train_loss']:.4g}")
    print(f"{'model':>18} {'amp SSIM':>9} {'amp PSNR':>9} {'phase SSIM':>11} {'phase PSNR':>11}  window")
    for label in ("true_patches", "flat", "untrained", "trained", "trained_tensorflow"):
        if label not in s:
            continue
        r = s[label]
        print(f"{label:>18} {r['amplitude']['ssim']:>9.3f} {r['amplitude']['psnr']:>9.2f} "
              f"{r['phase']['ssim']:>11.3f} {r['phase']['psnr']:>11.2f}  {r['window']}")
    if "trained_tensorflow" in s:
        tf_s, pt_s = s["trained_tensorflow"], s["trained"]
        d_amp = abs(tf_s["amplitude"]["ssim"] - pt_s["amplitude"]["ssim"])
        d_ph = abs(tf_s["phase"]["ssim"] - pt_s["phase"]["ssim"])
        print(f"TensorFlow training {tf_s['train_seconds']:.0f} s; |SSIM difference| TF vs PyTorch: "
              f"amplitude {d_amp:.3f}, phase {d_ph:.3f} (target <= 0.02)")
    if args.json:
        from ptycho.atomic_io import save_json_atomic

        save_json_atomic(args.json, s)


if __name__ == "__main__":
    main()
