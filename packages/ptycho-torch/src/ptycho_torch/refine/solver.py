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

from . import operators as ops
from .likelihood import CURVATURE, nll_derivatives, nll_terms
from .options import RefineOptions, RefineResult, flat_canvas, object_canvas_geometry

__all__ = ["refine", "nll_and_gradients"]


def _check_inputs(diffraction, positions, probe, obj) -> tuple[int, int]:
    d = np.asarray(diffraction)
    if d.ndim != 3 or d.shape[1] != d.shape[2] or d.shape[0] == 0:
        raise ValueError(f"refine: diffraction: expected shape (K, N, N), found shape {d.shape}")
    k, n = d.shape[0], d.shape[1]
    if np.asarray(positions).shape != (k, 2):
        raise ValueError(f"refine: positions: expected shape ({k}, 2) rows [x, y], found shape {np.asarray(positions).shape}")
    if np.asarray(probe).shape != (n, n):
        raise ValueError(f"refine: probe: expected shape ({n}, {n}), found shape {np.asarray(probe).shape}")
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
        self.probe = torch.as_tensor(np.asarray(probe), device=dev).to(cdt)
        self.obj = torch.as_tensor(np.asarray(obj), device=dev).to(cdt)
        self.origin = (int(origin[0]), int(origin[1]))
        self.shape = (int(self.obj.shape[0]), int(self.obj.shape[1]))
        self.n = int(self.probe.shape[-1])
        self.count = self.d.numel()
        s2 = self.scale ** 2
        # what nll_terms('poisson') leaves out of the project's per-element Poisson NLL of the counts
        self.power = _sum_squares(self.d)  # sum d^2 (float64, chunked: no full-size float64 copy)
        self.poisson_offset = -self.power / self.count * s2 * math.log(s2) if opts.likelihood == "poisson" else 0.0

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
        return probe.expand(frac.shape[0], -1, -1)

    def windows(self, obj: torch.Tensor, index: torch.Tensor, base: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
        """W_k: integer windows ('probe' mode) or band-limited sub-pixel windows ('object' mode)."""
        if self.opts.subpixel == "probe":
            return ops.gather_windows(obj, index)
        return ops.shifted_windows(obj, base, frac, self.origin, self.n, self.margin)

    def spectra(self, obj, probe, index, base, frac) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(Psi (B, N, N), probes P_k, windows W_k)."""
        probes = self.probes(probe, frac)
        windows = self.windows(obj, index, base, frac)
        return ops.far_field(probes * windows), probes, windows

    def batch_nll(self, psi_hat: torch.Tensor, idx: torch.Tensor, likelihood: str | None = None) -> torch.Tensor:
        """Summed NLL of the batch ``idx`` (``likelihood`` default: the run's)."""
        return nll_terms(torch.abs(psi_hat), self.d[idx], self.scale, likelihood or self.opts.likelihood).sum()

    def scan_spectra(self):
        """Yield ``(idx, psi_hat)`` for the whole scan in ``chunk_size`` pieces (current object, probe, positions)."""
        for idx in torch.arange(self.d.shape[0], device=self.d.device).split(self.opts.chunk_size):
            index, base, frac = self.geometry(idx)
            psi_hat, _, _ = self.spectra(self.obj, self.probe, index, base, frac)
            yield idx, psi_hat

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


def _line_search(problem: _Problem, psi_hat, d1, d2, idx, steps: int, a_max: float,
                 f0: float) -> tuple[float, float, float]:
    """Minimise the batch NLL of ``Z(a) = psi_hat + a d1 + a^2 d2`` over 0 <= a <= a_max.

    Safeguarded Newton steps from ``a = min(1, a_max)`` with the exact first and second derivatives
    (``A' = Re(conj(Z) Z') / A``, ``A'' = (|Z'|^2 + Re(conj(Z) Z'')) / A - A'^2 / A``); the best value seen
    is kept. ``f0`` is the batch NLL at a = 0 (already known). The sums run over chunks of
    ``opts.chunk_size`` patterns (working memory of one chunk). Returns (a, nll(0), nll(a)).
    """
    lik, scale = problem.opts.likelihood, problem.scale
    parts = _chunks(int(idx.shape[0]), problem.opts.chunk_size)

    def path(a: float, p: slice) -> torch.Tensor:
        return psi_hat[p] + a * d1[p] if d2 is None else psi_hat[p] + a * d1[p] + (a * a) * d2[p]

    def value(a: float) -> float:
        return sum(float(nll_terms(torch.abs(path(a, p)), problem.d[idx[p]], scale, lik).sum()) for p in parts)

    def derivatives(a: float, p: slice) -> tuple[float, float, float]:
        z = path(a, p)
        z1 = d1[p] if d2 is None else d1[p] + (2.0 * a) * d2[p]
        amp = torch.abs(z).clamp_min(1e-30)
        a1 = (z.conj() * z1).real / amp
        curv_z = z1.real ** 2 + z1.imag ** 2 if d2 is None else z1.real ** 2 + z1.imag ** 2 + 2.0 * (z.conj() * d2[p]).real
        a2 = curv_z / amp - a1 ** 2 / amp
        phi, dphi, ddphi = nll_derivatives(amp, problem.d[idx[p]], scale, lik)
        return float(phi.sum()), float((dphi * a1).sum()), float((ddphi * a1 ** 2 + dphi * a2).sum())

    best_a, best_f = 0.0, f0
    a_val = min(1.0, a_max)
    for _ in range(steps):
        fv = gv = hv = 0.0
        for p in parts:
            f_p, g_p, h_p = derivatives(a_val, p)
            fv, gv, hv = fv + f_p, gv + g_p, hv + h_p
        if math.isfinite(fv) and fv < best_f:
            best_a, best_f = a_val, fv
        if not (math.isfinite(gv) and math.isfinite(hv)):
            break
        nxt = a_val - gv / hv if hv > 0 else (2.0 * a_val if gv < 0 else 0.5 * a_val)
        a_val = float(min(max(nxt, 0.0), a_max))
    fl = value(a_val)
    if math.isfinite(fl) and fl < best_f:
        best_a, best_f = a_val, fl
    return best_a, f0, best_f


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
        amp = torch.abs(psi_hat)
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


def _batch_update(problem: _Problem, idx: torch.Tensor, it: int) -> float:
    """One preconditioned update of object (and probe, positions) on the patterns ``idx``; returns the batch NLL before it."""
    opts = problem.opts
    do_probe = opts.refine_probe and it >= opts.probe_start
    do_pos = opts.refine_positions and it >= opts.position_start
    index, base, frac = problem.geometry(idx)
    frac = frac.detach()
    g_obj, g_probe, g_f, psi_hat, windows, reported = _batch_gradients(problem, idx, index, base, frac,
                                                                       do_probe, do_pos)
    curv = CURVATURE * problem.scale ** 2
    parts = _chunks(int(idx.shape[0]), opts.chunk_size)
    with torch.no_grad():
        probes = problem.probes(problem.probe, frac)
        illum = ops.illumination(probes, index, problem.shape)
        d_obj = -g_obj / (curv * (illum + opts.delta * illum.max()))
        d_windows = torch.cat([problem.windows(d_obj, index[p], base[p], frac[p]) for p in parts])
        d1_field = probes * d_windows
        d_probe = None
        d2 = None  # the alpha^2 term exists only when object and probe both move
        if do_probe:
            w2 = (windows.real ** 2 + windows.imag ** 2).sum(0)
            d_probe = -g_probe / (curv * (w2 + opts.delta * w2.max()))
            d_probes = problem.probes(d_probe, frac)
            d1_field = d1_field + d_probes * windows
            d2 = ops.far_field(d_probes * d_windows)
        d1 = ops.far_field(d1_field)
        del d1_field, d_windows
    alpha, _, _ = _line_search(problem, psi_hat, d1, d2, idx, opts.newton_steps, opts.max_step, reported)
    with torch.no_grad():
        probe_before, obj_before = problem.probe, problem.obj
        problem.obj = problem.obj + alpha * d_obj
        if d_probe is not None:
            problem.probe = problem.probe + alpha * d_probe
        if do_pos:
            hx, hy = _position_curvature(problem, psi_hat, probes, windows, probe_before, obj_before, base, frac,
                                         parts, curv)
            step = -torch.stack((g_f[:, 0] / hx.clamp_min(1e-30), g_f[:, 1] / hy.clamp_min(1e-30)), dim=1)
            step = step.clamp(-opts.max_position_step, opts.max_position_step)
            if step.shape[0] > 1:
                step = step - step.mean(dim=0, keepdim=True)
            problem.pos[idx] = problem.pos[idx] + step.to(problem.pos.dtype)
    return reported


def _position_curvature(problem: _Problem, psi_hat, probes, windows, probe, obj, base, frac, parts,
                        curv: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Newton curvatures ``4 s^2 sum (dA/df)^2`` per pattern and axis (B,), ``dA/df = Re(conj(Psi) dPsi/df) / A``,
    chunk by chunk (the (N + 2m)^2 derivative windows of one chunk at a time)."""
    hx, hy = [], []
    for p in parts:
        if problem.opts.subpixel == "probe":
            dpx, dpy = ops.probe_shift_derivatives(probe, frac[p])
            dpx, dpy = dpx * windows[p], dpy * windows[p]
        else:
            wx, wy = ops.window_shift_derivatives(obj, base[p], frac[p], problem.origin, problem.n, problem.margin)
            dpx, dpy = probes[p] * wx, probes[p] * wy
        a_safe = torch.abs(psi_hat[p]).clamp_min(1e-30)
        hx.append(curv * ((psi_hat[p].conj() * ops.far_field(dpx)).real / a_safe).pow(2).sum(dim=(1, 2)))
        hy.append(curv * ((psi_hat[p].conj() * ops.far_field(dpy)).real / a_safe).pow(2).sum(dim=(1, 2)))
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
    for it in range(opts.iterations):
        order = torch.randperm(k, generator=gen).to(problem.d.device)
        total = 0.0
        for idx in order.split(opts.batch_size):
            total += _batch_update(problem, idx, it)
        if problem.d.is_cuda:
            torch.cuda.synchronize(problem.d.device)
        row = {"iteration": it + 1, "nll": total / problem.count + problem.poisson_offset,
               "time_s": time.perf_counter() - t0 - paused}
        history.append(row)
        if on_iteration is not None:
            on_iteration(row)
        if on_result is not None:
            t_cb = time.perf_counter()
            on_result(_result(problem, list(history), float("nan"), float("nan"), start_scale))
            paused += time.perf_counter() - t_cb
    return _result(problem, history, initial, problem.full_nll(), start_scale)


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
