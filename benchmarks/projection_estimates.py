"""What one diffraction pattern and the probe determine: single-pattern modulus projections on the benchmark scans.

Usage:
    python benchmarks/projection_estimates.py [--patterns 400] [--iterations 1,5,20,60,100] [--scans 0,1,2]

For each scan of ``realistic.BENCHMARK_SCANS`` (neutral fine-grid measurement model), on the first ``--patterns``
patterns of the unseen half: the estimate ``ptycho.physics.modulus_projections(X, probe, K)`` (the input of the
generator of specs/network.md §8; true probe, no neighbour) after K passes, scored against the true patch inside
the probe (|P| > 10 % of its maximum), per pattern:

* error: ||y - c e|| / ||y||, c the best complex scale (phase constant and amplitude level are not measurable
  from one pattern), averaged over patterns; the same for the mean training patch (the plain generator's start);
* phase correlation: Pearson correlation of angle(c e) and angle(y) inside the probe, averaged;
* NLL: mean Poisson negative log-likelihood per detector pixel (counts = nphotons-scaled) of the patterns under
  the simple forward model |F(P O)| for O = the true patch, the flat object, and each estimate. An estimate whose
  NLL equals the truth's while its phase is uncorrelated shows that the single pattern does not decide the phase.

Prints one markdown table per scan. Runs in numpy (no torch), seconds per scan.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realistic as R  # noqa: E402


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--patterns", type=int, default=400, help="unseen-half patterns scored per scan (default 400)")
    p.add_argument("--iterations", default="1,5,20,60,100", help="comma-separated K (default 1,5,20,60,100)")
    p.add_argument("--scans", default="0,1,2", help="indices into realistic.BENCHMARK_SCANS (default all)")
    a = p.parse_args(argv)
    a.ks = [int(v) for v in a.iterations.split(",") if v.strip()]
    a.scan_ids = [int(v) for v in a.scans.split(",") if v.strip()]
    if a.patterns < 1 or not a.ks or min(a.ks) < 0:
        p.error("--patterns must be >= 1 and --iterations integers >= 0")
    return a


def patch_scores(est: np.ndarray, truth: np.ndarray, inside: np.ndarray) -> tuple[float, float]:
    """(mean relative error after the best complex scale, mean phase correlation) inside the probe mask."""
    e, y = est[:, inside], truth[:, inside]
    c = np.sum(np.conj(e) * y, axis=1) / np.maximum(np.sum(np.abs(e) ** 2, axis=1), 1e-30)
    err = np.linalg.norm(y - c[:, None] * e, axis=1) / np.linalg.norm(y, axis=1)
    u = np.angle(e * (c / np.maximum(np.abs(c), 1e-30))[:, None])
    v = np.angle(y)
    u, v = u - u.mean(1, keepdims=True), v - v.mean(1, keepdims=True)
    corr = np.sum(u * v, axis=1) / np.sqrt(np.sum(u * u, axis=1) * np.sum(v * v, axis=1) + 1e-30)
    return float(err.mean()), float(corr.mean())


def nll(obj: np.ndarray, probe: np.ndarray, counts: np.ndarray, per_amp2: float) -> float:
    """Mean Poisson NLL per pixel of ``counts`` under predicted counts |F(P O)|^2 * per_amp2."""
    from ptycho.physics import far_field_amplitude

    pred = far_field_amplitude(probe * obj).astype(np.float64) ** 2 * per_amp2
    return float(np.mean(pred - counts * np.log(pred + 1e-9)))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    from ptycho.physics import modulus_projections

    for i in args.scan_ids:
        spec = R.BENCHMARK_SCANS[i]
        scan = R.simulate_scan(spec)
        train, test = R.split_scan(scan)
        idx = test[: args.patterns]
        X = np.asarray(scan["diffraction"], np.float64)
        probe = np.asarray(scan["probeGuess"])
        truth = np.asarray(scan["Y"][idx])
        mag = np.abs(probe if probe.ndim == 2 else probe[0])
        inside = mag > 0.1 * mag.max()
        per_amp2 = float(scan["nphotons"]) / float(np.mean(np.sum(X[train] ** 2, axis=(1, 2))))
        counts = X[idx] ** 2 * per_amp2
        mean_patch = np.broadcast_to(np.mean(scan["Y"][train], axis=0), truth.shape)
        rows = [("true patches", 0.0, 1.0, nll(truth, probe, counts, per_amp2)),
                ("flat object", *patch_scores(np.ones_like(truth), truth, inside),
                 nll(np.ones_like(truth), probe, counts, per_amp2)),
                ("mean training patch", *patch_scores(mean_patch, truth, inside),
                 nll(mean_patch, probe, counts, per_amp2))]
        for k in args.ks:
            est = modulus_projections(X[idx], probe, k)
            rows.append((f"{k} projections", *patch_scores(est, truth, inside), nll(est, probe, counts, per_amp2)))
        print(f"\n### {spec.label}: {len(idx)} unseen patterns, probe support {inside.mean():.0%} of the field\n")
        print("| estimate | error inside the probe | phase correlation | NLL per pixel |")
        print("|---|---|---|---|")
        for name, err, corr, value in rows:
            print(f"| {name} | {err:.3f} | {corr:.3f} | {value:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
