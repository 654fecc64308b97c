"""Device throughput of the PyTorch model: inference and training patterns/s per precision, against the
device's measured float32 matmul rate (specs/scaling.md §5).

Usage:  python benchmarks/gpu_throughput.py [--device cuda|cpu] [--precisions 32 bf16-mixed 16-mixed]
        [--infer-batch 1024] [--train-batch 64] [--steps 50] [--gridsizes 1 2] [--json]

For each gridsize and precision, with N=64, n_filters_scale 2 (the canonical width), random amplitudes already
on the device (the host loader is not timed: it is measured by ``torch_throughput.py`` and ``scale.py``):

* inference: ``predict_step`` under ``inference_mode`` and the precision's autocast
  (``ptycho_torch.workflows.execution.autocast_for``), ``--steps`` batches of ``--infer-batch`` groups after
  3 warm-up batches; patterns/s = groups x C / seconds;
* training: bare steps (``compute_loss``, backward, fused Adam; fp16 with a ``GradScaler``) of
  ``--train-batch`` groups, the same timing; achieved FLOP/s = FLOPs per step (``FlopCounterMode``, float32
  count) / seconds per step, reported as a share of the float32 matmul rate of the device (TF32 off);
* every timing is bracketed by ``torch.cuda.synchronize`` on CUDA.

Anchors: ~6,100 inference patterns/s at 64² on one GPU (the PtychoPINN paper); the issue's targets are
>= 20,000 on a current data-centre GPU and training at >= 50 % of the matmul rate. ``--device cpu`` runs the
same code on the CPU (small batches): a dry run of the script, not a figure to compare with the targets.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

N = 64


def matmul_rate(device, dtype=None) -> float:
    """FLOP/s of square ``torch.mm`` on ``device`` (4096 on CUDA, 1024 on the CPU), TF32 off."""
    import torch

    dtype = dtype or torch.float32
    n = 4096 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    reps = 20 if device.type == "cuda" else 5
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _module_and_batches(device, gridsize: int, batch: int, count: int, seed: int = 0):
    import torch

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_torch.lightning_module import PtychoPINN_Lightning

    torch.manual_seed(seed)
    cfg = TrainingConfig(model=ModelConfig(N=N, gridsize=gridsize), n_groups=batch, batch_size=batch,
                         backend="pytorch", output_dir="unused")
    module = PtychoPINN_Lightning(cfg.model, cfg).to(device)
    C = gridsize * gridsize
    gen = torch.Generator(device="cpu").manual_seed(seed)
    batches = []
    for _ in range(count):
        X = torch.rand(batch, N, N, C, generator=gen) * 2.0
        X = X * ((N / 2) / X.pow(2).sum(dim=(1, 2)).mean().sqrt())  # normalised: mean Σ X² = (N/2)²
        rel = (torch.rand(batch, 1, 2, C, generator=gen) - 0.5) * (8.0 if C > 1 else 0.0)
        batches.append({"X": X.to(device), "coords_relative": rel.to(device)})
    return module, batches


def infer_rate(device, gridsize: int, precision: str, batch: int, steps: int) -> float:
    """Inference patterns/s (see module docstring)."""
    import torch

    from ptycho_torch.workflows.execution import autocast_for

    module, batches = _module_and_batches(device, gridsize, batch, min(steps, 8))
    module.eval()
    with torch.inference_mode():
        for i in range(3):
            with autocast_for(device, precision):
                module.predict_step(batches[i % len(batches)])
        _sync(device)
        t = time.perf_counter()
        for i in range(steps):
            with autocast_for(device, precision):
                module.predict_step(batches[i % len(batches)])
        _sync(device)
    return steps * batch * gridsize**2 / (time.perf_counter() - t)


def train_rate(device, gridsize: int, precision: str, batch: int, steps: int) -> tuple[float, float]:
    """(training patterns/s, FLOP/s achieved) of bare steps (see module docstring)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ptycho_torch.workflows.execution import autocast_for

    module, batches = _module_and_batches(device, gridsize, batch, min(steps, 8))
    module.train()
    counter = FlopCounterMode(display=False)
    with counter:
        module.compute_loss(batches[0])[0].backward()
    flops = int(counter.get_total_flops())
    module.zero_grad(set_to_none=True)
    fused = device.type == "cuda" or tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)
    opt = torch.optim.Adam(module.parameters(), lr=1e-3, fused=fused)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")

    def step(b):
        with autocast_for(device, precision):
            loss = module.compute_loss(b)[0]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for i in range(3):
        step(batches[i % len(batches)])
    _sync(device)
    t = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    _sync(device)
    seconds = time.perf_counter() - t
    return steps * batch * gridsize**2 / seconds, flops * steps / seconds


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--precisions", nargs="+", default=None, choices=("32", "bf16-mixed", "16-mixed"),
                    help="default: all three on CUDA; 32 and bf16-mixed on the CPU (fp16 is emulated there, ~10x slower)")
    ap.add_argument("--gridsizes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--infer-batch", type=int, default=None, help="default 1024 on CUDA, 16 on the CPU")
    ap.add_argument("--train-batch", type=int, default=None, help="default 64 on CUDA, 16 on the CPU")
    ap.add_argument("--steps", type=int, default=None, help="timed batches (default 50 on CUDA, 2 on the CPU)")
    ap.add_argument("--json", action="store_true", help="one JSON object per row instead of the table")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_throughput: --device cuda: expected a visible CUDA device, found none", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    infer_batch = args.infer_batch or (1024 if cuda else 16)
    train_batch = args.train_batch or (64 if cuda else 16)
    steps = args.steps or (50 if cuda else 2)
    precisions = args.precisions or (["32", "bf16-mixed", "16-mixed"] if cuda else ["32", "bf16-mixed"])
    rate = matmul_rate(device)
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    rows = []
    for gs in args.gridsizes:
        for precision in precisions:
            inf = infer_rate(device, gs, precision, infer_batch, steps)
            tr, flops = train_rate(device, gs, precision, train_batch, steps)
            rows.append({"device": name, "gridsize": gs, "precision": precision, "infer_patterns_per_s": inf,
                         "train_patterns_per_s": tr, "train_tflops": flops / 1e12,
                         "train_share_of_fp32_matmul": flops / rate, "fp32_matmul_tflops": rate / 1e12})
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    print(f"device: {name}; float32 matmul (TF32 off): {rate / 1e12:.2f} TFLOP/s; "
          f"infer batch {infer_batch}, train batch {train_batch}, {steps} timed steps")
    print(f"{'gs':>3} {'precision':>11} {'infer pat/s':>12} {'train pat/s':>12} {'train TFLOP/s':>14} {'of fp32 mm':>11}")
    for r in rows:
        print(f"{r['gridsize']:>3} {r['precision']:>11} {r['infer_patterns_per_s']:>12.0f} "
              f"{r['train_patterns_per_s']:>12.0f} {r['train_tflops']:>14.3f} {r['train_share_of_fp32_matmul']:>10.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
