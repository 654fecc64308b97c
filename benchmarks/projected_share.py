"""Share of a projected-generator training step spent in the physics estimate (specs/network.md §8).

Usage:  OMP_NUM_THREADS=1 python benchmarks/projected_share.py [--gridsizes 1 2] [--projections 20]
        [--groups 128] [--repeats 3] [--threads 1]

``ptycho train``'s recipe (ptycho_cli/recipe.py): N=64, n_filters_scale 1, ``input_projections`` K, batch 16, an
untrained ``PtychoPINN_Lightning`` on synthetic data (``torch_throughput._raw``; the cost does not depend on the
amplitudes' content). Per batch, round-robin over ``--repeats``:

* ``step``: a bare training step (``compute_loss``, backward, fused Adam; no Trainer);
* ``estimate``: ``projected_input`` alone on the same batch (K modulus projections, no gradient), what every step
  recomputes although it does not depend on the weights;
* ``step, cached``: the same step with the estimates computed once beforehand (:mod:`ptycho_torch.generators.
  estimate_cache`), the per-epoch cost once the cache is filled.

Prints seconds per step (median of the repeats' per-step means) and the estimate's share of a step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from torch_throughput import BATCH, N, _raw  # noqa: E402


def _module(gridsize: int, projections: int, groups: int):
    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_torch.data import create_ptycho_data_container
    from ptycho_torch.model import PtychoPINN_Lightning

    mc = ModelConfig(N=N, gridsize=gridsize, n_filters_scale=1, input_projections=projections)
    tc = TrainingConfig(model=mc, n_groups=groups, batch_size=BATCH, nphotons=1e6)
    container = create_ptycho_data_container(_raw(groups * 2 if gridsize > 1 else groups), tc)
    module = PtychoPINN_Lightning(mc, tc, container.probe, container.intensity_scale)
    batches = [container.batch(list(range(lo, min(len(container), lo + BATCH))))
               for lo in range(0, len(container), BATCH)]
    return module, batches


def _step_seconds(module, batches, optimizer) -> float:
    module.train()
    t = time.perf_counter()
    for b in batches:
        loss = module.compute_loss(b)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - t) / len(batches)


def _estimate_seconds(module, batches) -> float:
    from ptycho_torch.generators.projected import projected_input

    mc, fm = module.model_config, module.forward_model
    t = time.perf_counter()
    for b in batches:
        x = fm.scale_input(b["X"] * module.intensity_scale)
        projected_input(x, fm.probe, mc.input_projections, b["coords_relative"])
    return (time.perf_counter() - t) / len(batches)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gridsizes", type=int, nargs="+", default=[1, 2])
    p.add_argument("--projections", type=int, default=20)
    p.add_argument("--groups", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import torch

    from ptycho_torch.generators.estimate_cache import EstimateCache
    from ptycho_torch.optim import build_optimizer

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"N={N}, batch {BATCH}, n_filters_scale 1, input_projections {args.projections}, {args.groups} groups, "
          f"{args.threads} torch thread(s), median of {args.repeats} repeats\n")
    print("| gridsize | step (s) | estimate (s) | estimate share | step, cached (s) | cache fill (s) |")
    print("|---|---|---|---|---|---|")
    for gs in args.gridsizes:
        module, batches = _module(gs, args.projections, args.groups)
        opt = build_optimizer(module.parameters(), module.training_config, module.learning_rate)
        cache, fm = EstimateCache(), module.forward_model
        t = time.perf_counter()
        for b in batches:  # what the first epoch does: compute and store every sample's estimate
            cache.estimates(fm.scale_input(b["X"] * module.intensity_scale), fm.probe, args.projections,
                            b["coords_relative"], b["index"])
        fill = time.perf_counter() - t
        _step_seconds(module, batches[:1], opt)  # warm-up
        steps, ests, cached = [], [], []
        for _ in range(args.repeats):
            module.estimate_cache = None
            steps.append(_step_seconds(module, batches, opt))
            ests.append(_estimate_seconds(module, batches))
            module.estimate_cache = cache
            cached.append(_step_seconds(module, batches, opt))
        module.estimate_cache = None
        n = sum(len(b["index"]) for b in batches)
        if cache.misses != n or cache.hits != n * args.repeats:  # every cached step must have read the cache
            raise RuntimeError(f"estimate cache: {cache.hits} hits, {cache.misses} misses: the cached steps recomputed")
        s, e, c = statistics.median(steps), statistics.median(ests), statistics.median(cached)
        print(f"| {gs} | {s:.3f} | {e:.3f} | {100 * e / s:.0f} % | {c:.3f} | {fill:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
