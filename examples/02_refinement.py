"""Refinement from a flat start

`ptycho_torch.refine` is a maximum-likelihood solver through the same physics the network trains with
(probe × object → far field → Poisson counts). Without any model it reconstructs a scan from a flat object;
after a network it polishes the network's result ([Refinement](../refinement.md)). This example refines a
small simulated Siemens-star scan from a flat start and shows the object after 1, 3, 8 and 20 iterations,
with the likelihood per iteration.
"""

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ptycho.metrics.placement import evaluate_arrays
from ptycho.simulation import simulate
from ptycho_torch.refine import RefineOptions, refine
from ptycho_torch.refine.start import crop, output_window

FIGURES = {
    "iterations.png": "Amplitude (top) and phase (bottom) after 1, 3, 8 and 20 iterations from a flat "
                      "start; the ground truth on the right.",
    "convergence.png": "Poisson negative log-likelihood per iteration (lower is better; it flattens when "
                       "the object explains the counts down to their noise).",
}
SNAPSHOTS = (1, 3, 8, 20)

out = Path(sys.argv[1] if len(sys.argv) > 1 else "gallery_refinement").resolve()
out.mkdir(parents=True, exist_ok=True)

scan = simulate(object_kind="siemens", N=64, n_positions=256, scan="fermat", probe_kind="zoneplate",
                interpolation="fourier", nphotons=1e6, seed=0)
positions = np.stack([scan["xcoords"], scan["ycoords"]], axis=1)
truth = scan["objectGuess"]

window_xy, window_shape = output_window(positions)  # the scanned box (what `ptycho refine` writes)
snapshots = {}


def keep(result) -> None:
    """Called after every iteration: keep the scanned box of the object at the iterations shown."""
    done = len(result.history)
    if done in SNAPSHOTS:
        corner = np.maximum(window_xy, result.origin_xy).astype(float)
        snapshots[done] = (crop(result.object, result.origin_xy, window_xy, window_shape).copy(), corner)


result = refine(scan["diffraction"], positions, scan["probeGuess"],
                options=RefineOptions(iterations=max(SNAPSHOTS)), on_result=keep)

fig, axes = plt.subplots(2, len(SNAPSHOTS) + 1, figsize=(12, 5.4), constrained_layout=True)
for col, it in enumerate(SNAPSHOTS):
    obj, origin = snapshots[it]
    # scored on the scanned region only
    metrics, window, target = evaluate_arrays(obj, truth, origin, positions=positions)
    print(f"iteration {it:2d}: SSIM amplitude {metrics['amplitude']['ssim']:.3f}  "
          f"phase {metrics['phase']['ssim']:.3f}")
    axes[0, col].imshow(np.abs(window), cmap="gray")
    axes[1, col].imshow(np.angle(window), cmap="viridis")
    axes[0, col].set_title(f"iteration {it}\nSSIM {metrics['amplitude']['ssim']:.2f} / "
                           f"{metrics['phase']['ssim']:.2f}", fontsize=10)
axes[0, -1].imshow(np.abs(target), cmap="gray")
axes[1, -1].imshow(np.angle(target), cmap="viridis")
axes[0, -1].set_title("ground truth", fontsize=10)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.savefig(out / "iterations.png", dpi=90)

nll = [row["nll"] for row in result.history]
fig, ax = plt.subplots(figsize=(6, 3.4), constrained_layout=True)
ax.plot(range(1, len(nll) + 1), nll, marker="o")
ax.set_xlabel("iteration")
ax.set_ylabel("Poisson NLL per element")
fig.savefig(out / "convergence.png", dpi=90)
print(f"{len(nll)} iterations; NLL per element {nll[0]:.4g} -> {nll[-1]:.4g}")
