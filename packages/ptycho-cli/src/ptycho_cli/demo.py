"""``ptycho demo``: the main job on a built-in default scan (specs/cli.md §7).

simulate (``ptycho simulate``'s default scan, ``ptycho_cli.recipe.REALISTIC_SCAN``: lines object, N=64, 512
positions on a Fermat spiral with 1 px position jitter, a defocused zone-plate probe, 1e9 photons, the neutral
fine-grid measurement model) -> train (PyTorch by default) on the scan with a smaller independent scan for validation, until a
wall-clock budget (``TrainingConfig(nepochs=None, max_time=...)``) -> save the bundle -> reload it and reconstruct
the scan (the network alone) -> refine that reconstruction with a few maximum-likelihood iterations
(``ptycho_torch.refine``) -> evaluate both against the simulation's ground truth -> figures -> summary table on
stdout. Every long step shows progress: a bar on a terminal, plain lines in a pipe.

Outputs under ``--output-dir`` (default ./ptycho_demo_output), in the layout of ``ptycho infer
--refine-iterations``: ``data/train.npz``, ``data/val.npz``, ``model/wts.h5.zip`` (+ backend files),
``reconstructed_object.npz`` / ``reconstruction.png`` (the final answer: after refinement),
``network_object.npz`` / ``network_reconstruction.png`` (the network alone), ``history.json``,
``loss_curves.png``, ``metrics.json``, ``comparison.png`` (refined; ``comparison_network.png``: the network
alone), ``summary.txt``. Without refinement (a TensorFlow-only installation) the network's object is the final
answer under the plain names.
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.metrics.placement import evaluate_arrays
from ptycho.physics.patches import STITCH_M
from ptycho_bridge.flag_configs import configs_from_flags
from ptycho_cli.backends import choose_backend, load_backend
from ptycho_cli.progress import is_quiet, stage, steps
from ptycho_cli.recipe import REALISTIC_SCAN as _SCAN
from ptycho_cli.recipe import recipe_for

__all__ = ["DemoPreset", "DEFAULT_PRESET", "DEMO_TRAINING_BUDGET", "FAST_PRESET", "METRICS_LEGEND", "run_demo",
           "cmd_demo", "demo_preset"]


@dataclass(frozen=True)
class DemoPreset:
    """Sizes of one demo run (all in the units of the canonical config)."""

    n_positions: int
    epochs: int | None
    gridsize: int
    batch_size: int
    val_positions: int
    n_filters_scale: int = 1
    # the scan: ptycho simulate's defaults (ptycho_cli.recipe.REALISTIC_SCAN), one definition for both
    N: int = int(_SCAN["N"])
    nphotons: float = float(_SCAN["nphotons"])
    object_kind: str = str(_SCAN["object_kind"])
    scan: str = str(_SCAN["scan"])
    probe_kind: str = str(_SCAN["probe_kind"])
    jitter: float = float(_SCAN["jitter"])
    interpolation: str = str(_SCAN["interpolation"])
    oversample: int = int(_SCAN["oversample"])
    refine_iterations: int = 10
    #: training budget DD:HH:MM:SS (TrainingConfig.max_time); with ``epochs`` None training runs until it
    max_time: str | None = None

    def training_text(self) -> str:
        """How long training runs, for the plan line and the summary."""
        if self.epochs is None:
            return f"train for {_budget_text(self.max_time)} (a wall-clock budget)"
        return f"train {self.epochs} epoch(s)" + (f" or {_budget_text(self.max_time)}" if self.max_time else "")


def _budget_text(max_time: str | None) -> str:
    from ptycho.config.validation import max_time_seconds

    seconds = int(max_time_seconds(max_time)) if max_time else 0
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


#: About 3 minutes in all on any machine: training runs until its budget (DEMO_TRAINING_BUDGET), so a slow or
#: shared machine trains fewer epochs instead of running longer. Measured (benchmarks/RESULTS.md "Demo
#: convergence"): at equal epochs batch 4 and batch 16 converge equally far (batch 16 is cheaper per pattern), 512
#: positions beat 256/128 positions with proportionally more epochs (canvas coverage), n_filters_scale 2 gains
#: little per extra second. The 'grf' object at this preset scores lower in amplitude (SSIM 0.21 vs 0.31; its
#: features are 2-4 px, finer than the lines object's background), so the demo keeps 'lines'. Gridsize 1: with the
#: recipe's refined-scan input (specs/network.md §8.3) the network alone scores 0.985 / 0.986 in the 2-minute
#: budget (16 epochs) against 0.986 / 0.950 at gridsize 2 (4 epochs; seed 1, one thread beside a benchmark;
#: benchmarks/RESULTS.md "The network on the refined scan").
DEMO_TRAINING_BUDGET = "00:00:02:00"
DEFAULT_PRESET = DemoPreset(n_positions=int(_SCAN["n_positions"]), epochs=None, gridsize=1, batch_size=16, val_positions=64,
                            max_time=DEMO_TRAINING_BUDGET)
#: Seconds; exercises every step for smoke tests, the reconstruction is not meaningful.
FAST_PRESET = DemoPreset(n_positions=64, epochs=1, gridsize=1, batch_size=16, val_positions=32, refine_iterations=1)


def _training_config(preset: DemoPreset, out: Path, seed: int, backend: str, n_groups: int) -> Any:
    """The canonical ``TrainingConfig`` of the demo run: the preset's values given as ``ptycho train`` flags would
    give them, through the one flag translation (``ptycho_bridge.flag_configs.configs_from_flags``, the training
    recipe of :func:`ptycho_cli.recipe.recipe_for` under them, N = the preset's pattern size); the object canvas
    is big only for grouped patterns (``object_big = gridsize > 1``, ``ptycho_bridge.flag_configs.object_big_rule``)."""
    values = {"train_data_file": out / "data" / "train.npz", "test_data_file": out / "data" / "val.npz",
              "output_dir": out / "model", "batch_size": preset.batch_size, "max_epochs": preset.epochs,
              "max_time": preset.max_time, "nphotons": preset.nphotons, "n_groups": n_groups, "subsample_seed": seed,
              "gridsize": preset.gridsize, "n_filters_scale": preset.n_filters_scale}
    config, _ = configs_from_flags(values, "train", backend=backend, N=preset.N,
                                   recipe=lambda arch: recipe_for(backend, arch))
    return config


def _train_and_reconstruct(backend: Any, train: Any, val: Any, config: Any) -> tuple[np.ndarray, Any, int, dict[str, Any]]:
    """Train with ``backend`` (a ``Backend``, ``ptycho_bridge.backend_api``), save the bundle, reload it and
    reconstruct every position of ``train``. Returns (object (H, W) complex, global offsets, stitching crop,
    history)."""
    from ptycho.config.training_options import describe_length
    from ptycho_cli.progress import silence_library_logs

    silence_library_logs()  # the backend's import reset the framework loggers
    if not is_quiet():  # then the training display: a bar on a terminal, one line per epoch in a pipe
        print(f"training ({backend.name}, {describe_length(config)})", flush=True)
    _, _, results = backend.train(train, val, config, progress=not is_quiet())
    backend.save_bundle(results, config)
    models, loaded = backend.load_bundle(config.output_dir)
    infer_cfg = copy.copy(loaded)
    infer_cfg.n_groups = None  # every position
    with stage(f"reconstructing {len(train.diff3d)} positions ({backend.name})"):
        recon = backend.reconstruct(models, train, infer_cfg, M=STITCH_M)
    return np.asarray(recon.object), recon.global_offsets, recon.crop, results.get("history") or {}


def run_demo(output_dir: str | Path, *, backend: str, preset: DemoPreset, seed: int = 1) -> dict[str, Any]:
    """Run the whole demo; returns the summary dict (also written to ``summary.txt``/``metrics.json``)."""
    from ptycho.atomic_io import save_text_atomic
    from ptycho.raw_data import RawData
    from ptycho_cli.commands import format_metrics_table, simulate_to
    from ptycho_cli.evaluation import load_ground_truth
    from ptycho_cli.figures import plot_comparison
    from ptycho_cli.outputs import (
        FINAL_NAMES,
        NETWORK_NAMES,
        canvas_origin,
        write_history,
        write_reconstruction,
    )

    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        from ptycho_cli.errors import UserError

        raise UserError(f"--output-dir {out}: expected a folder, found a file")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    train_path, val_path = out / "data" / "train.npz", out / "data" / "val.npz"
    train_path.parent.mkdir(parents=True, exist_ok=True)  # the demo owns its output folder
    scan_kw = dict(object_kind=preset.object_kind, N=preset.N, scan=preset.scan, nphotons=preset.nphotons,
                   probe_kind=preset.probe_kind, jitter=preset.jitter, interpolation=preset.interpolation,
                   oversample=preset.oversample)
    simulate_to(train_path, n_positions=preset.n_positions, seed=seed, **scan_kw)
    simulate_to(val_path, n_positions=preset.val_positions, seed=seed + 1, **scan_kw)
    timings["simulate"] = time.perf_counter() - t0
    train, val = RawData.from_file(train_path), RawData.from_file(val_path)
    config = _training_config(preset, out, seed, backend, n_groups=preset.n_positions)
    t1 = time.perf_counter()
    obj, offsets, crop, history = _train_and_reconstruct(load_backend(backend), train, val, config)
    timings["train+reconstruct"] = time.perf_counter() - t1
    origin = canvas_origin(offsets, np.shape(obj), crop)
    refining = preset.refine_iterations > 0 and _refinement_available()
    network_title = f"Demo: the network alone ({backend}, one pass, no refinement)"
    files = {("network_" + k if refining else k): v for k, v in write_reconstruction(
        out, obj, origin, network_title, names=NETWORK_NAMES if refining else FINAL_NAMES).items()}
    files.update(write_history(out, history))
    t2 = time.perf_counter()
    gt = load_ground_truth(train_path)
    positions = np.stack([np.asarray(train.xcoords, float), np.asarray(train.ycoords, float)], axis=1)
    metrics, win, target = evaluate_arrays(np.asarray(obj), gt, origin, positions=positions)
    network_metrics = metrics
    timings["evaluate"] = time.perf_counter() - t2
    refined = None
    title = network_title.replace("Demo: the network", "The network")
    if refining:
        t3 = time.perf_counter()
        refined = refine_reconstruction(train, np.asarray(obj), origin, preset.refine_iterations)
        timings["refine"] = time.perf_counter() - t3
        refined_obj, refined_origin = refined
        refined_title = f"Demo: the network + {preset.refine_iterations} refinement iterations (the final answer)"
        files.update(write_reconstruction(out, refined_obj, refined_origin, refined_title, names=FINAL_NAMES))
        metrics, win_r, target_r = evaluate_arrays(refined_obj, gt, refined_origin, positions=positions)
        plot_comparison(win, target, out / "comparison_network.png", frc_curve=network_metrics.get("frc_curve"),
                        metrics=network_metrics, title=f"{title} vs ground truth")
        files["comparison_network"] = out / "comparison_network.png"
        win, target = win_r, target_r
        metrics["network_alone"] = {k: network_metrics[k] for k in ("amplitude", "phase")}
        title = f"The network + {preset.refine_iterations} refinement iterations"
    plot_comparison(win, target, out / "comparison.png", frc_curve=metrics.get("frc_curve"), metrics=metrics,
                    title=f"{title} vs ground truth")
    files["comparison"] = out / "comparison.png"
    timings["total"] = time.perf_counter() - t0
    metrics["demo"] = {"backend": backend, "seed": seed, "preset": preset.__dict__, "timings_s": timings,
                       "history": {k: [float(v) for v in vals] for k, vals in history.items()
                                   if "loss" in str(k)}}
    from ptycho.atomic_io import save_json_atomic

    save_json_atomic(out / "metrics.json", metrics)
    files["metrics"] = out / "metrics.json"
    losses = history.get("train_loss") or []
    trained = f"{len(losses)} epoch(s) in {_budget_text(preset.max_time)}" if preset.epochs is None else \
        f"{preset.epochs} epoch(s)"
    vlosses = history.get("val_loss") or []
    lines = [
        f"PtychoPINN demo - backend {backend}, {preset.object_kind} object, {preset.probe_kind} probe, N={preset.N}, "
        f"{preset.n_positions} positions ({preset.scan} scan, {preset.jitter:g} px jitter), "
        f"nphotons={preset.nphotons:g}, gridsize {preset.gridsize}, {trained}, seed {seed}",
        f"final train loss {losses[-1]:.6g}" if losses else "final train loss -",
        f"final validation loss {vlosses[-1]:.6g}" if vlosses else "final validation loss -",
        f"evaluated region {metrics['shape'][0]}x{metrics['shape'][1]} px "
        f"(placement {metrics['placement']['placement']}, registration shift "
        f"{metrics['registration_shift'][0]:.2f}, {metrics['registration_shift'][1]:.2f} px)",
        "",
        *(_network_and_refined(network_metrics, metrics, preset.refine_iterations) if refined is not None
          else [format_metrics_table(metrics)]),
        "",
        *METRICS_LEGEND,
        f"Look at: {out / 'comparison.png'} (truth | reconstruction | difference"
        + (f"; {out / 'comparison_network.png'}: the network alone)" if refined is not None else ")")
        + f", {out / 'loss_curves.png'} (training loss per epoch).",
        "",
        "time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()),
        "files: " + ", ".join(str(p) for p in sorted(map(str, files.values()))),
    ]
    text = "\n".join(lines) + "\n"
    save_text_atomic(out / "summary.txt", text)
    return {"text": text, "metrics": metrics, "files": files}


#: What each number of the summary means and which direction is better (printed under the tables).
METRICS_LEGEND = (
    "What the numbers mean (amplitude and phase scored separately, after aligning the reconstruction to the truth):",
    "  ssim, ms_ssim  structural similarity, 1 = identical, 0 = unrelated: higher is better (the headline score)",
    "  psnr           peak signal-to-noise ratio in dB: higher is better",
    "  mae, mse       mean absolute / squared error: lower is better (0 = identical)",
    "  frc50, frc_*   resolution: the finest Fourier ring still correlated above 0.5 (1/7, half-bit), in rings",
    "                 of the evaluated window: higher is better (finer detail recovered)",
    "  train loss     with the refinement teacher (PyTorch's default): the amplitude + phase error against the",
    "                 refined training scan, lower is better; without it: as the validation loss",
    "  validation loss  Poisson negative log-likelihood up to a constant: only its decrease during",
    "                 training means anything; its value (often large and negative) is not a quality score",
)


def _refinement_available() -> bool:
    """Refinement runs on PyTorch; a TensorFlow-only installation shows the network alone."""
    import importlib.util

    return importlib.util.find_spec("ptycho_torch") is not None


def refine_reconstruction(scan: Any, canvas: np.ndarray, origin_xy: Any, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Refine a stitched reconstruction of ``scan`` (RawData) by maximum likelihood (``ptycho_torch.refine``):
    the scan's own probe and positions, ``iterations`` passes, Poisson likelihood.

    Returns (object (H, W) complex64 over the scanned box plus half a stitching crop, as ``ptycho infer
    --refine-iterations`` writes it, zero where the stitched ``canvas`` (origin ``origin_xy``) covers nothing;
    object coordinates [x, y] of its pixel (0, 0), float)."""
    from ptycho_torch.refine import RefineOptions, refine
    from ptycho_torch.refine.start import embed_start, output_object

    positions = np.stack([np.asarray(scan.xcoords, float), np.asarray(scan.ycoords, float)], axis=1)
    n = int(np.asarray(scan.diff3d).shape[-1])
    start, origin = embed_start(canvas, origin_xy, positions, n)
    with steps(int(iterations), "refining: maximum-likelihood pass") as shown:
        result = refine(np.asarray(scan.diff3d), positions, np.asarray(scan.probeGuess), start, origin,
                        options=RefineOptions(iterations=int(iterations)),
                        on_iteration=lambda row: shown.step(nll=float(row["nll"])))
    obj, corner = output_object(result.object, result.origin_xy, positions)
    # what the stitched network canvas does not cover was never illuminated: zero it in the refined object
    # too, so both are scored on the same region (the evaluation scores the covered rectangle)
    shift = np.round(np.asarray(corner, float) - np.asarray(origin_xy, float)).astype(int)  # canvas px of obj (0, 0)
    rows = np.arange(obj.shape[0])[:, None] + shift[1]
    cols = np.arange(obj.shape[1])[None, :] + shift[0]
    inside = (rows >= 0) & (rows < canvas.shape[0]) & (cols >= 0) & (cols < canvas.shape[1])
    covered = np.zeros(obj.shape, dtype=bool)
    covered[inside] = np.abs(canvas[np.clip(rows, 0, canvas.shape[0] - 1), np.clip(cols, 0, canvas.shape[1] - 1)])[inside] > 0
    obj[~covered] = 0
    return obj, np.asarray(corner, dtype=float)


def _network_and_refined(network: dict[str, Any], refined: dict[str, Any], iterations: int) -> list[str]:
    from ptycho_cli.commands import format_metrics_table

    return ["the network alone (trained on this scan, one pass):", format_metrics_table(network), "",
            f"after {iterations} refinement iterations started from it (ptycho_torch.refine):",
            format_metrics_table(refined)]


def demo_preset(args: argparse.Namespace) -> DemoPreset:
    """The preset of a ``ptycho demo`` command line: ``--fast`` or the default, then the flags given.
    ``--epochs N`` alone trains N epochs (no budget); ``--max-time`` alone trains until it; both: whichever
    comes first."""
    preset = FAST_PRESET if args.fast else DEFAULT_PRESET
    changes = {k: v for k, v in (("epochs", args.epochs), ("n_positions", args.n_positions),
                                 ("gridsize", args.gridsize), ("max_time", getattr(args, "max_time", None)))
               if v is not None}
    if args.epochs is not None and getattr(args, "max_time", None) is None:
        changes["max_time"] = None
    if getattr(args, "max_time", None) is not None and args.epochs is None:
        changes["epochs"] = None
    if changes:
        preset = replace(preset, **changes)
    if preset.gridsize > 1 and preset.n_positions < preset.gridsize**2:
        from ptycho_cli.errors import UserError

        raise UserError(f"--n-positions: expected at least gridsize^2 = {preset.gridsize**2}, found {preset.n_positions}")
    return preset


def cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    backend, reason = choose_backend(args.backend, default="pytorch")
    print(f"backend: {backend} ({reason})", flush=True)
    preset = demo_preset(args)
    refine_text = f", refine ({preset.refine_iterations} iterations)" if preset.refine_iterations else ""
    expected = " (about 3 minutes in all on any machine)" if preset == DEFAULT_PRESET else ""
    print(f"demo: simulate {preset.n_positions} positions, {preset.training_text()}, reconstruct{refine_text}, "
          f"evaluate{expected}; each step shows its progress", flush=True)
    summary = run_demo(args.output_dir, backend=backend, preset=preset, seed=args.seed)
    print(summary["text"], end="", flush=True)
    return 0
