"""TensorFlow backend throughput: diffraction patterns per second, training and inference.

    python benchmarks/tf_throughput.py [--steps 5] [--n-filters-scale 2]

N=64, gridsize 1 and 2, batch 16, random inputs (speed only; numbers depend on the machine).
Prints a table: gridsize | mode | patterns/s. A "pattern" is one diffraction image (B*C per batch).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5, help="timed batches per measurement (after 1 warm-up)")
    ap.add_argument("--n-filters-scale", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()

    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho_tf import network, training

    n, b = 64, args.batch
    rows = []
    for gs in (1, 2):
        c = gs * gs
        mc = ModelConfig(N=n, gridsize=gs, n_filters_scale=args.n_filters_scale)
        models = network.build_models(mc, intensity_scale=988.0, seed=0)
        training.compile_models(models, TrainingConfig(model=mc))
        rng = np.random.default_rng(0)
        x = rng.random((b * (args.steps + 1), n, n, c)).astype("f4")
        pos = rng.uniform(-4, 4, (len(x), 1, 2, c)).astype("f4")
        zero = np.zeros((len(x), n, n, 1), "f4")
        models.autoencoder.train_on_batch([x[:b], pos[:b]], [zero[:b], x[:b], x[:b] ** 2])
        t = time.perf_counter()
        for i in range(1, args.steps + 1):
            sl = slice(i * b, (i + 1) * b)
            models.autoencoder.train_on_batch([x[sl], pos[sl]], [zero[sl], x[sl], x[sl] ** 2])
        rows.append((gs, "train", args.steps * b * c / (time.perf_counter() - t)))
        f = models.diffraction_to_obj.predict_on_batch
        f([x[:b], pos[:b]])
        t = time.perf_counter()
        for i in range(1, args.steps + 1):
            sl = slice(i * b, (i + 1) * b)
            f([x[sl], pos[sl]])
        rows.append((gs, "inference", args.steps * b * c / (time.perf_counter() - t)))
    print(f"{'gridsize':>8} | {'mode':<9} | {'patterns/s':>10}   (N={n}, batch={b}, nfs={args.n_filters_scale})")
    for gs, mode, rate in rows:
        print(f"{gs:>8} | {mode:<9} | {rate:>10.1f}")


if __name__ == "__main__":
    main()
