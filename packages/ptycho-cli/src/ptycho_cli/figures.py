"""Figures people look at: reconstruction amplitude/phase, loss curves, ground-truth comparison.

All plots use matplotlib's object API with the Agg canvas (no pyplot global state, no display needed) and
are written atomically as PNG through ``ptycho.atomic_io`` so a reader never sees a half-written image.
Inputs are plain numpy arrays; every image panel has a colour bar with its unit (amplitude: arbitrary
units of the object transmission, phase: radians).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ptycho.atomic_io import atomic_write

__all__ = [
    "aligned_errors",
    "plot_amplitude_phase",
    "plot_comparison",
    "plot_loss_curves",
    "save_amplitude_phase_pngs",
    "save_figure",
]


def _image(name: str, value: Any, *, complex_ok: bool = False) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"{name}: expected a 2-D image (H, W), found shape {arr.shape}")
    kinds = "iuf" + ("c" if complex_ok else "")
    if arr.dtype.kind not in kinds:
        raise ValueError(f"{name}: expected {'complex or real' if complex_ok else 'real'} numbers, found dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, found {int(np.size(arr) - np.isfinite(arr).sum())} NaN/inf")
    return arr


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Render ``fig`` to PNG in memory, then write it atomically at ``path`` (parents created)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    with atomic_write(path, "wb") as handle:
        handle.write(buf.getvalue())


def _panel(fig: Figure, ax: Any, img: np.ndarray, title: str, cmap: str, label: str,
           vmin: float | None = None, vmax: float | None = None) -> None:
    im = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, origin="upper", interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    fig.colorbar(im, ax=ax, shrink=0.85, label=label)


def plot_amplitude_phase(amplitude: Any, phase: Any, path: str | os.PathLike[str],
                         title: str = "Reconstruction") -> None:
    """Amplitude (gray) and phase (viridis, radians) side by side, each with a colour bar.

    Args:
        amplitude: (H, W) real, the object amplitude |O|.
        phase: (H, W) real, the object phase in radians.
        path: PNG to write.
        title: figure title.
    Raises:
        ValueError: non-2-D, non-finite or differently shaped inputs.
    """
    amp = _image("amplitude", amplitude)
    ph = _image("phase", phase)
    if amp.shape != ph.shape:
        raise ValueError(f"phase: expected the amplitude's shape {amp.shape}, found {ph.shape}")
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    _panel(fig, axes[0], amp, "Amplitude", "gray", "amplitude (a.u.)")
    _panel(fig, axes[1], ph, "Phase", "viridis", "phase (rad)")
    fig.suptitle(title)
    save_figure(fig, path)


def save_amplitude_phase_pngs(amplitude: Any, phase: Any, out_dir: str | os.PathLike[str]) -> None:
    """Write ``reconstructed_amplitude.png`` (gray) and ``reconstructed_phase.png`` (viridis, radians) into
    ``out_dir`` (created) when both images are given, each (H, W) real with a colour bar; atomic writes."""
    if amplitude is None or phase is None:
        return
    for name, value, title, cmap, label in (("amplitude", amplitude, "Amplitude", "gray", "amplitude (a.u.)"),
                                            ("phase", phase, "Phase", "viridis", "phase (rad)")):
        fig = Figure(figsize=(8, 8), layout="constrained")
        _panel(fig, fig.subplots(), _image(name, value), title, cmap, label)
        save_figure(fig, os.path.join(out_dir, f"reconstructed_{name}.png"))


def plot_loss_curves(history: Mapping[str, Sequence[float]], path: str | os.PathLike[str],
                     title: str = "Training history") -> list[str]:
    """Loss per epoch for every history entry whose name contains ``loss`` (train and validation).

    Args:
        history: ``{name: [value per epoch]}`` as returned by the backends (``train_loss``, ``val_loss``,
            ``poisson_val_loss`` ...). Non-loss entries and empty/non-finite series are skipped.
        path: PNG to write.
    Returns:
        The names of the plotted series (sorted).
    Raises:
        ValueError: if no entry holds a finite loss series (nothing to plot).
    """
    if not isinstance(history, Mapping):
        raise ValueError(f"history: expected a mapping of name -> list of losses, found {type(history).__name__}")
    series: dict[str, np.ndarray] = {}
    for name in sorted(history):
        if "loss" not in str(name).lower():
            continue
        try:
            values = np.asarray(history[name], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            continue
        values = values[np.isfinite(values)] if values.size else values
        if values.size:
            series[str(name)] = values
    if not series:
        raise ValueError(f"history: expected at least one finite '*loss*' series, found keys {sorted(map(str, history))}")
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    positive = all(float(v.min()) > 0 for v in series.values())
    for name, values in series.items():
        epochs = np.arange(1, values.size + 1)
        style = "--" if "val" in name.lower() else "-"
        ax.plot(epochs, values, style, marker="o" if values.size < 30 else None, ms=3, label=name)
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" + (" (log scale)" if positive else ""))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, path)
    return list(series)


def aligned_errors(reconstruction: Any, ground_truth: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel error maps after the two global ambiguities of ptychography are removed.

    Amplitude: the reconstruction is scaled by ``mean|G| / mean|R|`` (one factor), error = scaled |R| - |G|.
    Phase: the constant offset ``angle(sum(R * conj(G)))`` is removed, error = wrapped phase difference in
    (-pi, pi]. Both inputs are complex (H, W) of equal shape.

    Returns:
        (amplitude_error, phase_error), float64 (H, W).
    """
    r = _image("reconstruction", reconstruction, complex_ok=True).astype(np.complex128)
    g = _image("ground_truth", ground_truth, complex_ok=True).astype(np.complex128)
    if r.shape != g.shape:
        raise ValueError(f"reconstruction: expected the ground truth's shape {g.shape}, found {r.shape}")
    ra, ga = np.abs(r), np.abs(g)
    scale = float(ga.mean() / ra.mean()) if ra.mean() > 0 else 1.0
    amp_err = scale * ra - ga
    offset = np.angle(np.sum(r * np.conj(g)))
    phase_err = np.angle(r * np.conj(g) * np.exp(-1j * offset))
    return amp_err, phase_err


def plot_comparison(reconstruction: Any, ground_truth: Any, path: str | os.PathLike[str],
                    frc_curve: Sequence[float] | Mapping[str, Sequence[float]] | None = None,
                    metrics: Mapping[str, Mapping[str, float]] | None = None,
                    title: str = "Reconstruction vs ground truth") -> None:
    """Ground truth, reconstruction and error maps for amplitude and phase, plus the FRC curve.

    Args:
        reconstruction: (H, W) complex, already cropped/registered onto the ground truth's grid.
        ground_truth: (H, W) complex object.
        path: PNG to write.
        frc_curve: Fourier ring correlation per ring (ring index = cycles per image side), one curve or
            ``{'amplitude': [...], 'phase': [...]}``; plotted with the 0.5 and 1/7 thresholds. ``None``
            leaves the panel out.
        metrics: optional ``{'amplitude': {...}, 'phase': {...}}``; SSIM/PSNR are shown in the titles.
    """
    amp_err, ph_err = aligned_errors(reconstruction, ground_truth)
    r = np.asarray(reconstruction).reshape(amp_err.shape)
    g = np.asarray(ground_truth).reshape(amp_err.shape)
    ra = np.abs(r) * (np.abs(g).mean() / max(np.abs(r).mean(), 1e-30))
    ga = np.abs(g)
    offset = np.angle(np.sum(r * np.conj(g)))
    rp = np.angle(r * np.exp(-1j * offset))
    gp = np.angle(g)
    ncols = 4 if frc_curve is not None else 3
    fig = Figure(figsize=(4.8 * ncols, 8.6), layout="constrained")
    axes = fig.subplots(2, ncols)

    def sub(kind: str) -> str:
        if not metrics or kind not in metrics:
            return ""
        m = metrics[kind]
        parts = [f"{k.upper()} {float(m[k]):.3f}" for k in ("ssim", "psnr") if k in m and m[k] is not None]
        return ("\n" + ", ".join(parts)) if parts else ""

    vmin, vmax = float(min(ga.min(), ra.min())), float(max(ga.max(), ra.max()))
    _panel(fig, axes[0, 0], ga, "Ground-truth amplitude", "gray", "amplitude (a.u.)", vmin, vmax)
    _panel(fig, axes[0, 1], ra, "Reconstructed amplitude (scaled)" + sub("amplitude"), "gray", "amplitude (a.u.)", vmin, vmax)
    lim = float(np.abs(amp_err).max()) or 1.0
    _panel(fig, axes[0, 2], amp_err, "Amplitude error", "RdBu_r", "error (a.u.)", -lim, lim)
    pmin, pmax = float(min(gp.min(), rp.min())), float(max(gp.max(), rp.max()))
    _panel(fig, axes[1, 0], gp, "Ground-truth phase", "viridis", "phase (rad)", pmin, pmax)
    _panel(fig, axes[1, 1], rp, "Reconstructed phase (offset removed)" + sub("phase"), "viridis", "phase (rad)", pmin, pmax)
    plim = float(np.abs(ph_err).max()) or 1.0
    _panel(fig, axes[1, 2], ph_err, "Phase error", "RdBu_r", "error (rad)", -plim, plim)
    if frc_curve is not None:
        curves = dict(frc_curve) if isinstance(frc_curve, Mapping) else {"FRC": frc_curve}
        ax = axes[0, 3]
        low = -0.05
        for i, (name, values) in enumerate(sorted(curves.items())):
            curve = np.asarray(values, dtype=np.float64).reshape(-1)
            ax.plot(np.arange(curve.size), curve, "-", color=f"C{i}", label=str(name))
            if curve.size and np.isfinite(curve).any():
                low = min(low, float(np.nanmin(curve)))
        ax.axhline(0.5, color="gray", ls="--", lw=1, label="0.5")
        ax.axhline(1 / 7, color="gray", ls=":", lw=1, label="1/7")
        ax.set_ylim(low, 1.05)
        ax.set_xlabel("ring (cycles per image side)")
        ax.set_ylabel("correlation")
        ax.set_title("Fourier ring correlation")
        ax.grid(True, alpha=0.3)
        ax.legend()
        axes[1, 3].axis("off")
        if metrics:
            lines = []
            for kind in ("amplitude", "phase"):
                for k, v in sorted((metrics.get(kind) or {}).items()):
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        lines.append(f"{kind[:5]} {k}: {float(v):.4g}")
            axes[1, 3].text(0.0, 1.0, "\n".join(lines[:16]), va="top", family="monospace", fontsize=9)
    fig.suptitle(title)
    save_figure(fig, path)
