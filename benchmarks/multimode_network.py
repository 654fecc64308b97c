"""The PyTorch network on a partially coherent scan: a 3-mode probe in its physics against one mode (issue 28).

Usage:  OMP_NUM_THREADS=1 python benchmarks/multimode_network.py [--train-minutes 5] [--n-positions 2000]
            [--output-dir multimode_network_output]

Scan: the 3-mode Siemens scan of ``benchmarks/multimode.py`` (modes 0.7 / 0.2 / 0.1, neutral model, 1e6 photons),
split into halves. The same network recipe (``ptycho train --backend pytorch`` defaults, ``--max-time`` the same
budget, same seed) is trained on the training half twice: with the scan's (3, N, N) probe (the forward model sums
the modes' intensities, specs/torch-training.md §2.1) and with one mode (the primary mode scaled to the total
power, as ``multimode.one_mode``). Each model reconstructs both halves (``realistic.network_patches``, bilinear
stitch as ``ptycho infer``), scored by ``realistic.score`` on the well-covered window of that half: the training
half measures how well the physics explains the scan it was fitted to, the test half how the network generalises.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import multimode as MM  # noqa: E402
import realistic as R  # noqa: E402


def _max_time(minutes: float) -> str:
    total = max(1, int(round(minutes * 60)))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"00:{h:02d}:{m:02d}:{s:02d}"


def _score(model: Path, npz: Path, scan: dict, index: np.ndarray) -> tuple[float, float]:
    pos = np.stack([scan["xcoords"][index], scan["ycoords"][index]], axis=1)
    window = R.scoring_window(pos, scan["objectGuess"].shape)
    patches, offsets = R.network_patches(model, npz)
    canvas, origin = R.stitch(patches, offsets)
    m = R.headline(R.score(R.window_of(canvas, origin, window), scan["objectGuess"], window))
    return m["amp_ssim"], m["phase_ssim"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-minutes", type=float, default=5.0)
    p.add_argument("--n-positions", type=int, default=2000)
    p.add_argument("--output-dir", default="multimode_network_output")
    args = p.parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    case = MM.prepare(args.n_positions)
    scan = case.scan
    variants = {"K=3": scan["probeGuess"], "K=1": MM.one_mode(scan["probeGuess"])}
    rows = []
    for name, probe in variants.items():
        work = out / name.replace("=", "")
        work.mkdir(exist_ok=True)
        with_probe = {**scan, "probeGuess": probe}
        train = R.write_half(work / "train.npz", with_probe, case.train, "train")
        test = R.write_half(work / "test.npz", with_probe, case.test, "test")
        cmd = [sys.executable, "-m", "ptycho_cli", "train", "--backend", "pytorch", "--train_data_file", str(train),
               "--output_dir", str(work / "model"), "--nphotons", repr(float(scan["nphotons"])),
               "--max-time", _max_time(args.train_minutes), "--quiet"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"multimode_network: training {name} failed: {proc.stderr.strip().splitlines()[-1:]}")
        seen = _score(work / "model", train, scan, case.train)
        unseen = _score(work / "model", test, scan, case.test)
        rows.append({"probe": name, "train_s": seconds, "train_half": seen, "test_half": unseen})
        print(f"  {name}: trained {seconds:.0f} s; train half {seen[0]:.3f} / {seen[1]:.3f}, "
              f"test half {unseen[0]:.3f} / {unseen[1]:.3f}", flush=True)
    print()
    print("| network probe | training s | training half amp / phase SSIM | test half amp / phase SSIM |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['probe']} | {r['train_s']:.0f} | {r['train_half'][0]:.3f} / {r['train_half'][1]:.3f} | "
              f"{r['test_half'][0]:.3f} / {r['test_half'][1]:.3f} |")
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
