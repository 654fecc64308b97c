"""Scans larger than memory: peak RSS and patterns/s of HDF5 training and streamed inference vs scan size.

Usage:  python benchmarks/scale.py [--sizes 2000 16000 128000] [--train-steps 16] [--n-filters-scale 1]
        [--batch 64] [--precision 32|bf16-mixed] [--workdir DIR]

For every size M an HDF5 scan (N=64, random amplitudes on a jittered raster, chunks of 64 patterns) is written
block by block (it never sits in memory), then each measurement runs in a fresh subprocess so its peak RSS
(``ru_maxrss``) is its own:

* infer: ``RawData.from_file`` (the streamed contract check) + ``reassemble_cdi_image_torch`` over every
  pattern (gridsize 1, one group per pattern, batch ``--batch``): the diffraction is read batch by batch and
  each batch is added to the canvas at once (specs/scaling.md §3); patterns/s over the whole call;
* train: ``train_cdi_model_torch`` over ``--train-steps`` batches of ``--batch`` groups drawn from the whole
  scan (n_groups = steps x batch, read lazily; one epoch); patterns/s over ``Trainer.fit``.

The network is the untrained model (throughput does not depend on its weights). The table's last rows give
the peak-RSS growth between consecutive sizes next to the growth of the diffraction stack itself (the
issue's target: <= 0.25 GiB from 16k to 128k while the stack grows by 1.75 GiB).
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

N = 64


def write_scan(path: Path, m: int, seed: int = 0) -> None:
    """An HDF5 scan of ``m`` random patterns, written 4096 patterns at a time."""
    import numpy as np

    from ptycho.scan_hdf5 import write_scan_hdf5

    rng = np.random.default_rng(seed)
    side = math.isqrt(m - 1) + 1
    gx, gy = np.meshgrid(np.arange(side) * 4.0, np.arange(side) * 4.0)
    x = gx.ravel()[:m] + 40 + rng.uniform(0, 0.5, m)
    y = gy.ravel()[:m] + 40 + rng.uniform(0, 0.5, m)
    yy, xx = np.mgrid[:N, :N] - N / 2
    probe = np.exp(-(xx**2 + yy**2) / 200.0).astype(np.complex64)

    def blocks():
        for lo in range(0, m, 4096):
            yield rng.uniform(0.0, 3.0, size=(min(4096, m - lo), N, N)).astype(np.float32)

    write_scan_hdf5(path, {"xcoords": x, "ycoords": y, "probeGuess": probe}, chunk_patterns=64, diffraction=blocks())


def run_case(scan: str, mode: str, batch: int, steps: int, nfs: int, precision: str = "32") -> dict:
    """One measurement in this process (called in a fresh subprocess by :func:`main`)."""
    import torch

    torch.set_num_threads(2)
    from ptycho.config.config import ModelConfig, TrainingConfig
    from ptycho.raw_data import RawData
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.workflows.components import reassemble_cdi_image_torch, train_cdi_model_torch

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        raw = RawData.from_file(scan)
        m = len(raw)
        if mode == "infer":
            cfg = TrainingConfig(model=ModelConfig(N=N, gridsize=1, n_filters_scale=nfs), n_groups=m, batch_size=batch,
                                 output_dir=out, backend="pytorch", sequential_sampling=True)
            torch.manual_seed(0)
            module = PtychoPINN_Lightning(cfg.model, cfg, raw.probeGuess)
            reassemble_cdi_image_torch(raw, cfg, models={"lightning_module": module}, M=20,
                                       execution_config={"accelerator": "cpu", "inference_batch_size": batch,
                                                         "precision": precision})
            patterns, seconds = m, time.perf_counter() - t0
        else:
            n_groups = min(m, steps * batch)
            cfg = TrainingConfig(model=ModelConfig(N=N, gridsize=1, n_filters_scale=nfs), n_groups=n_groups,
                                 batch_size=batch, nepochs=1, output_dir=out, backend="pytorch")
            train_cdi_model_torch(raw, None, cfg, execution_config={
                "accelerator": "cpu", "logger_backend": "none", "enable_checkpointing": False,
                "precision": precision})
            patterns, seconds = n_groups, time.perf_counter() - t0
    return {"patterns": patterns, "seconds": seconds,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 16000, 128000])
    ap.add_argument("--modes", nargs="+", choices=("infer", "train"), default=["infer", "train"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--train-steps", type=int, default=16)
    ap.add_argument("--n-filters-scale", type=int, default=1)
    ap.add_argument("--precision", default="32", choices=("32", "bf16-mixed", "16-mixed"),
                    help="the network's precision (specs/scaling.md §4); memory does not depend on it")
    ap.add_argument("--workdir", default=None, help="where the scans are written (default: a temporary folder)")
    ap.add_argument("--case", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], args.case[1], args.batch, args.train_steps, args.n_filters_scale,
                                  args.precision)))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        rows = []
        for m in args.sizes:
            scan = Path(work) / f"scan_{m}.h5"
            write_scan(scan, m)
            row = {"M": m, "stack_gib": m * N * N * 4 / 2**30}
            for mode in args.modes:
                cmd = [sys.executable, __file__, "--case", str(scan), mode, "--batch", str(args.batch),
                       "--train-steps", str(args.train_steps), "--n-filters-scale", str(args.n_filters_scale),
                       "--precision", args.precision]
                res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
                row[mode] = res
            scan.unlink()
            rows.append(row)
            print(f"done M={m}: {json.dumps(row)}", file=sys.stderr, flush=True)
    head = f"{'patterns':>9} {'stack GiB':>9}"
    for mode in args.modes:
        head += f" {mode + ' pat/s':>12} {mode + ' peak RSS GiB':>18}"
    print(head)
    for r in rows:
        line = f"{r['M']:>9} {r['stack_gib']:>9.3f}"
        for mode in args.modes:
            line += f" {r[mode]['patterns'] / r[mode]['seconds']:>12.1f} {r[mode]['peak_rss_gib']:>18.3f}"
        print(line)
    for a, b in zip(rows, rows[1:], strict=False):
        growth = "  ".join(f"{mode} RSS +{b[mode]['peak_rss_gib'] - a[mode]['peak_rss_gib']:.3f} GiB" for mode in args.modes)
        print(f"{a['M']} -> {b['M']}: stack +{b['stack_gib'] - a['stack_gib']:.3f} GiB; {growth}")


if __name__ == "__main__":
    main()
