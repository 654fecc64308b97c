"""Simulate, train, reconstruct, evaluate

The whole job on a small simulated scan, with the `ptycho` command's own functions: simulate a scan of the
'lines' test object through a defocused zone-plate probe, train the PyTorch network on it for a few epochs,
reconstruct the scan with the network, refine that reconstruction with ten maximum-likelihood iterations
(`--refine-iterations 10`), and score both against the ground truth. The same steps as shell commands are in
the [Quickstart](../quickstart.md).

At this size (256 positions, 4 epochs on a CPU) the network alone recovers only the coarse object; the ten
refinement iterations started from it recover the lines. Scores: SSIM 1 is a perfect match
([Reading the metrics](../howto/reading-metrics.md)).
"""

import sys
from pathlib import Path

from _shared import amplitude_phase_panels, run  # examples/_shared.py: the ptycho call, the figure

from ptycho.metrics.placement import evaluate_arrays
from ptycho_cli.evaluation import load_ground_truth, load_reconstruction, load_scan_positions

FIGURES = {
    "truth_vs_reconstruction.png": "Ground truth, the network alone, and the network followed by 10 "
                                   "refinement iterations (amplitude top, phase bottom), on the scanned "
                                   "window.",
}

out = Path(sys.argv[1] if len(sys.argv) > 1 else "gallery_pipeline").resolve()
out.mkdir(parents=True, exist_ok=True)


run("simulate", "--output", "scan.npz", "--n-positions", "256", "--scan", "fermat", "--probe", "zoneplate",
    "--jitter", "1", "--interpolation", "fourier", "--seed", "1", "--quiet")
run("train", "--backend", "pytorch", "--train-data-file", "scan.npz", "--output-dir", "run",
    "--max-epochs", "4", "--seed", "1", "--quiet")
run("infer", "--model-path", "run", "--test-data", "scan.npz", "--output-dir", "run/recon",
    "--refine-iterations", "10", "--quiet")
run("evaluate", "-r", "run/recon/network_object.npz", "-g", "scan.npz", "--output-dir",
    "run/eval_network", "-q")
run("evaluate", "-r", "run/recon/reconstructed_object.npz", "-g", "scan.npz", "--output-dir",
    "run/eval_refined", "-q")

truth, positions = load_ground_truth("scan.npz"), load_scan_positions("scan.npz")
panels = []
for label, path in (("network alone", "run/recon/network_object.npz"),
                    ("network + 10 refinement iterations", "run/recon/reconstructed_object.npz")):
    obj, origin = load_reconstruction(path)
    # aligned windows of both, and the scores, on the scanned region only
    metrics, window, target = evaluate_arrays(obj, truth, origin, positions=positions)
    panels.append((f"{label}\nSSIM {metrics['amplitude']['ssim']:.2f} / {metrics['phase']['ssim']:.2f}",
                   window))
    print(f"{label:36s} SSIM amplitude {metrics['amplitude']['ssim']:.3f}  "
          f"phase {metrics['phase']['ssim']:.3f}")
panels.insert(0, ("ground truth", target))

amplitude_phase_panels(panels, out / "truth_vs_reconstruction.png")
print("written:", ", ".join(sorted(str(p) for p in Path("run").rglob("*.npz"))))
