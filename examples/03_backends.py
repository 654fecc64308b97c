"""TensorFlow and PyTorch on one scan

The two backends implement the same network, physics and loss (the parity suite checks them against each other
and against the numpy reference, [Parity report](../reference/parity.md)). Here both train on the same small
scan with the same settings through `ptycho train --backend ...`, reconstruct it with `ptycho infer`, and are
scored against the ground truth. Their weights start from each backend's own random initialisation and the
batch order differs, so the pictures differ in detail; the scores should be close.
"""

import sys
from pathlib import Path

from _shared import amplitude_phase_panels, run  # examples/_shared.py: the ptycho call, the figure

from ptycho.metrics.placement import evaluate_arrays
from ptycho_cli.evaluation import load_ground_truth, load_reconstruction, load_scan_positions

FIGURES = {
    "backends.png": "Ground truth and the two backends' reconstructions after the same short training "
                    "(amplitude top, phase bottom).",
}

out = Path(sys.argv[1] if len(sys.argv) > 1 else "gallery_backends").resolve()
out.mkdir(parents=True, exist_ok=True)


run("simulate", "--output", "scan.npz", "--n-positions", "128", "--scan", "fermat", "--seed", "2", "--quiet")
truth, positions = load_ground_truth("scan.npz"), load_scan_positions("scan.npz")
panels = []
for backend in ("pytorch", "tensorflow"):
    run("train", "--backend", backend, "--train-data-file", "scan.npz", "--output-dir", f"{backend}",
        "--max-epochs", "3", "--seed", "1", "--quiet")
    run("infer", "--backend", backend, "--model-path", backend, "--test-data", "scan.npz",
        "--output-dir", f"{backend}/recon", "--quiet")
    obj, origin = load_reconstruction(f"{backend}/recon/reconstructed_object.npz")
    metrics, window, target = evaluate_arrays(obj, truth, origin, positions=positions)
    amp, phase = metrics["amplitude"]["ssim"], metrics["phase"]["ssim"]
    print(f"{backend:10s} SSIM amplitude {amp:.3f}  phase {phase:.3f}  "
          f"PSNR amplitude {metrics['amplitude']['psnr']:.1f} dB")
    panels.append((f"{backend}\nSSIM {amp:.2f} / {phase:.2f}", window))
panels.insert(0, ("ground truth", target))

amplitude_phase_panels(panels, out / "backends.png")
