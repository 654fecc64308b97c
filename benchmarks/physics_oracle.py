"""Physics oracle: plain gradient-descent ptychography through the PyTorch forward model (no network).

Usage:  python benchmarks/physics_oracle.py [--positions 256] [--gridsize 2] [--steps 300] [--lr 0.05]
                                            [--nphotons 1e9] [--seed 0] [--threads 2]

Rules out a physics / scaling / sign bug in the chain the network is trained through. Simulates a
'lines' scan (``ptycho.simulation.simulate``, N=64, Fermat spiral), groups it exactly like training
(``PtychoDataContainerTorch.from_raw_data``: normalised X, ``coords_relative``, s = sqrt(nphotons)/(N/2)),
then fits the whole object canvas O = a·exp(iφ) (a, φ free real (S, S) maps) with Adam, full batch,
minimising the training loss: Poisson NLL of the counts (s·X)² against ``ForwardModel(patches,
coords_relative)²``, where the patches of group b are cut from O at the members' true positions
(group centre − coords_relative). So every operator of the training chain (per-group merge,
re-extraction, probe, FFT, intensity scale, Poisson NLL) is exercised with the data's own
normalisation. The fitted object is scored against ``objectGuess`` with ``ptycho.metrics.evaluate``
on the scanned box (positions' bounding box), next to the starting guess (a = 1, φ = 0).

Three rows: 'start' (the flat initial object), 'fit' (the oracle), and 'fit, coords sign flipped'
(the same fit with coords_relative negated, i.e. the wrong sign convention: it must score clearly worse
for gridsize > 1, which pins the sign end to end). A correct chain gives amplitude and phase SSIM near 1
for the fit. ``--steps 150`` at 128 positions takes ~10 s on 2 cores; the test
``test_torch_physics_oracle.py`` runs a small version.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_options import add_run_options  # noqa: E402

N = 64


def prepare(positions: int = 256, gridsize: int = 2, nphotons: float = 1e9, seed: int = 0, n: int = N,
            object_size: int | None = None) -> dict[str, Any]:
    """Simulate and group a lines scan as training does; returns tensors and the ground truth.

    ``n`` (patch side) and ``object_size`` (default 3.5 n) can be reduced for a fast test.

    Returns dict: 'X' (B, N, N, C) float32 normalised amplitudes, 'coords_relative' (B, 1, 2, C) float32,
    'centres' (B, 2) float64 group mean [x, y], 'probe' (N, N) complex64 (normalised), 's' float
    intensity scale, 'object' (S, S) complex64 ground truth, 'positions' (P, 2) float64 scan [x, y].
    """
    import torch

    from ptycho.physics import intensity_scale
    from ptycho.raw_data import RawData
    from ptycho.simulation import simulate
    from ptycho_torch.data import PtychoDataContainerTorch

    sim = simulate("lines", N=n, n_positions=positions, nphotons=nphotons, seed=seed, object_size=object_size)
    raw = RawData.from_coords_without_pc(sim["xcoords"], sim["ycoords"], sim["diffraction"], sim["probeGuess"],
                                         sim["scan_index"], objectGuess=sim["objectGuess"])
    C = gridsize * gridsize
    # exactly what PtychoDataContainerTorch.from_raw_data does for a TrainingConfig (which only admits N >= 64)
    grouped = raw.generate_grouped_data(n, K=max(4, C), nsamples=positions, seed=seed, gridsize=gridsize)
    cont = PtychoDataContainerTorch.from_grouped(grouped, raw.probeGuess, N=n, gridsize=gridsize,
                                                 intensity_scale=intensity_scale(nphotons, n),
                                                 probe_scale=float(sim["probe_scale"]))
    return {
        "X": cont.X, "coords_relative": cont.coords_relative,
        "centres": cont.global_offsets[:, 0, :, 0].to(torch.float64), "probe": cont.probe,
        "s": float(cont.intensity_scale), "object": sim["objectGuess"], "gridsize": gridsize,
        "positions": np.stack([sim["xcoords"], sim["ycoords"]], 1),
    }


def fit_object(data: dict[str, Any], steps: int = 300, lr: float = 0.05, flip_sign: bool = False,
               log_every: int = 0) -> dict[str, Any]:
    """Adam fit of the object canvas through ``ForwardModel``; returns the object and loss trace.

    Args:
        data: output of :func:`prepare`.
        steps: full-batch Adam steps. lr: Adam learning rate (on amplitude and phase maps).
        flip_sign: negate coords_relative in the forward model only (sign-convention check).
    Returns:
        dict 'object' (S, S) complex64 numpy, 'loss' list of per-step Poisson NLL floats,
        'loss_truth' NLL of the data under the true object times the best scalar amplitude factor.
    """
    import torch

    from ptycho_torch.forward_model import ForwardModel
    from ptycho_torch.physics import extract_patches, poisson_nll

    X, rel, centres = data["X"], data["coords_relative"], data["centres"]
    b, n, _, c = X.shape
    gs = int(round(math.sqrt(c)))
    fm = ForwardModel(n, gs, data["probe"], data["s"], object_big=True)
    target = data["s"] * X
    obs = target * target
    # member positions (B*C, 2) [x, y] = group centre - coords_relative
    pos = (centres[:, :, None] - rel[:, 0].to(torch.float64)).permute(0, 2, 1).reshape(b * c, 2).to(torch.float32)
    rel_fm = -rel if flip_sign else rel
    size = data["object"].shape[0]
    amp = torch.nn.Parameter(torch.ones(size, size))
    phase = torch.nn.Parameter(torch.zeros(size, size))
    opt = torch.optim.Adam([amp, phase], lr=lr)

    # bilinear patch cut (same rule as physics.extract_patches, which is pinned against it in the test):
    # integer (N+1)-windows gathered once, then the four taps weighted by the fractional parts
    top_left = pos - n // 2  # (K, 2) [x, y] of patch pixel (0, 0)
    base = torch.floor(top_left)
    frac = (top_left - base).to(torch.float32)
    ar = torch.arange(n + 1)
    rows = (base[:, 1].long()[:, None] + ar)[:, :, None]  # (K, N+1, 1)
    cols = (base[:, 0].long()[:, None] + ar)[:, None, :]  # (K, 1, N+1)
    fx, fy = frac[:, 0, None, None], frac[:, 1, None, None]

    def cut(obj: torch.Tensor) -> torch.Tensor:
        win = obj[rows, cols]  # (K, N+1, N+1)
        top = win[:, :n, :n] * (1 - fx) + win[:, :n, 1:] * fx
        bot = win[:, 1:, :n] * (1 - fx) + win[:, 1:, 1:] * fx
        return top * (1 - fy) + bot * fy

    def loss_of(obj: torch.Tensor) -> torch.Tensor:
        patches = cut(obj).reshape(b, c, n, n).permute(0, 2, 3, 1)
        _, pred = fm(patches, rel_fm)
        return poisson_nll(obs, pred * pred)

    trace = []
    for step in range(steps):
        opt.zero_grad()
        loss = loss_of(torch.polar(amp.abs(), phase))
        loss.backward()
        opt.step()
        trace.append(float(loss.detach()))
        if log_every and step % log_every == 0:
            print(f"  step {step:4d}  NLL {trace[-1]:.6g}", flush=True)
    with torch.no_grad():
        true_obj = torch.as_tensor(data["object"])
        # the data normalisation rescales amplitudes by one scalar: compare at the best factor
        factors = np.linspace(0.5, 1.5, 41)
        losses = [loss_of(true_obj * f).item() for f in factors]
        k = int(np.argmin(losses))
        cut_err = float((cut(true_obj) - extract_patches(true_obj, pos, n)).abs().max())
    return {"object": torch.polar(amp.detach().abs(), phase.detach()).numpy(), "loss": trace,
            "loss_truth": losses[k], "truth_factor": float(factors[k]), "cut_error": cut_err}


def score(obj: np.ndarray, data: dict[str, Any]) -> dict[str, Any]:
    """``ptycho.metrics.evaluate`` on the scanned bounding box (object pixel frame, no registration)."""
    from ptycho.metrics import evaluate

    pos = data["positions"]
    x0, y0 = np.ceil(pos.min(0)).astype(int)
    x1, y1 = np.floor(pos.max(0)).astype(int) + 1
    truth = data["object"][y0:y1, x0:x1]
    ev = evaluate(obj[y0:y1, x0:x1], truth, register=False)
    return {"amp_ssim": ev["amplitude"]["ssim"], "phase_ssim": ev["phase"]["ssim"],
            "amp_psnr": ev["amplitude"]["psnr"], "phase_psnr": ev["phase"]["psnr"],
            "amp_scale": ev["amplitude_scale"], "box": [int(y1 - y0), int(x1 - x0)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(ap, positions=256)
    ap.add_argument("--gridsize", type=int, default=2)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--nphotons", type=float, default=1e9)
    ap.add_argument("--no-flip", action="store_true", help="skip the sign-flipped control fit")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = prepare(args.positions, args.gridsize, args.nphotons, args.seed)
    rows = [("start", score(np.ones_like(data["object"]), data), None, None)]
    t = time.perf_counter()
    fit = fit_object(data, args.steps, args.lr)
    dt = time.perf_counter() - t
    rows.append(("fit", score(fit["object"], data), fit, dt))
    if not args.no_flip and args.gridsize > 1:
        t = time.perf_counter()
        bad = fit_object(data, args.steps, args.lr, flip_sign=True)
        rows.append(("fit, coords sign flipped", score(bad["object"], data), bad, time.perf_counter() - t))
    print(f"Physics oracle (Adam on the object canvas through ForwardModel, no network): lines, N={N}, "
          f"{args.positions} positions, gridsize {args.gridsize}, nphotons {args.nphotons:.0e}, "
          f"{args.steps} steps, lr {args.lr}, {args.threads} threads")
    print(f"scored box {rows[0][1]['box']} px (scan bounding box), intensity scale s = {data['s']:.2f}")
    hdr = f"{'object':>26} {'amp SSIM':>9} {'amp PSNR':>9} {'phase SSIM':>11} {'phase PSNR':>11} {'final NLL':>12} {'seconds':>8}"
    print(hdr)
    print("-" * len(hdr))
    for label, sc, f, sec in rows:
        nll = f"{f['loss'][-1]:.6g}" if f else "-"
        secs = f"{sec:.1f}" if sec is not None else "-"
        print(f"{label:>26} {sc['amp_ssim']:>9.3f} {sc['amp_psnr']:>9.2f} {sc['phase_ssim']:>11.3f} "
              f"{sc['phase_psnr']:>11.2f} {nll:>12} {secs:>8}")
    print(f"NLL of the true object x {fit['truth_factor']:.3f} (best scalar amplitude factor): "
          f"{fit['loss_truth']:.6g}; max |fast patch cut - physics.extract_patches| {fit['cut_error']:.2e}")


if __name__ == "__main__":
    main()
