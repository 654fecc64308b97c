"""Labels of the refinement teacher (specs/torch-training.md §8.1): refine the training scan's object, cut
patches at the training positions in the generator's frame, centre their phase, match their amplitude to the
network's units.

Frame: ``refine`` returns a canvas whose pixel (0, 0) sits at object coordinates ``origin_xy`` [x, y]; the
patch of scan point (x, y) is ``extract_patches(canvas, (x, y) - origin_xy, N, interpolation='fourier')`` -
the N x N region centred at (row = y, col = x), band-limited (no bilinear blur), which is what the generator
predicts for that pattern (specs/physics.md §3). No ground truth is read anywhere here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["TeacherLabels", "calibrate_amplitude", "label_patches", "recentre_phase", "refine_and_cut",
           "teacher_labels"]


@dataclass
class TeacherLabels:
    """What the teacher produced. Y: (P, N, N) complex64 labels, one per scan position (phase centred, not yet
    calibrated); object: (H, W) complex64 refined canvas; origin_xy: its pixel (0, 0) in object coordinates;
    seconds: wall time of refinement and cutting; nll: the refinement's final Poisson NLL per element;
    phase_offset: the constant (radians) removed by :func:`recentre_phase`."""

    Y: np.ndarray
    object: np.ndarray
    origin_xy: tuple[int, int]
    seconds: float
    nll: float
    phase_offset: float


def label_patches(obj: np.ndarray, origin_xy: tuple[float, float] | np.ndarray, positions: np.ndarray,
                  n: int) -> np.ndarray:
    """(P, N, N) complex64 patches of ``obj`` (H, W) centred at ``positions`` (P, 2) rows [x, y] in object
    pixels, the canvas's pixel (0, 0) being at object coordinates ``origin_xy`` [x, y]; band-limited cut."""
    from ptycho.physics import extract_patches

    pos = np.asarray(positions, dtype=np.float64) - np.asarray(origin_xy, dtype=np.float64)[None, :]
    return np.asarray(extract_patches(obj, pos, int(n), interpolation="fourier"), dtype=np.complex64)


def recentre_phase(Y: np.ndarray, bins: int = 360, window: float = np.pi / 2) -> tuple[np.ndarray, float]:
    """(Y · exp(-i c), c): the labels' phase turned so that the emptiest arc of their phase histogram sits at the
    ±π wrap, i.e. every label phase as far from ±π (where the generator's π·tanh head saturates and wraps) as
    the data allow. The object's absolute phase is not measurable (any constant fits the data equally).

    The histogram (``bins`` bins over (-π, π]) is summed over every circular window of width ``window``; among
    the windows of least mass, the middle of the longest circular run is the arc put at ±π. A circular MEAN
    would not do: for a two-level phase object with contrast ~π (a Siemens star) the resultant of the two
    clusters nearly cancels and its angle can land on one cluster, putting the other at ±π (measured: spokes
    at 2.9 rad, gaps at -0.3 rad)."""
    ph = np.angle(np.asarray(Y)).ravel()
    if ph.size > 2_000_000:  # a deterministic subsample is plenty for a histogram
        ph = ph[:: ph.size // 2_000_000 + 1]
    idx = np.floor((ph + np.pi) / (2 * np.pi) * bins).astype(np.int64) % bins
    hist = np.bincount(idx, minlength=bins).astype(np.int64)
    w = max(1, int(round(window / (2 * np.pi) * bins)))
    csum = np.concatenate([[0], np.cumsum(np.concatenate([hist, hist[:w]]))])
    mass = csum[w:w + bins] - csum[:bins]  # mass[i]: bins i .. i + w - 1 (circular)
    least = mass == mass.min()
    if least.all():
        start = 0
    else:  # the longest circular run of least-mass windows, and its middle
        first = int(np.argmin(least))  # a window that is not least: runs cannot wrap past it
        order = (np.arange(bins) + first) % bins
        best_len, best_start, run, run_start = 0, 0, 0, 0
        for k, i in enumerate(order):
            if least[i]:
                run, run_start = run + 1, (run_start if run else k)
                if run > best_len:
                    best_len, best_start = run, run_start
            else:
                run = 0
        start = int(order[best_start]) + (best_len - 1) / 2.0
    centre = -np.pi + (start + w / 2.0) * (2 * np.pi / bins)  # centre angle of the chosen window
    c = float(np.angle(np.exp(1j * (centre - np.pi))))
    return (np.asarray(Y) * np.complex64(np.exp(-1j * c))).astype(np.complex64), c


def refine_and_cut(diffraction: np.ndarray, positions: np.ndarray, probe: np.ndarray, iterations: int, *,
                   seed: int = 0, device: str = "cpu",
                   on_iteration: Callable[[dict], None] | None = None) -> tuple[np.ndarray, Any]:
    """(patches (P, N, N) complex64, the RefineResult): the scan's object refined ``iterations`` passes from a flat
    start (``RefineOptions`` defaults otherwise) and cut at every position (:func:`label_patches`). What the
    teacher's labels and the refined estimate of specs/network.md §8.3 are made of.

    Args:
        diffraction: (P, N, N) measured amplitudes. positions: (P, 2) [x, y] object pixels.
        probe: (N, N) complex or (K, N, N) modes, the scan's probe. iterations: refinement passes (>= 1).
        seed: batch order of the refinement. device: torch device for the refinement.
        on_iteration: called after each refinement pass with its history row (``nll``, ...).
    """
    from ptycho_torch.refine import RefineOptions, refine

    result = refine(np.asarray(diffraction, dtype=np.float32), np.asarray(positions, dtype=np.float64),
                    np.asarray(probe, dtype=np.complex64), None, None,
                    options=RefineOptions(iterations=int(iterations), seed=int(seed), device=str(device)),
                    on_iteration=on_iteration)
    n = int(np.asarray(diffraction).shape[-1])
    return label_patches(result.object, result.origin_xy, positions, n), result


def teacher_labels(diffraction: np.ndarray, positions: np.ndarray, probe: np.ndarray, *, iterations: int,
                   seed: int = 0, device: str = "cpu",
                   on_iteration: Callable[[dict], None] | None = None) -> TeacherLabels:
    """Refine the scan's object from a flat start and cut centred labels at every position
    (:func:`refine_and_cut`, then :func:`recentre_phase`; arguments as there)."""
    t0 = time.perf_counter()
    patches, result = refine_and_cut(diffraction, positions, probe, iterations, seed=seed, device=device,
                                     on_iteration=on_iteration)
    Y, c = recentre_phase(patches)
    return TeacherLabels(Y=Y, object=np.asarray(result.object, dtype=np.complex64),
                         origin_xy=tuple(int(v) for v in result.origin_xy), seconds=time.perf_counter() - t0,
                         nll=float(result.final_nll), phase_offset=c)


@torch.no_grad()
def calibrate_amplitude(forward_model: torch.nn.Module, container, max_groups: int = 256,
                        patches: torch.Tensor | None = None) -> float:
    """The real factor k that puts the labels (``container.Y``, or ``patches`` (n, N, N, C) complex grouped like
    it, e.g. the refined estimate of specs/network.md §8.3) in the network's units: k minimises
    Σ (k · A(Y) - s·X)² over up to ``max_groups`` groups, with A(Y) the module's own forward model
    (``ForwardModel``: probe as normalised by the container, intensity scale s) applied to the label patches and
    s·X the measured amplitudes as the Poisson loss sees them. A is linear in |Y|'s scale, so k is exact:
    k = Σ A·sX / Σ A². The refinement ran with the raw probe and counts; the network sees a normalised probe and
    normalised diffraction, so without k the supervised and the Poisson terms would ask for different
    amplitude levels."""
    idx = torch.arange(min(int(max_groups), len(container)))
    batch = container.batch(idx)
    Y = (container.Y if patches is None else patches)[idx]  # (B, N, N, C) complex
    _, pred = forward_model(Y.to(torch.complex64), batch["coords_relative"].float())
    target = batch["X"].float() * float(container.intensity_scale)
    den = float((pred.double() ** 2).sum())
    if not den > 0:
        raise ValueError("teacher: the refined object predicts no diffraction (all-zero labels); expected a "
                         "scan with signal")
    return float((pred.double() * target.double()).sum()) / den
