"""Time the grouping of 10k and 100k scan positions (specs/grouping.md §7). Prints a table; asserts nothing.

    python benchmarks/grouping.py [--sizes 10000 100000] [--repeats 3]

Each row is the best of ``--repeats`` calls of ``ptycho.grouping.group_indices`` (the index work
of ``RawData.generate_grouped_data``: seed choice, one batched cKDTree query including the tree
build, random choice of C of the K neighbours) making B = n/2 groups, so the seeds are a random
draw (with B >= n the seeds are simply all positions in order, which costs nothing). Gathering
the arrays afterwards costs B·C·N² copies and is not measured here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ptycho.grouping import group_indices


def _positions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    side = np.sqrt(n) * 3.0  # about 3 px between neighbours, like a dense scan
    return rng.uniform(40, 40 + side, n), rng.uniform(40, 40 + side, n)


def main() -> None:
    parser = argparse.ArgumentParser(description="grouping benchmark")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    header = f"{'positions':>10} {'gridsize':>8} {'K':>3} {'groups':>8} {'best s':>8} {'groups/s':>10}"
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        x, y = _positions(n, rng)
        for gridsize in (1, 2):
            for k in (4, 7):
                times = []
                for rep in range(args.repeats):
                    t0 = time.perf_counter()
                    groups = group_indices(x, y, gridsize, k, n // 2, np.random.default_rng(rep))
                    times.append(time.perf_counter() - t0)
                best = min(times)
                rate = groups.shape[0] / best if best > 0 else float("inf")
                print(f"{n:>10} {gridsize:>8} {k:>3} {groups.shape[0]:>8} {best:>8.3f} {rate:>10.0f}")


if __name__ == "__main__":
    main()
