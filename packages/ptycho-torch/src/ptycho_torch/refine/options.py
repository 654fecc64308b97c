"""Options, result and canvas geometry of refinement (specs/refinement.md §5-§6)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .likelihood import LIKELIHOODS

__all__ = ["RefineOptions", "RefineResult", "object_canvas_geometry", "flat_canvas"]


@dataclass(frozen=True)
class RefineOptions:
    """Knobs of :func:`refine` (specs/refinement.md §5, §6).

    - ``iterations``: passes over all patterns (at least 0; the most when ``tolerance`` stops earlier).
    - ``batch_size``: patterns per update (from the pass where the growing batch reaches it; None: the whole
      scan, or at most ``POSITION_BATCH_CAP`` = 256 patterns while positions are refined). ``batch_start``:
      patterns per update in the first pass, doubled every pass up to ``batch_size`` (None: ``batch_size``
      from the start).
    - ``tolerance``: stop after the ``patience``-th pass in a row whose relative object change
      ``||O_t - O_(t-1)|| / ||O_t||`` is below it (0: never; one pass below it is not enough: conjugate steps
      on a slow mode can change little for a few passes and then resume).
    - ``conjugate``: passes whose batch holds the whole scan take preconditioned conjugate-gradient steps
      (:mod:`.conjugate`); False keeps preconditioned gradient steps. ``chunk_size``: patterns evaluated at
      once within a batch (working memory; the update is the batch's whatever the chunk).
    - ``likelihood``: 'poisson' (default) or 'gaussian'. ``delta``: preconditioner damping (fraction of the
      maximum).
    - ``refine_probe`` / ``refine_positions``: also update the probe / the sub-pixel positions, from iteration
      ``probe_start`` / ``position_start`` (0-based). ``max_position_step``: clip per update (px).
    - ``newton_steps``: 1-D Newton steps of the step-length search. ``max_step``: largest step length.
    - ``subpixel``: 'object' (band-limited shift of an (N + 2 subpixel_margin) object window, the physics of
      ``simulate(..., interpolation='fourier')``) or 'probe' (Fourier shift of the probe; cheaper, exact only
      for band-limited exit waves).
    - ``seed``: batch order. ``device``: 'cpu', 'cuda', ... ``dtype``: 'float32' or 'float64' (real precision
      of the computation).
    """

    iterations: int = 60
    batch_size: int | None = None
    batch_start: int | None = 16
    tolerance: float = 0.003
    patience: int = 5
    conjugate: bool = True
    chunk_size: int = 16
    likelihood: str = "poisson"
    delta: float = 0.05
    refine_probe: bool = False
    refine_positions: bool = False
    probe_start: int = 1
    position_start: int = 2
    max_position_step: float = 0.5
    newton_steps: int = 3
    max_step: float = 1.0
    subpixel: str = "probe"
    subpixel_margin: int = 16
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"

    def batch_for(self, iteration: int, cap: int) -> int:
        """Patterns per update in pass ``iteration`` (0-based): ``batch_start * 2**iteration`` up to ``batch_size``
        (``cap``, the whole scan within the memory budget, when ``batch_size`` is None)."""
        top = cap if self.batch_size is None else self.batch_size
        if self.batch_start is None:
            return top
        return min(top, self.batch_start * 2 ** min(iteration, 30))

    def validate(self) -> None:
        """Raise ValueError naming the first bad field."""
        for name in ("iterations", "probe_start", "position_start", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"RefineOptions.{name}: expected an integer >= 0, found {v!r}")
        if self.subpixel not in ("object", "probe"):
            raise ValueError(f"RefineOptions.subpixel: expected 'object' or 'probe', found {self.subpixel!r}")
        if isinstance(self.subpixel_margin, bool) or not isinstance(self.subpixel_margin, int) or self.subpixel_margin < 0:
            raise ValueError(f"RefineOptions.subpixel_margin: expected an integer >= 0, found {self.subpixel_margin!r}")
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                                            or self.batch_size < 1):
            raise ValueError(f"RefineOptions.batch_size: expected None or an integer >= 1, found {self.batch_size!r}")
        for name in ("chunk_size", "newton_steps", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"RefineOptions.{name}: expected an integer >= 1, found {v!r}")
        if self.batch_start is not None and (isinstance(self.batch_start, bool) or not isinstance(self.batch_start, int)
                                             or self.batch_start < 1):
            raise ValueError(f"RefineOptions.batch_start: expected None or an integer >= 1, found {self.batch_start!r}")
        if not isinstance(self.tolerance, (int, float)) or not math.isfinite(self.tolerance) or self.tolerance < 0:
            raise ValueError(f"RefineOptions.tolerance: expected a finite number >= 0, found {self.tolerance!r}")
        if not isinstance(self.conjugate, bool):
            raise ValueError(f"RefineOptions.conjugate: expected True or False, found {self.conjugate!r}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"RefineOptions.likelihood: expected one of {LIKELIHOODS}, found {self.likelihood!r}")
        for name in ("delta", "max_position_step", "max_step"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"RefineOptions.{name}: expected a finite number > 0, found {v!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"RefineOptions.dtype: expected 'float32' or 'float64', found {self.dtype!r}")


@dataclass
class RefineResult:
    """Output of :func:`refine` (numpy arrays; positions rows [x, y]; history one dict per iteration)."""

    object: np.ndarray
    origin_xy: tuple[int, int]
    probe: np.ndarray
    positions: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)
    initial_nll: float = float("nan")
    final_nll: float = float("nan")
    start_scale: float = 1.0


def object_canvas_geometry(positions: np.ndarray, n: int, margin: int = 4) -> tuple[tuple[int, int], tuple[int, int]]:
    """(origin (x0, y0), shape (H, W)) of a canvas holding every N x N window of ``positions`` plus ``margin`` px."""
    base = np.round(np.asarray(positions, dtype=np.float64))
    lo = base.min(axis=0) - n // 2 - margin
    hi = base.max(axis=0) - n // 2 + n + margin
    x0, y0 = int(lo[0]), int(lo[1])
    return (x0, y0), (int(hi[1]) - y0, int(hi[0]) - x0)


def flat_canvas(shape: tuple[int, int]) -> np.ndarray:
    """The flat start: a (H, W) complex64 canvas of ones (rescaled to the data by :func:`refine`)."""
    return np.ones(shape, dtype=np.complex64)
