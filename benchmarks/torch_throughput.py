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
* overhead split: the same batches as plain steps (loss, backward, Adam; no Trainer) and the physics +
  loss part alone (ForwardModel and Poisson NLL forward/backward on fixed network outputs); printed as
  shares of a ``Trainer.fit`` step ('physics', 'Lightning' = everything outside the bare step:
  data loading, logging, checkpointing);
* ``--profile``: ``torch.profiler`` table of the top operators of a few training steps and the share of
  profiled CPU time spent in convolutions.

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
    from realistic import matmul_rate  # benchmarks/realistic.py: one definition of the reference rate

    return matmul_rate()


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
    """The module's training loss of one batch (``PtychoPINN_Lightning.compute_loss``)."""
    return module.compute_loss(batch)[0]


def _bare_steps(module, batches, optimizer) -> float:
    """Seconds for plain training steps (loss, backward, optimizer step) over ``batches``: no Trainer."""
    import time

    module.train()
    t = time.perf_counter()
    for b in batches:
        loss = _loss(module, b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - t


def _physics_steps(module, batches) -> float:
    """Seconds for the physics + loss part of the same steps: ForwardModel and Poisson NLL forward and
    backward on fixed (detached, grad-requiring) network outputs (per batch the minimum of 3 repeats)."""
    import time

    from ptycho_torch.forward_model import object_patches
    from ptycho_torch.network import run_generator
    from ptycho_torch.physics.losses import poisson_nll

    s = module.intensity_scale
    prepared = []
    for b in batches:
        x = module.forward_model.scale_input(b["X"] * s)
        amp, phase = run_generator(module.encoder, module.decoder_amp, module.decoder_phase, x)
        prepared.append((amp.detach().requires_grad_(), phase.detach().requires_grad_(), b))
    total = 0.0
    for amp, phase, b in prepared:  # per batch the fastest of 3 repeats: these ms-scale ops are load-sensitive
        best = math.inf
        for _ in range(3):
            t = time.perf_counter()
            _, pred = module.forward_model(object_patches(amp, phase), b["coords_relative"])
            target = b["X"] * s
            poisson_nll(target * target, pred * pred).backward()
            best = min(best, time.perf_counter() - t)
        total += best
    return total


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
        # the workflow's defaults: checkpoints (last.ckpt every 50 steps + epoch ends, best model), no logger
        exec_cfg = {"accelerator": "cpu", "logger_backend": "none"}
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
        n_batches = math.ceil(groups / BATCH)
        batches = [container.batch(list(range(i * BATCH, min(groups, (i + 1) * BATCH)))) for i in range(n_batches)]
        optimizer = module.configure_optimizers()
        optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
        _bare_steps(module, batches[:2], optimizer)  # warm-up
        t_bare = min(_bare_steps(module, batches, optimizer) for _ in range(max(1, timed)))
        t_phys = _physics_steps(module, batches)
        batch = batches[0]
        module.train()
        f_train = _flops_per_batch(module, batch, True)
        module.eval()
        f_inf = _flops_per_batch(module, batch, False)
        mm = max(_matmul_flops() for _ in range(3))
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
            "bare_step_s": t_bare / n_batches,
            "fit_step_s": t_train / (n_batches * timed),
            "physics_step_s": t_phys / n_batches,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as tprofile

            module.train()
            with tprofile(activities=[ProfilerActivity.CPU]) as prof:
                _bare_steps(module, batches[:4], optimizer)
            events = prof.key_averages()
            total = sum(e.self_cpu_time_total for e in events)
            conv = sum(e.self_cpu_time_total for e in events if "conv" in e.key)
            out["conv_share"] = conv / total
            out["profile"] = events.table(sort_by="self_cpu_time_total", row_limit=15)
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
    hdr = (f"{'gs':>3} {'train pat/s':>12} {'infer pat/s':>12} {'train GFLOP/s':>14} {'infer GFLOP/s':>14} "
           f"{'matmul GFLOP/s':>15} {'train/mm':>9} {'infer/mm':>9} {'physics':>8} {'Lightning':>10} {'peak RSS MB':>12}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        mm = r["matmul_flop_rate"]
        phys = r["physics_step_s"] / r["fit_step_s"]
        light = max(0.0, 1.0 - r["bare_step_s"] / r["fit_step_s"])
        print(
            f"{r['gridsize']:>3} {r['train_patterns_s']:>12.1f} {r['infer_patterns_s']:>12.1f} "
            f"{r['train_flop_rate'] / 1e9:>14.2f} {r['infer_flop_rate'] / 1e9:>14.2f} {mm / 1e9:>15.2f} "
            f"{r['train_flop_rate'] / mm:>9.2f} {r['infer_flop_rate'] / mm:>9.2f} {phys:>8.1%} {light:>10.1%} "
            f"{r['peak_rss_mb']:>12.0f}"
        )
    for r in rows:
        print(f"gs={r['gridsize']}: FLOPs/batch training {r['train_flops_per_batch'] / 1e9:.2f} G, inference "
              f"{r['infer_flops_per_batch'] / 1e9:.2f} G; step {r['fit_step_s'] * 1e3:.0f} ms in Trainer.fit, "
              f"{r['bare_step_s'] * 1e3:.0f} ms bare, physics+loss {r['physics_step_s'] * 1e3:.0f} ms"
              + (f"; convolutions {r['conv_share']:.0%} of profiled CPU time" if "conv_share" in r else ""))
    print("physics = ForwardModel + Poisson NLL forward/backward share of a Trainer.fit step; Lightning = share of "
          "a Trainer.fit step not spent in the bare loss/backward/Adam step (data loading, logging, checkpoints)")
    print("targets (gs=1): training >= 20 patterns/s, inference >= 66 patterns/s")
    for r in rows:
        if "profile" in r:
            print(f"\n--- torch.profiler, gridsize {r['gridsize']}, 4 training steps ---\n{r['profile']}")


if __name__ == "__main__":
    main()
