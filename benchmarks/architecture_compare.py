"""Generator architectures at equal wall time on a realistic scan's training half (issue 24 item 2).

For each ``--architectures`` entry (default ``cnn fno``): ``ptycho train --backend pytorch --architecture A``
with the command's recipe and ``--max-time`` = ``--minutes`` on the training half of a realistic scan
(:func:`realistic.prepare`, Siemens star, zone-plate probe, ~1000 training positions, the whole half: n_groups
is left unset), then the network alone reconstructs the unseen half (:func:`realistic.network_patches`, bilinear
stitch) and is scored on the common window (:func:`realistic.score`, amplitude registration). A flat object is
scored as the floor. Prints one table row per architecture: trainable generator parameters, epochs finished in
the budget, training wall time, amplitude / phase SSIM and PSNR of the unseen half.

    OMP_NUM_THREADS=1 python benchmarks/architecture_compare.py --minutes 3 --out /tmp/arch_compare

Training runs one after the other, each with the same thread count, so the budgets are comparable on one machine;
on a shared machine the step rate varies with the other load, so short-budget rows are indicative only.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import realistic as R  # noqa: E402

M_STITCH = 20


def _budget(minutes: float) -> str:
    total = int(round(minutes * 60))
    return f"00:{total // 3600:02d}:{(total % 3600) // 60:02d}:{total % 60:02d}"


def generator_parameters(model_dir: Path) -> int:
    """Trainable parameters of the bundle's generator (encoder + both decoders)."""
    from ptycho_torch.lightning_module import PtychoPINN_Lightning
    from ptycho_torch.network import count_parameters
    from ptycho_torch.workflows.components import load_inference_bundle_torch

    _, config = load_inference_bundle_torch(model_dir)
    module = PtychoPINN_Lightning(config.model, config)
    return sum(count_parameters(m) for m in (module.encoder, module.decoder_amp, module.decoder_phase))


def train(arch: str, data: Path, out: Path, minutes: float, nphotons: float, extra: list[str]) -> dict:
    """Run ``ptycho train`` for ``arch``; returns {'seconds', 'epochs', 'log'}."""
    log = out / f"{arch}_train.log"
    args = [sys.executable, "-m", "ptycho_cli", "train", "--backend", "pytorch", "--train_data_file",
            str(data / "train.npz"), "--output_dir", str(out / arch), "--nphotons", repr(nphotons),
            "--max-time", _budget(minutes), "--architecture", arch, "--logger", "none", *extra]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.run(args, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ}).returncode
    seconds = time.perf_counter() - t0
    text = log.read_text()
    if rc != 0:
        raise SystemExit(f"architecture_compare: ptycho train --architecture {arch} failed (exit {rc}; log {log})")
    found = re.findall(r"trained (\d+) epoch", text)
    return {"seconds": seconds, "epochs": int(found[-1]) if found else None, "log": log}


def unseen_scores(case: R.Case, model_dir: Path, test_npz: Path) -> dict[str, float]:
    """Headline scores of the network alone on the unseen half."""
    patches, offsets = R.network_patches(model_dir, test_npz, M=M_STITCH)
    canvas, origin = R.stitch(patches, offsets, M=M_STITCH, interpolation="bilinear")
    return R.headline(R.score(R.window_of(canvas, origin, case.window), case.truth, case.window, register=True))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0, help="training budget per architecture (default 3)")
    p.add_argument("--architectures", nargs="+", default=["cnn", "fno"], choices=("cnn", "fno", "ffno"))
    p.add_argument("--object", default="siemens", help="realistic.ScanSpec object_kind (default siemens)")
    p.add_argument("--out", type=Path, default=Path("architecture_compare_out"))
    p.add_argument("extra", nargs=argparse.REMAINDER, help="further ptycho train flags after '--'")
    args = p.parse_args(argv)
    extra = [a for a in args.extra if a != "--"]
    spec = R.ScanSpec(args.object)
    case = R.prepare(spec, folder=args.out / "data", M=M_STITCH)
    r0, r1, c0, c1 = case.window
    flat = R.headline(R.score(np.ones((r1 - r0, c1 - c0), np.complex64), case.truth, case.window, register=False))
    print(f"scan: {spec}; {len(case.train)} training / {len(case.test)} unseen positions; window {case.window}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; budget {args.minutes:g} min each", flush=True)
    rows = []
    for arch in args.architectures:
        run = train(arch, args.out / "data", args.out, args.minutes, spec.nphotons, extra)
        scores = unseen_scores(case, args.out / arch, args.out / "data" / "test.npz")
        rows.append((arch, generator_parameters(args.out / arch), run, scores))
        print(f"  {arch}: {run['seconds']:.0f} s, {run['epochs']} epochs", flush=True)
    print()
    print("| generator | parameters | epochs in budget | training wall s | amp SSIM | phase SSIM | amp PSNR | phase PSNR |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| flat object (floor) | - | - | - | {flat['amp_ssim']:.3f} | {flat['phase_ssim']:.3f} | "
          f"{flat['amp_psnr']:.2f} | {flat['phase_psnr']:.2f} |")
    for arch, n_params, run, s in rows:
        print(f"| {arch} | {n_params:,} | {run['epochs']} | {run['seconds']:.0f} | {s['amp_ssim']:.3f} | "
              f"{s['phase_ssim']:.3f} | {s['amp_psnr']:.2f} | {s['phase_psnr']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
