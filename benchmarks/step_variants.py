"""Step-cost variants on CPU: what channels-last, ``torch.compile`` and larger inference batches change.

Usage:  OMP_NUM_THREADS=2 python benchmarks/step_variants.py [--gridsizes 1 2] [--repeats 3]
        [--n-filters-scale 2] [--groups 256]

One untrained ``PtychoPINN_Lightning`` per gridsize (N=64, training batch 16, 2 torch threads, synthetic data
from ``torch_throughput._raw``); every variant is a deep copy of it, so all variants hold the same weights:

* ``eager``: the reference. Bare training step (``compute_loss``, backward, fused Adam; no Trainer) and
  inference (``predict_step`` under ``inference_mode``), batch 16, with denormal floats flushed to zero (what
  the Lightning module does on CPU, specs/torch-training.md);
* ``denormals kept``: the same with ``torch.set_flush_denormal(False)`` (IEEE gradual underflow): Adam's second
  moments of the deep layers' tiny gradients underflow into denormals, which x86 CPUs process far slower;
* ``channels_last``: the module's 4-D parameters and the input batches in channels-last memory format;
* ``compile``: the generator's three sub-networks (encoder, amplitude and phase decoders) under
  ``torch.compile`` (inductor, default mode); the physics and loss stay eager (complex FFTs). Compile time is
  reported apart and excluded from the rates;
* ``infer batch 64`` / ``infer batch 256``: eager inference in larger batches (training is not repeated).

Variants run round-robin, ``--repeats`` times each, so a change of machine load hits all of them; each rate is
the median repeat. Every variant's predictions are compared with eager's (max |difference| of the complex object)
so a faster variant that computes something else shows. The float32 matmul rate is measured in the same
process; ratios to eager and to that rate are what compare across machines.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from torch_throughput import BATCH, THREADS, N, _loss, _matmul_flops, _raw  # noqa: E402

VARIANTS = ("eager", "denormals kept", "channels_last", "compile", "infer batch 64", "infer batch 256")
#: variants that train (the others only change inference)
TRAINING_VARIANTS = VARIANTS[:4]


def _batches(container, groups: int, size: int, channels_last: bool = False) -> list[dict]:
    import torch

    out = []
    for lo in range(0, groups, size):
        b = container.batch(list(range(lo, min(groups, lo + size))))
        if channels_last:
            b["X"] = b["X"].contiguous(memory_format=torch.channels_last)
        out.append(b)
    return out


def _train_seconds(module, batches, optimizer) -> float:
    module.train()
    t = time.perf_counter()
    for b in batches:
        optimizer.zero_grad(set_to_none=True)
        _loss(module, b).backward()
        optimizer.step()
    return time.perf_counter() - t


def _infer(module, batches):
    import torch

    module.eval()
    t = time.perf_counter()
    with torch.inference_mode():
        objs = [module.predict_step(b)["object"] for b in batches]
    return time.perf_counter() - t, torch.cat(objs)


def _flush_for(name: str) -> None:
    import torch

    torch.set_flush_denormal(name != "denormals kept")


def _optimizer(module):
    opt = module.configure_optimizers()
    return opt["optimizer"] if isinstance(opt, dict) else opt


def run_case(gridsize: int, groups: int, repeats: int, nfs: int) -> dict:
    import torch

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_torch.data import PtychoDataContainerTorch
    from ptycho_torch.lightning_module import PtychoPINN_Lightning

    torch.set_num_threads(THREADS)
    C = gridsize * gridsize
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainingConfig(model=ModelConfig(N=N, gridsize=gridsize, n_filters_scale=nfs), n_groups=groups,
                             batch_size=BATCH, nepochs=1, nphotons=1e9, neighbor_count=max(4, C), subsample_seed=0,
                             output_dir=Path(tmp))
        container = PtychoDataContainerTorch.from_raw_data(_raw(max(groups, 64)), cfg)
    groups = min(groups, len(container.X))
    torch.manual_seed(0)
    base = PtychoPINN_Lightning(cfg.model, cfg, container.probe)
    # intensity scale: the closed form from nphotons (throughput does not depend on it)
    modules = {}
    for name in VARIANTS:
        m = copy.deepcopy(base)
        if name == "channels_last":
            m = m.to(memory_format=torch.channels_last)
        if name == "compile":
            m.encoder, m.decoder_amp, m.decoder_phase = (torch.compile(m.encoder), torch.compile(m.decoder_amp),
                                                         torch.compile(m.decoder_phase))
        modules[name] = m
    train_batches = {name: _batches(container, groups, BATCH, name == "channels_last") for name in TRAINING_VARIANTS}
    infer_size = {"infer batch 64": 64, "infer batch 256": 256}
    infer_batches = {name: _batches(container, groups, infer_size.get(name, BATCH), name == "channels_last")
                     for name in VARIANTS}
    optimizers = {name: _optimizer(modules[name]) for name in TRAINING_VARIANTS}
    # warm-up, inference first: one batch each (for 'compile' this compiles the inference graph)
    compile_s = 0.0
    for name in VARIANTS:
        _flush_for(name)
        t = time.perf_counter()
        _infer(modules[name], infer_batches[name][:1])
        compile_s += (time.perf_counter() - t) if name == "compile" else 0.0
    # predictions before any training step, so the weights still agree across variants
    _flush_for("eager")
    _, ref = _infer(modules["eager"], infer_batches["eager"])
    diffs = {}
    for name in VARIANTS:
        _flush_for(name)
        diffs[name] = float((_infer(modules[name], infer_batches[name])[1] - ref).abs().max())
    # training warm-up: one step each (for 'compile' the forward and backward graphs)
    for name in TRAINING_VARIANTS:
        _flush_for(name)
        t = time.perf_counter()
        _train_seconds(modules[name], train_batches[name][:1], optimizers[name])
        compile_s += (time.perf_counter() - t) if name == "compile" else 0.0
    seconds = {name: {"train": [], "infer": []} for name in VARIANTS}
    for _ in range(repeats):
        for name in VARIANTS:
            _flush_for(name)
            if name in optimizers:
                seconds[name]["train"].append(_train_seconds(modules[name], train_batches[name], optimizers[name]))
            seconds[name]["infer"].append(_infer(modules[name], infer_batches[name])[0])
    _flush_for("eager")
    best = {name: {k: statistics.median(v) if v else None for k, v in d.items()} for name, d in seconds.items()}
    patterns = groups * C
    return {
        "gridsize": gridsize, "patterns": patterns, "compile_s": compile_s,
        "matmul_flop_rate": max(_matmul_flops() for _ in range(3)),
        "rows": [{"variant": name,
                  "train_patterns_s": patterns / best[name]["train"] if name in optimizers else None,
                  "infer_patterns_s": patterns / best[name]["infer"], "max_abs_diff": diffs[name]}
                 for name in VARIANTS],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gridsizes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--groups", type=int, default=256, help="groups per pass (default 256: one batch of 256)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-filters-scale", type=int, default=2)
    ap.add_argument("--case", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.groups, args.repeats, args.n_filters_scale)))
        return
    print(f"Step-cost variants, N={N}, training batch {BATCH}, torch threads {THREADS}, {args.groups} groups, "
          f"n_filters_scale {args.n_filters_scale}, median of {args.repeats} interleaved repeats")
    hdr = (f"{'gs':>3} {'variant':<16} {'train pat/s':>12} {'x eager':>8} {'infer pat/s':>12} {'x eager':>8} "
           f"{'max |diff|':>11}")
    for gs in args.gridsizes:
        cmd = [sys.executable, __file__, "--case", str(gs), "--groups", str(args.groups), "--repeats",
               str(args.repeats), "--n-filters-scale", str(args.n_filters_scale)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"gridsize {gs} case failed:\n{proc.stderr[-3000:]}")
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(hdr)
        print("-" * len(hdr))
        ref = r["rows"][0]
        for row in r["rows"]:
            tr = row["train_patterns_s"]
            tr_s = f"{tr:>12.1f} {tr / ref['train_patterns_s']:>8.2f}" if tr else f"{'-':>12} {'-':>8}"
            print(f"{gs:>3} {row['variant']:<16} {tr_s} {row['infer_patterns_s']:>12.1f} "
                  f"{row['infer_patterns_s'] / ref['infer_patterns_s']:>8.2f} {row['max_abs_diff']:>11.2e}")
        print(f"gs={gs}: {r['patterns']} patterns per pass; torch.compile warm-up (compilation) "
              f"{r['compile_s']:.1f} s; float32 matmul rate {r['matmul_flop_rate'] / 1e9:.1f} GFLOP/s\n")


if __name__ == "__main__":
    main()
