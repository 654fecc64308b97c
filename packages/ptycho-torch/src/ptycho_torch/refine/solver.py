"""Maximum-likelihood refinement loop with illumination-preconditioned steps (specs/refinement.md §3-§5).

One iteration is one pass over the scan's patterns in mini-batches (a seeded random order). For each batch:

1. forward model (:mod:`.operators`) and NLL (:mod:`.likelihood`); autograd gives the gradients of the batch
   NLL with respect to the object canvas ``g_O``, the probe ``g_P`` and the fractional positions ``g_f``;
2. preconditioned directions (LSQML / ptypy's wavefield preconditioner):
   ``dO = -g_O / (4 s^2 (sum_k |P_k|^2 + delta max))`` (probe intensity summed over the batch at each
   window), ``dP = -g_P / (4 s^2 (sum_k |W_k|^2 + delta max))``;
3. one step length ``alpha`` for both, minimising the batch NLL along the exact (quadratic in alpha) path
   ``Psi(alpha) = F[(P_k + alpha dP_k)(W_k + alpha dW_k)]`` by safeguarded 1-D Newton steps (no extra FFTs);
4. positions (optional): a Gauss-Newton step per pattern ``df = -g_f / (4 s^2 sum (dA / df)^2)``,
   clipped, with the batch mean removed (a common shift of all positions is the object's, not theirs).

Pure computation: arrays in, arrays out; no files. Deterministic for a seed on a given device.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from ptycho_torch.denormal_mode import denormals_flushed

from . import operators as ops
from .conjugate import CG_MAX_STEP, ConjugateDirections
from .likelihood import CURVATURE, nll_terms
from .modes import amplitude, exit_waves, orthogonalise_modes, sum_modes
from .options import RefineOptions, RefineResult, flat_canvas, object_canvas_geometry
from .step_length import line_search

__all__ = ["refine", "nll_and_gradients", "PROBE_CACHE_BYTES", "POSITION_BATCH_CAP"]

#: Largest batch while positions are refined (``batch_size`` None): position steps need many updates per pass, and
#: conjugate directions need a fixed problem, which moving positions are not (measured on the neutral Siemens scan,
#: 1 px RMS errors: growing to the whole scan with conjugate steps left 0.86 px and SSIM 0.71 / 0.78; capped at 256,
#: 0.55 px and 0.83 / 0.93).
POSITION_BATCH_CAP = 256
#: Patterns whose far fields set the step length of a conjugate (full-scan) step.
LINE_SEARCH_PATTERNS = 256

#: Largest cache of shifted probes (probe mode), bytes: 256 MiB holds 32k patterns of 64 x 64 in complex64.
PROBE_CACHE_BYTES = 256 * 2 ** 20


def _check_inputs(diffraction, positions, probe, obj) -> tuple[int, int]:
    d = np.asarray(diffraction)
    if d.ndim != 3 or d.shape[1] != d.shape[2] or d.shape[0] == 0:
        raise ValueError(f"refine: diffraction: expected shape (K, N, N), found shape {d.shape}")
    k, n = d.shape[0], d.shape[1]
    if np.asarray(positions).shape != (k, 2):
        raise ValueError(f"refine: positions: expected shape ({k}, 2) rows [x, y], found shape {np.asarray(positions).shape}")
    pshape = np.asarray(probe).shape
    if pshape != (n, n) and (len(pshape) != 3 or pshape[1:] != (n, n) or pshape[0] < 1):
        raise ValueError(f"refine: probe: expected shape ({n}, {n}) or (K, {n}, {n}) incoherent modes, "
                         f"found shape {pshape}")
    if obj is not None and np.asarray(obj).ndim != 2:
        raise ValueError(f"refine: obj: expected a 2-D canvas (H, W), found shape {np.asarray(obj).shape}")
    for name, arr in (("diffraction", d), ("positions", positions), ("probe", probe)):
        if not np.all(np.isfinite(np.asarray(arr))):
            raise ValueError(f"refine: {name}: expected finite values, found NaN or inf")
    return k, n


def _sum_squares(t: torch.Tensor, chunk: int = 32) -> float:
    """sum t^2 accumulated in float64 over chunks of patterns (peak memory: one chunk in float64)."""
    return sum(float((part.double() ** 2).sum()) for part in t.split(chunk))


class _Problem:
    """Tensors of one refinement run (device, dtype) and the batched forward model."""

    def __init__(self, diffraction, positions, probe, obj, origin, scale, opts: RefineOptions):
        rdt = torch.float64 if opts.dtype == "float64" else torch.float32
        cdt = torch.complex128 if rdt == torch.float64 else torch.complex64
        dev = torch.device(opts.device)
        self.opts = opts
        self.scale = float(scale)
        self.d = torch.as_tensor(np.asarray(diffraction), device=dev).to(rdt)
        # a copy (updated in place), float64: absolute coordinates
        self.pos = torch.tensor(np.asarray(positions, dtype=np.float64), device=dev)
        self.probe = torch.as_tensor(np.asarray(probe), device=dev).to(cdt)  # (N, N) or (K, N, N) modes
        self.obj = torch.as_tensor(np.asarray(obj), device=dev).to(cdt)
        self.origin = (int(origin[0]), int(origin[1]))
        self.shape = (int(self.obj.shape[0]), int(self.obj.shape[1]))
        self.n = int(self.probe.shape[-1])
        self.count = self.d.numel()
        s2 = self.scale ** 2
        # what nll_terms('poisson') leaves out of the project's per-element Poisson NLL of the counts
        self.power = _sum_squares(self.d)  # sum d^2 (float64, chunked: no full-size float64 copy)
        self.poisson_offset = -self.power / self.count * s2 * math.log(s2) if opts.likelihood == "poisson" else 0.0

        # probe mode: the shifted probes of every pattern, kept while the probe and the positions stay
        # (one FFT pair per pattern saved on every pass); only when they fit in PROBE_CACHE_BYTES
        self._shifted: torch.Tensor | None = None
        self._full_illum: torch.Tensor | None = None
        self._cache_ok = (opts.subpixel == "probe"
                          and self.d.shape[0] * self.probe.numel() * self.probe.element_size() <= PROBE_CACHE_BYTES)

    def forget_probes(self) -> None:
        """Drop the cached shifted probes and illumination (after a probe or position update)."""
        self._shifted = None
        self._full_illum = None

    def illumination(self, idx: torch.Tensor, probes: torch.Tensor, index: torch.Tensor, full: bool) -> torch.Tensor:
        """``sum_k |P_k|^2`` over the patterns ``idx`` on the canvas; for the whole scan (``full``) kept until the
        probe or the positions change."""
        if not full:
            return ops.illumination(probes, index, self.shape)
        if self._full_illum is None:
            self._full_illum = ops.illumination(probes, index, self.shape)
        return self._full_illum

    def batch_probes(self, idx: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
        """P_k of the current probe for the patterns ``idx`` (their fractional parts ``frac``), cached in probe mode."""
        if not self._cache_ok:
            return self.probes(self.probe, frac)
        if self._shifted is None:
            _, _, all_frac = self.geometry(torch.arange(self.d.shape[0], device=self.d.device))
            self._shifted = torch.cat([self.probes(self.probe, f) for f in all_frac.detach().split(256)])
        return self._shifted[idx]

    @property
    def margin(self) -> int:
        return self.opts.subpixel_margin if self.opts.subpixel == "object" else 0

    def geometry(self, idx: torch.Tensor, pos: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(integer window index (B, N, N), integer positions (B, 2), fractional parts (B, 2)) of ``idx``."""
        base, frac = ops.split_positions(self.pos[idx] if pos is None else pos)
        return ops.window_index(base, self.origin, self.n, self.shape), base, frac

    def probes(self, probe: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
        """P_k: the probe moved by f_k ('probe' mode) or the probe itself broadcast ('object' mode)."""
        if self.opts.subpixel == "probe":
            return ops.shift_probe(probe, frac)
        return probe.expand(frac.shape[0], *probe.shape)

    def windows(self, obj: torch.Tensor, index: torch.Tensor, base: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
        """W_k: integer windows ('probe' mode) or band-limited sub-pixel windows ('object' mode)."""
        if self.opts.subpixel == "probe":
            return ops.gather_windows(obj, index)
        return ops.shifted_windows(obj, base, frac, self.origin, self.n, self.margin)

    def spectra(self, obj, probe, index, base, frac) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Psi (B, N, N), or (B, K, N, N) with K modes, probes P_k, windows W_k)."""
        probes = self.probes(probe, frac)
        windows = self.windows(obj, index, base, frac)
        return ops.far_field(exit_waves(probes, windows)), probes, windows

    def batch_nll(self, psi_hat: torch.Tensor, idx: torch.Tensor, likelihood: str | None = None) -> torch.Tensor:
        """Summed NLL of the batch ``idx`` (``likelihood`` default: the run's)."""
        return nll_terms(amplitude(psi_hat), self.d[idx], self.scale, likelihood or self.opts.likelihood).sum()

    def scan_spectra(self):
        """Yield ``(idx, psi_hat)`` for the whole scan in ``chunk_size`` pieces (current object, probe, positions)."""
        for idx in torch.arange(self.d.shape[0], device=self.d.device).split(self.opts.chunk_size):
            index, base, frac = self.geometry(idx)
            frac = frac.detach()
            windows = self.windows(self.obj, index, base, frac)
            yield idx, ops.far_field(exit_waves(self.batch_probes(idx, frac), windows))  # shifted probes: the cache

    @torch.no_grad()
    def full_nll(self) -> float:
        """Mean per-element NLL over the whole scan (the project's convention, specs/refinement.md §2)."""
        total = 0.0
        for idx, psi_hat in self.scan_spectra():
            total += float(self.batch_nll(psi_hat, idx))
        return total / self.count + self.poisson_offset

    @torch.no_grad()
    def match_intensity(self) -> complex:
        """Scale the object so the predicted total intensity equals the measured one; returns the factor."""
        pred = 0.0
        for _, psi_hat in self.scan_spectra():
            pred += float((psi_hat.real ** 2 + psi_hat.imag ** 2).sum())
        if pred <= 0:
            raise ValueError("refine: obj: expected a start object that is not zero under the probe, found no predicted intensity")
        factor = math.sqrt(self.power / pred)
        self.obj = self.obj * factor
        return factor


def _chunks(count: int, size: int) -> list[slice]:
    """Consecutive slices of at most ``size`` covering ``range(count)``."""
    return [slice(i, min(i + size, count)) for i in range(0, count, size)]


def _batch_gradients(problem: _Problem, idx, index, base, frac, do_probe: bool, do_pos: bool):
    """Gradients of the batch's Gaussian-amplitude NLL, evaluated ``opts.chunk_size`` patterns at a time.

    Returns (g_O, g_P or None, g_f (B, 2) or None, Psi (B, N, N) detached, W_k (B, N, N) detached, reported
    batch NLL of the run's likelihood). The autograd graph (the (N + 2m)^2 windows, their FFTs, ramps) exists
    for one chunk at a time, so the working memory does not grow with the batch; the sums are the batch's.
    """
    opts = problem.opts
    obj = problem.obj.detach().requires_grad_(True)
    probe = problem.probe.detach().requires_grad_(do_probe)
    g_f = torch.zeros_like(frac) if do_pos else None
    g_obj = g_probe = None
    psi_parts, window_parts = [], []
    reported = 0.0
    for part in _chunks(int(idx.shape[0]), opts.chunk_size):
        f = frac[part].detach().requires_grad_(do_pos)
        psi_hat, _, windows = problem.spectra(obj, probe, index[part], base[part], f)
        # the direction is the gradient of the Gaussian-amplitude NLL for both likelihoods (bounded where the
        # prediction is ~0, unlike the Poisson gradient); the run's likelihood chooses the step (LSQML)
        amp = amplitude(psi_hat)
        loss = nll_terms(amp, problem.d[idx[part]], problem.scale, "gaussian").sum()
        with torch.no_grad():
            reported += float(loss) if opts.likelihood == "gaussian" else \
                float(nll_terms(amp.detach(), problem.d[idx[part]], problem.scale, opts.likelihood).sum())
        wanted = [obj] + ([probe] if do_probe else []) + ([f] if do_pos else [])
        grads = torch.autograd.grad(loss, wanted)
        g_obj = grads[0] if g_obj is None else g_obj + grads[0]
        if do_probe:
            g_probe = grads[1] if g_probe is None else g_probe + grads[1]
        if do_pos:
            g_f[part] = grads[-1]
        psi_parts.append(psi_hat.detach())
        window_parts.append(windows.detach())
    return g_obj, g_probe, g_f, torch.cat(psi_parts), torch.cat(window_parts), reported


def _analytic_gradients(problem: _Problem, idx, index, base, frac, probes, do_probe: bool, keep: int):
    """The gradients of :func:`_batch_gradients` (object and probe, no positions) in closed form, without autograd.

    With ``Psi = far_field(P_k W_k)`` and the Gaussian-amplitude NLL ``2 s^2 (|Psi| - d)^2``:
    ``g_Psi = 4 s^2 (|Psi| - d) Psi / |Psi|``, ``g_psi = far_field^H g_Psi``, ``g_W = conj(P_k) g_psi`` taken back
    through the window operator's adjoint onto the canvas, ``g_P = sum_k T_{f_k}^H [conj(W_k) g_psi]`` (probe mode;
    the plain sum in object mode). Equal to :func:`_batch_gradients` to round-off (tested).

    Returns (g_O, g_P or None, sum_k |W_k|^2 (N, N) or None, Psi and W_k of the first ``keep`` patterns of ``idx``
    (what the step length needs), reported batch NLL of the run's likelihood).
    """
    opts = problem.opts
    curv = CURVATURE * problem.scale ** 2
    g_obj = torch.zeros_like(problem.obj)
    g_probe = w2 = None
    psi_parts, window_parts = [], []
    reported = 0.0
    with torch.no_grad():
        for part in _chunks(int(idx.shape[0]), opts.chunk_size):
            windows = problem.windows(problem.obj, index[part], base[part], frac[part])
            psi_hat = ops.far_field(exit_waves(probes[part], windows))
            amp = amplitude(psi_hat)
            measured = problem.d[idx[part]]
            reported += float(nll_terms(amp, measured, problem.scale, opts.likelihood).sum())
            factor = curv * (1.0 - measured / amp.clamp_min(1e-30))  # the same for every mode of a pattern
            g_psi = ops.far_field_adjoint(psi_hat * (factor if psi_hat.dim() == 3 else factor[:, None]))
            g_win = sum_modes(probes[part].conj() * g_psi, windows)
            if opts.subpixel == "probe":
                g_obj.view(-1).index_add_(0, index[part].reshape(-1), g_win.reshape(-1))
            else:
                ops.shifted_windows_adjoint(g_win, base[part], frac[part], problem.origin, problem.n, problem.margin,
                                            g_obj)
            if do_probe:
                g_p = exit_waves(g_psi, windows.conj())
                g_p = ops.shift_probe_adjoint(g_p, frac[part]) if opts.subpixel == "probe" else g_p.sum(0)
                g_probe = g_p if g_probe is None else g_probe + g_p
                w = (windows.real ** 2 + windows.imag ** 2).sum(0)
                w2 = w if w2 is None else w2 + w
            if part.start < keep:
                upto = min(part.stop, keep) - part.start
                psi_parts.append(psi_hat[:upto])
                window_parts.append(windows[:upto])
    return g_obj, g_probe, w2, torch.cat(psi_parts), torch.cat(window_parts), reported


def _batch_update(problem: _Problem, idx: torch.Tensor, it: int, conjugate: ConjugateDirections | None = None) -> float:
    """One preconditioned update of object (and probe, positions) on the patterns ``idx``; returns the batch NLL before it.

    With ``conjugate`` (a full-batch pass) the directions are PR+ conjugate directions and the step length
    minimises the Gaussian-amplitude NLL up to ``CG_MAX_STEP`` (:mod:`.conjugate`); otherwise they are the
    preconditioned gradients and the step minimises the run's likelihood up to ``max_step``.
    """
    opts = problem.opts
    do_probe = opts.refine_probe and it >= opts.probe_start
    do_pos = opts.refine_positions and it >= opts.position_start
    index, base, frac = problem.geometry(idx)
    frac = frac.detach()
    probes = problem.batch_probes(idx, frac)
    # a conjugate (full-scan) step takes its step length from a random subset of the scan (the pass order is
    # random, so its first patterns): the 1-D search costs the same for any scan size
    keep = int(idx.shape[0]) if conjugate is None or do_pos else min(int(idx.shape[0]), LINE_SEARCH_PATTERNS)
    if do_pos:
        g_obj, g_probe, g_f, psi_hat, windows, reported = _batch_gradients(problem, idx, index, base, frac,
                                                                           do_probe, do_pos)
        w2 = (windows.real ** 2 + windows.imag ** 2).sum(0) if do_probe else None
    else:
        g_f = None
        g_obj, g_probe, w2, psi_hat, windows, reported = _analytic_gradients(problem, idx, index, base, frac,
                                                                             probes, do_probe, keep)
    curv = CURVATURE * problem.scale ** 2
    parts = _chunks(keep, opts.chunk_size)
    sub = idx[:keep]
    with torch.no_grad():
        illum = problem.illumination(idx, probes, index, full=conjugate is not None)
        grads, precond = [g_obj], [g_obj / (curv * (illum + opts.delta * illum.max()))]
        if do_probe:
            grads.append(g_probe)
            precond.append(g_probe / (curv * (w2 + opts.delta * w2.max())))
        directions = [-z for z in precond] if conjugate is None else conjugate.direction(grads, precond)
        d_obj = directions[0]
        d_probe = directions[1] if do_probe else None
        d_windows = torch.cat([problem.windows(d_obj, index[p], base[p], frac[p]) for p in parts])
        d1_field = exit_waves(probes[:keep], d_windows)
        d2 = None  # the alpha^2 term exists only when object and probe both move
        if do_probe:
            d_probes = problem.probes(d_probe, frac[:keep])
            d1_field = d1_field + exit_waves(d_probes, windows)
            d2 = ops.far_field(exit_waves(d_probes, d_windows))
        d1 = ops.far_field(d1_field)
        del d1_field, d_windows
    if conjugate is None:
        alpha, _, _ = line_search(psi_hat, d1, d2, problem.d[sub], problem.scale, opts.likelihood, opts.newton_steps, opts.max_step, reported)
    else:
        f0 = float(nll_terms(amplitude(psi_hat), problem.d[sub], problem.scale, "gaussian").sum())
        alpha, _, _ = line_search(psi_hat, d1, d2, problem.d[sub], problem.scale, "gaussian", opts.newton_steps, CG_MAX_STEP, f0)
        if alpha == 0.0:
            conjugate.reset()  # no descent along the conjugate direction: restart from the gradient
    with torch.no_grad():
        probe_before, obj_before = problem.probe, problem.obj
        problem.obj = problem.obj + alpha * d_obj
        if d_probe is not None and alpha > 0:
            problem.probe = problem.probe + alpha * d_probe
            problem.forget_probes()
        if do_pos:
            hx, hy = _position_curvature(problem, psi_hat, probes, windows, probe_before, obj_before, base, frac,
                                         parts, curv)
            step = -torch.stack((g_f[:, 0] / hx.clamp_min(1e-30), g_f[:, 1] / hy.clamp_min(1e-30)), dim=1)
            step = step.clamp(-opts.max_position_step, opts.max_position_step)
            if step.shape[0] > 1:
                step = step - step.mean(dim=0, keepdim=True)
            problem.pos[idx] = problem.pos[idx] + step.to(problem.pos.dtype)
            problem.forget_probes()
    return reported


def _position_curvature(problem: _Problem, psi_hat, probes, windows, probe, obj, base, frac, parts,
                        curv: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Newton curvatures ``4 s^2 sum (dA/df)^2`` per pattern and axis (B,), ``dA/df = Re(conj(Psi) dPsi/df) / A``,
    chunk by chunk (the (N + 2m)^2 derivative windows of one chunk at a time)."""
    hx, hy = [], []
    for p in parts:
        if problem.opts.subpixel == "probe":
            dpx, dpy = ops.probe_shift_derivatives(probe, frac[p])
            dpx, dpy = exit_waves(dpx, windows[p]), exit_waves(dpy, windows[p])
        else:
            wx, wy = ops.window_shift_derivatives(obj, base[p], frac[p], problem.origin, problem.n, problem.margin)
            dpx, dpy = exit_waves(probes[p], wx), exit_waves(probes[p], wy)
        a_safe = amplitude(psi_hat[p]).clamp_min(1e-30)
        for h, dp in ((hx, dpx), (hy, dpy)):  # dA/df = Re(sum_m conj(Psi_m) dPsi_m/df) / A
            h.append(curv * (sum_modes((psi_hat[p].conj() * ops.far_field(dp)).real, a_safe) / a_safe).pow(2).sum(dim=(1, 2)))
    return torch.cat(hx), torch.cat(hy)


def refine(diffraction: np.ndarray, positions: np.ndarray, probe: np.ndarray, obj: np.ndarray | None = None,
           origin_xy: tuple[int, int] | None = None, *, scale: float = 1.0, options: RefineOptions | None = None,
           on_iteration: Callable[[dict[str, float]], None] | None = None,
           on_result: Callable[[RefineResult], None] | None = None) -> RefineResult:
    """Refine an object (and optionally the probe and positions) by maximum likelihood.

    Args:
        diffraction: (K, N, N) measured amplitudes (counts = (scale * d)^2).
        positions: (K, 2) rows [x, y], object pixels.
        probe: (N, N) complex.
        obj: (H, W) complex start canvas, or None for the flat start (:func:`flat_canvas` over
            :func:`object_canvas_geometry`). origin_xy: object coordinates (integers) of obj's pixel (0, 0).
        scale: intensity scale s of the data (only the reported NLL depends on it).
        options: :class:`RefineOptions`. on_iteration: called with each history row.
        on_result: called after each iteration with the current :class:`RefineResult` (object, probe,
            positions, history so far; NLLs nan) for previews or checkpoints; its time is not counted in
            ``time_s``.
    Returns:
        :class:`RefineResult`. The start object is first multiplied by the real factor that makes the
        predicted total intensity equal the measured one (``start_scale``).
    Raises:
        ValueError (one line) on bad shapes, non-finite input, a canvas that does not hold every window,
        or bad options.
    """
    opts = options or RefineOptions()
    opts.validate()
    # the step directions' squares underflow into denormal float32 values, which x86 cores process many times
    # slower (measured: a full-scan pass 2.7 s instead of 1.1 s); flushed to zero on the CPU, the mode restored
    with denormals_flushed(opts.device):
        return _refine(diffraction, positions, probe, obj, origin_xy, scale, opts, on_iteration, on_result)


def _refine(diffraction, positions, probe, obj, origin_xy, scale, opts: RefineOptions, on_iteration,
            on_result) -> RefineResult:
    """The body of :func:`refine` (options validated)."""
    _, n = _check_inputs(diffraction, positions, probe, obj)
    if not math.isfinite(float(scale)) or float(scale) <= 0:
        raise ValueError(f"refine: scale: expected a finite number > 0, found {scale!r}")
    if obj is None:
        margin = 4 + (opts.subpixel_margin if opts.subpixel == "object" else 0)
        origin_xy, shape = object_canvas_geometry(np.asarray(positions), n, margin)
        obj = flat_canvas(shape)
    elif origin_xy is None:
        raise ValueError("refine: origin_xy: expected the object coordinates of the start canvas's pixel (0, 0), found None")
    torch.manual_seed(opts.seed)
    problem = _Problem(diffraction, positions, probe, obj, origin_xy, scale, opts)
    start_scale = problem.match_intensity()
    initial = problem.full_nll()
    gen = torch.Generator(device="cpu").manual_seed(opts.seed)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    paused = 0.0
    k = problem.d.shape[0]
    conjugate: ConjugateDirections | None = None
    quiet = 0  # passes in a row that changed the object by less than the tolerance
    cap = k if not opts.refine_positions else min(k, POSITION_BATCH_CAP)
    for it in range(opts.iterations):
        order = torch.randperm(k, generator=gen).to(problem.d.device)
        total = 0.0
        before = problem.obj
        batch = opts.batch_for(it, cap)
        full = batch >= k and opts.conjugate
        if full and conjugate is None:
            conjugate = ConjugateDirections()
        for idx in order.split(batch):
            total += _batch_update(problem, idx, it, conjugate if full else None)
        if problem.probe.dim() == 3 and opts.refine_probe and it >= opts.probe_start:
            _orthogonalise(problem, conjugate)
        change = float(torch.linalg.vector_norm(problem.obj - before) / torch.linalg.vector_norm(problem.obj).clamp_min(1e-30))
        if problem.d.is_cuda:
            torch.cuda.synchronize(problem.d.device)
        row = {"iteration": it + 1, "nll": total / problem.count + problem.poisson_offset,
               "time_s": time.perf_counter() - t0 - paused, "change": change}
        history.append(row)
        if on_iteration is not None:
            on_iteration(row)
        if on_result is not None:
            t_cb = time.perf_counter()
            on_result(_result(problem, list(history), float("nan"), float("nan"), start_scale))
            paused += time.perf_counter() - t_cb
        quiet = quiet + 1 if change < opts.tolerance else 0
        if quiet >= opts.patience:
            break
    return _result(problem, history, initial, problem.full_nll(), start_scale)


def _orthogonalise(problem: _Problem, conjugate: ConjugateDirections | None) -> None:
    """Replace the probe modes by their orthogonal, power-sorted mix (:func:`.modes.orthogonalise_modes`; the
    predicted intensities do not change) and carry the conjugate memory into the new modes."""
    problem.probe, t = orthogonalise_modes(problem.probe)
    problem.forget_probes()
    if conjugate is not None:
        conjugate.transform(1, lambda x: torch.einsum("jk,kxy->jxy", t, x))


def _result(problem: _Problem, history, initial: float, final: float, start_scale: float) -> RefineResult:
    return RefineResult(
        object=problem.obj.detach().to(torch.complex64).cpu().numpy(),
        origin_xy=problem.origin,
        probe=problem.probe.detach().to(torch.complex64).cpu().numpy(),
        positions=problem.pos.detach().cpu().double().numpy(),
        history=history, initial_nll=initial, final_nll=final, start_scale=start_scale,
    )


def nll_and_gradients(diffraction: np.ndarray, positions: np.ndarray, probe: np.ndarray, obj: np.ndarray,
                      origin_xy: tuple[int, int], *, scale: float = 1.0, likelihood: str = "poisson",
                      dtype: str = "float64", subpixel: str = "object",
                      subpixel_margin: int = 16) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Summed NLL of all patterns and its gradients (what each batch update differentiates).

    Returns (nll, g_obj (H, W) complex, g_probe (N, N) complex, g_positions (K, 2) real) with the torch
    convention for a real function of complex z = a + i b: ``g = dL/da + i dL/db``. Used by the tests
    against finite differences (specs/refinement.md §2).
    """
    opts = RefineOptions(likelihood=likelihood, dtype=dtype, batch_size=max(1, len(diffraction)), subpixel=subpixel,
                         subpixel_margin=subpixel_margin)
    opts.validate()
    _check_inputs(diffraction, positions, probe, obj)
    problem = _Problem(diffraction, positions, probe, obj, origin_xy, scale, opts)
    idx = torch.arange(problem.d.shape[0], device=problem.d.device)
    pos = problem.pos.detach().requires_grad_(True)
    index, base, frac = problem.geometry(idx, pos)
    o = problem.obj.detach().requires_grad_(True)
    p = problem.probe.detach().requires_grad_(True)
    psi_hat, _, _ = problem.spectra(o, p, index, base, frac)
    loss = problem.batch_nll(psi_hat, idx)
    g_o, g_p, g_r = torch.autograd.grad(loss, (o, p, pos))
    return float(loss.detach()), g_o.cpu().numpy(), g_p.cpu().numpy(), g_r.cpu().numpy()
