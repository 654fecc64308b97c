"""P7: end to end, the two backends' workflows reconstruct one simulated scan alike (specs/parity.md §3 P7).

``benchmarks/fidelity.run(backend='both')``: the PyTorch workflow (``run_cdi_example_torch``) and the TensorFlow
workflow (``run_cdi_example`` with ``PYTORCH_DEFAULTS``, started from the PyTorch initial weights, both in the
shared epoch order) train on one lines scan; each stitched reconstruction is scored against the object with
``ptycho.metrics.evaluate``. The amplitude and phase SSIMs must agree within 0.02 (issue target). This covers
what P1-P6 do not: grouping, probe and scale set-up, the workflows' training loops and stitching, end to end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import parity_support as ps
import pytest

pytestmark = [pytest.mark.needs_tf, pytest.mark.slow]

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_workflows_reconstruct_one_scan_alike(device):
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    import fidelity

    s = fidelity.run(positions=128, epochs=4, gridsize=1, n_filters_scale=1, accelerator=device, backend="both")
    pt, tf = s["trained"], s["trained_tensorflow"]
    for part in ("amplitude", "phase"):
        err = abs(tf[part]["ssim"] - pt[part]["ssim"])
        ps.check("P7-fidelity-ssim", err,
                 f"{part}: TF {tf[part]['ssim']:.4f} Torch {pt[part]['ssim']:.4f} (128 positions, gs1, 4 epochs)",
                 "test_workflows_reconstruct_one_scan_alike")
