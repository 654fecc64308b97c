"""PyTorch backend throughput: training and inference patterns/s, peak RSS, achieved FLOP rate.

Usage:  python benchmarks/torch_throughput.py [--groups 128] [--epochs 2] [--profile]

For gridsize 1 and 2 at N=64, batch 16, ``torch.set_num_threads(2)`` (each case in a fresh
subprocess so its peak RSS is its own):

* training: Lightning ``Trainer.fit`` over ``--groups`` groups; the first epoch is warm-up, the
  rest are timed; patterns/s = groups * C * timed epochs / seconds;
* inference: ``predict_patches`` (batched ``predict_step`` under inference_mode) over the same groups;
* FLOPs per batch from ``torch.utils.flop_counter.FlopCounterMode`` (one training forward+backward,
  one inference forward), turned into an achieved FLOP/s and divided by the float32 matmul rate
  measured in the same process (1024^3 ``torch.mm``);
* ``--profile``: ``torch.profiler`` table of the top operators of a few training steps.

Targets (specs/torch-workflow.md §8): >= 20 patterns/s training, >= 66 patterns/s inference at gs=1.
Data are synthetic random amplitudes (throughput does not depend on their content).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N, BATCH, THREADS = 64, 16, 2


def _raw(M: int, seed: int = 0):
    import numpy as np

    from ptycho.raw_data import RawData

    rng = np.random.default_rng(seed)
    side = math.isqrt(M) + 1
    gx, gy = np.meshgrid(np.arange(side) * 5.0, np.arange(side) * 5.0)
    x, y = gx.ravel()[:M] + 40, gy.ravel()[:M] + 40
    diff = rng.uniform(0.0, 3.0, size=(M, N, N)).astype(np.float32)
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = np.exp(-(xx**2 + yy**2) / 200.0).astype(np.complex64)
    return RawData.from_coords_without_pc(x, y, diff, probe, np.zeros(M, np.int64))


def _matmul_flops() -> float:
    import torch

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    reps, t = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * 1024**3 * reps / (time.perf_counter() - t)


def _flops_per_batch(module, batch, train: bool) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        if train:
            obj_loss = _loss(module, batch)
            obj_loss.backward()
        else:
            with torch.no_grad():
                module.predict_step(batch, 0)
    module.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def _loss(module, batch):
    """A differentiable training loss of one batch through the module's own loss path."""
    for name in ("compute_loss", "_compute_loss", "loss_for_batch"):
        fn = getattr(module, name, None)
        if callable(fn):
            out = fn(batch)
            return out[0] if isinstance(out, tuple) else out
    # fall back on the predicted object (forward + backward cost of the generator only)
    return module.predict_step(batch, 0)["object"].abs().mean()


def run_case(gridsize: int, groups: int, epochs: int, profile: bool, nfs: int) -> dict:
    import torch

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_torch.data import PtychoDataContainerTorch
    from ptycho_torch.workflows.components import predict_patches, train_cdi_model_torch

    torch.set_num_threads(THREADS)
    C = gridsize * gridsize
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainingConfig(
            model=ModelConfig(N=N, gridsize=gridsize, n_filters_scale=nfs), n_groups=groups, batch_size=BATCH, nepochs=1,
            nphotons=1e9, neighbor_count=max(4, C), subsample_seed=0, output_dir=Path(tmp),
        )
        container = PtychoDataContainerTorch.from_raw_data(_raw(max(groups, 64)), cfg)
        exec_cfg = {"accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False}
        res = train_cdi_model_torch(container, None, cfg, execution_config=exec_cfg)  # warm-up epoch
        module = res["models"]["lightning_module"]
        timed = max(1, epochs - 1)
        cfg.nepochs = timed
        t = time.perf_counter()
        train_cdi_model_torch(container, None, cfg, execution_config=exec_cfg)
        t_train = time.perf_counter() - t
        predict_patches(module, container, batch_size=BATCH, device=torch.device("cpu"))  # warm-up
        t = time.perf_counter()
        predict_patches(module, container, batch_size=BATCH, device=torch.device("cpu"))
        t_inf = time.perf_counter() - t
        batch = container.batch(list(range(BATCH)))
        module.train()
        f_train = _flops_per_batch(module, batch, True)
        module.eval()
        f_inf = _flops_per_batch(module, batch, False)
        mm = _matmul_flops()
        n_batches = math.ceil(groups / BATCH)
        out = {
            "gridsize": gridsize,
            "groups": groups,
            "train_patterns_s": groups * C * timed / t_train,
            "infer_patterns_s": groups * C / t_inf,
            "train_flops_per_batch": f_train,
            "infer_flops_per_batch": f_inf,
            "train_flop_rate": f_train * n_batches * timed / t_train,
            "infer_flop_rate": f_inf * n_batches / t_inf,
            "matmul_flop_rate": mm,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as tprofile

            opt = torch.optim.Adam(module.parameters(), 1e-3)
            module.train()
            with tprofile(activities=[ProfilerActivity.CPU]) as prof:
                for i in range(4):
                    b = container.batch(list(range(i * BATCH, (i + 1) * BATCH)))
                    loss = _loss(module, b)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            out["profile"] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2, help="epochs incl. one warm-up epoch")
    ap.add_argument("--n-filters-scale", type=int, default=2, help="ModelConfig.n_filters_scale (default 2)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--case", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.groups, args.epochs, args.profile, args.n_filters_scale)))
        return
    rows = []
    for gs in (1, 2):
        cmd = [sys.executable, __file__, "--case", str(gs), "--groups", str(args.groups), "--epochs", str(args.epochs),
               "--n-filters-scale", str(args.n_filters_scale)]
        if args.profile:
            cmd.append("--profile")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"gridsize {gs} case failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"PyTorch backend throughput, N={N}, batch {BATCH}, torch threads {THREADS}, {args.groups} groups, "
          f"n_filters_scale {args.n_filters_scale}")
    hdr = f"{'gs':>3} {'train pat/s':>12} {'infer pat/s':>12} {'train GFLOP/s':>14} {'infer GFLOP/s':>14} {'matmul GFLOP/s':>15} {'train/mm':>9} {'infer/mm':>9} {'peak RSS MB':>12}"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        mm = r["matmul_flop_rate"]
        print(
            f"{r['gridsize']:>3} {r['train_patterns_s']:>12.1f} {r['infer_patterns_s']:>12.1f} "
            f"{r['train_flop_rate'] / 1e9:>14.2f} {r['infer_flop_rate'] / 1e9:>14.2f} {mm / 1e9:>15.2f} "
            f"{r['train_flop_rate'] / mm:>9.2f} {r['infer_flop_rate'] / mm:>9.2f} {r['peak_rss_mb']:>12.0f}"
        )
    for r in rows:
        print(f"gs={r['gridsize']}: FLOPs/batch training {r['train_flops_per_batch'] / 1e9:.2f} G, inference {r['infer_flops_per_batch'] / 1e9:.2f} G")
    print("targets (gs=1): training >= 20 patterns/s, inference >= 66 patterns/s")
    for r in rows:
        if "profile" in r:
            print(f"\n--- torch.profiler, gridsize {r['gridsize']}, 4 training steps ---\n{r['profile']}")


if __name__ == "__main__":
    main()
