"""Streamed stitching cost against the number of patterns (specs/scaling.md §3): is it linear?

Usage:  OMP_NUM_THREADS=2 python benchmarks/stitch_scaling.py [--sizes 8000 16000 32000 128000] [--batch 64]

For each size M: M positions on a raster of 4-pixel steps (jittered by up to 0.5 px), one
``ptycho_torch.stitching.StreamingStitcher`` (N=64, M=20 crops), fed with one fixed random complex batch of
``--batch`` patches at a time, in raster order and in a random order (the order a spiral or shuffled scan
gives). Prints the canvas side, seconds and patterns/s of each; a linear stitch keeps patterns/s constant as M
grows. The network is not run: this is the stitch's own cost, which streamed inference adds to every batch.
"""

from __future__ import annotations

import argparse
import math
import time


def stitch_seconds(m: int, batch: int, shuffled: bool) -> tuple[int, float]:
    import numpy as np
    import torch

    from ptycho_torch.stitching import StreamingStitcher

    rng = np.random.default_rng(0)
    side = math.isqrt(m - 1) + 1
    gx, gy = np.meshgrid(np.arange(side) * 4.0, np.arange(side) * 4.0)
    offsets = np.stack([gx.ravel()[:m], gy.ravel()[:m]], -1) + rng.uniform(0, 0.5, (m, 2))
    order = rng.permutation(m) if shuffled else np.arange(m)
    patches = torch.randn(batch, 64, 64, dtype=torch.complex64)
    t = time.perf_counter()
    st = StreamingStitcher(offsets, 64, 20)
    for lo in range(0, m, batch):
        idx = order[lo:lo + batch]
        st.add(patches[:len(idx)], idx)
    st.result()
    return st.side, time.perf_counter() - t


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[8000, 16000, 32000, 128000])
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(2)
    stitch_seconds(1000, args.batch, False)  # warm-up
    print(f"Streamed stitch, N=64, M=20, batch {args.batch}, 2 torch threads")
    print(f"{'patterns':>9} {'canvas side':>12} {'raster s':>9} {'raster pat/s':>13} {'shuffled s':>11} "
          f"{'shuffled pat/s':>15}")
    for m in args.sizes:
        side, t_raster = stitch_seconds(m, args.batch, False)
        _, t_shuffled = stitch_seconds(m, args.batch, True)
        print(f"{m:>9} {side:>12} {t_raster:>9.2f} {m / t_raster:>13.0f} {t_shuffled:>11.2f} {m / t_shuffled:>15.0f}")


if __name__ == "__main__":
    main()
