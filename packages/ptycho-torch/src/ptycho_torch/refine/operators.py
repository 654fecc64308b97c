"""Physics operators of maximum-likelihood refinement on a whole-object canvas (specs/refinement.md §1).

Plain, batched, differentiable torch functions (no loops over patterns, no I/O):

* a scan position ``r = (x, y)`` is split into an integer part ``p = round(r)`` and a fractional part
  ``f = r - p`` in [-0.5, 0.5];
* the object window ``W_k = O[p_y - N//2 : p_y - N//2 + N, p_x - N//2 : ...]`` is cut at integer pixels
  (:func:`gather_windows`, exact copy; its adjoint :func:`scatter_windows` adds patches back);
* the sub-pixel part moves the probe instead of the object: ``P_k = T_f[P]``, the probe's content moved by
  ``+f`` with a Fourier phase ramp (:func:`shift_probe`; band-limited, differentiable in ``f``);
* exit wave ``psi_k = P_k * W_k`` and far field ``Psi_k = fftshift(fft2(psi_k, norm='ortho'))``
  (:func:`far_field`, whose modulus is ``ptycho_torch.physics.far_field_amplitude``).

A probe of K incoherent modes is a (K, N, N) tensor: the shifted probes are then (B, K, N, N), every mode
moved by the same ``f`` (one ramp per pattern, broadcast over the modes), and :func:`illumination` sums the
modes' intensities (specs/refinement.md §10).

Why this is the scan's physics: the exit wave of the true patch, ``P(u) O(u + r - N//2)``, moved by ``+f``
is ``T_f[P](u) W(u)``; a translation changes only the phase of the far field, so ``|Psi_k|`` is the same
(exactly for band-limited fields; the probe's periodic wrap is the only approximation). This is the
model ``ptycho.simulation.simulate(..., interpolation='fourier')`` measures.
"""

from __future__ import annotations

import torch

__all__ = ["split_positions", "window_index", "gather_windows", "scatter_windows", "shift_probe", "shifted_windows",
           "window_shift_derivatives",
           "probe_shift_derivatives", "far_field", "illumination", "far_field_adjoint", "shift_probe_adjoint",
           "shifted_windows_adjoint"]


def split_positions(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K, 2) rows [x, y] -> (integer part (K, 2) int64 = round(r), fractional part (K, 2) real in [-0.5, 0.5])."""
    base = torch.round(positions.detach())
    return base.to(torch.int64), positions - base.to(positions.dtype)


def window_index(base: torch.Tensor, origin: tuple[int, int], n: int, shape: tuple[int, int]) -> torch.Tensor:
    """Flat canvas indices (K, N, N) of the integer windows.

    Args:
        base: (K, 2) int64 integer positions [x, y] in object pixels.
        origin: object coordinates (x0, y0) of canvas pixel (0, 0) (integers).
        n: patch side N. shape: canvas (H, W).
    Raises:
        ValueError when a window leaves the canvas (the canvas is too small for the scan).
    """
    h, w = shape
    top = base[:, 1] - int(origin[1]) - n // 2
    left = base[:, 0] - int(origin[0]) - n // 2
    if bool((top < 0).any() or (left < 0).any() or (top + n > h).any() or (left + n > w).any()):
        raise ValueError(f"refine: positions: expected every {n}x{n} window inside the {h}x{w} object canvas, "
                         f"found one outside (rows {int(top.min())}..{int(top.max()) + n}, "
                         f"columns {int(left.min())}..{int(left.max()) + n})")
    ar = torch.arange(n, device=base.device)
    rows = top[:, None, None] + ar[None, :, None]
    cols = left[:, None, None] + ar[None, None, :]
    return rows * w + cols


def gather_windows(canvas: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Integer windows of the (H, W) canvas at the flat ``index`` (K, N, N) -> (K, N, N)."""
    return canvas.reshape(-1)[index.reshape(-1)].reshape(index.shape)


def scatter_windows(values: torch.Tensor, index: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Adjoint of :func:`gather_windows`: sum the (K, N, N) ``values`` onto a zero (H, W) canvas."""
    out = torch.zeros(shape[0] * shape[1], dtype=values.dtype, device=values.device)
    out.index_add_(0, index.reshape(-1), values.reshape(-1))
    return out.reshape(shape)


def _frequencies(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.fft.fftfreq(n, dtype=dtype, device=device)


def _shift_ramp(probe: torch.Tensor, frac: torch.Tensor, modes: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(frequencies k (N,) cycles/px, Fourier ramp exp(-2 pi i (dx kx + dy ky)) (B, N, N)) for shifts frac (B, 2);
    with ``modes`` the ramp is (B, 1, N, N), broadcast over a mode axis."""
    rdt = probe.real.dtype
    k = _frequencies(probe.shape[-1], rdt, probe.device)
    fx = frac[:, 0].to(rdt)[:, None, None]
    fy = frac[:, 1].to(rdt)[:, None, None]
    phase = -2.0 * torch.pi * (fx * k[None, None, :] + fy * k[None, :, None])
    ramp = torch.polar(torch.ones_like(phase), phase)
    return k, (ramp[:, None] if modes else ramp)


def shift_probe(probe: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
    """Probe content moved by ``+frac`` (B, 2) [dx, dy] pixels: ``ifft2(fft2(P) * exp(-2 pi i (dx kx + dy ky)))``.

    probe (N, N) complex, returns (B, N, N); or (K, N, N) modes, returns (B, K, N, N). Zero shifts return the
    probe exactly (no FFT round-off).
    """
    modes = probe.dim() == 3
    k, ramp = _shift_ramp(probe, frac, modes)
    shifted = torch.fft.ifft2(torch.fft.fft2(probe)[None] * ramp)
    if not frac.requires_grad:
        still = (frac == 0).all(dim=1)
        if bool(still.any()):
            mask = still[:, None, None, None] if modes else still[:, None, None]
            shifted = torch.where(mask, probe[None].expand_as(shifted), shifted)
    return shifted


def probe_shift_derivatives(probe: torch.Tensor, frac: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """d T_f[P] / d dx and d / d dy, each (B, N, N) ((B, K, N, N) for (K, N, N) modes): the ramp's frequency factor
    ``-2 pi i k`` applied in Fourier space."""
    k, ramp = _shift_ramp(probe, frac, probe.dim() == 3)
    spec = torch.fft.fft2(probe)[None] * ramp
    kx = (-2j * torch.pi * k[None, None, :]).to(spec.dtype)
    ky = (-2j * torch.pi * k[None, :, None]).to(spec.dtype)
    return torch.fft.ifft2(spec * kx), torch.fft.ifft2(spec * ky)


def far_field(psi: torch.Tensor) -> torch.Tensor:
    """Complex far field ``fftshift(fft2(psi, norm='ortho'))`` over the last two axes (DC at (N//2, N//2))."""
    return torch.fft.fftshift(torch.fft.fft2(psi, norm="ortho"), dim=(-2, -1))


def far_field_adjoint(g: torch.Tensor) -> torch.Tensor:
    """Adjoint of :func:`far_field` (it is unitary, so also its inverse): ``ifft2(ifftshift(g), norm='ortho')``."""
    return torch.fft.ifft2(torch.fft.ifftshift(g, dim=(-2, -1)), norm="ortho")


def shift_probe_adjoint(values: torch.Tensor, frac: torch.Tensor) -> torch.Tensor:
    """Adjoint of :func:`shift_probe` summed over the batch: ``sum_k T_{f_k}^H [values_k]``, (N, N).

    ``T_f = ifft2 diag(ramp_f) fft2`` is unitary, so ``T_f^H = ifft2 diag(conj ramp_f) fft2``; the sum is taken in
    Fourier space (one inverse FFT for the batch). values (B, N, N) complex, frac (B, 2); values (B, K, N, N) of
    K modes give (K, N, N).
    """
    _, ramp = _shift_ramp(values, frac, values.dim() == 4)
    return torch.fft.ifft2((torch.fft.fft2(values) * ramp.conj()).sum(dim=0))


def shifted_windows_adjoint(values: torch.Tensor, base: torch.Tensor, frac: torch.Tensor, origin: tuple[int, int],
                            n: int, margin: int, canvas: torch.Tensor) -> None:
    """Add the adjoint of :func:`shifted_windows` applied to ``values`` (K, N, N) onto ``canvas`` (H, W) in place.

    Each value is zero-padded to the (N + 2 margin) window, moved back with the conjugate ramp and added at the
    window's integer place.
    """
    side = n + 2 * margin
    index = window_index(base, origin, side, (canvas.shape[0], canvas.shape[1]))
    padded = torch.nn.functional.pad(values, (margin, margin, margin, margin))
    if bool((frac == 0).all()):
        moved = padded
    else:
        ramp, _, _ = _object_ramp(frac, side, canvas.real.dtype, canvas.device)
        moved = torch.fft.ifft2(torch.fft.fft2(padded) * ramp.conj())
    canvas.view(-1).index_add_(0, index.reshape(-1), moved.reshape(-1))


def illumination(probes: torch.Tensor, index: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Summed probe intensity ``sum_k |P_k|^2`` placed at each window, (H, W) real (the object preconditioner).

    probes (B, N, N), or (B, K, N, N) modes whose intensities are summed first."""
    power = probes.real ** 2 + probes.imag ** 2
    return scatter_windows(power if probes.dim() == 3 else power.sum(1), index, shape)


def _object_ramp(frac: torch.Tensor, side: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ramp (K, side, side) complex = exp(+2 pi i (fx kx + fy ky)), kx (1, 1, side), ky (1, side, 1))."""
    k = _frequencies(side, dtype, device)
    fx = frac[:, 0].to(dtype)[:, None, None]
    fy = frac[:, 1].to(dtype)[:, None, None]
    phase = 2.0 * torch.pi * (fx * k[None, None, :] + fy * k[None, :, None])
    return torch.polar(torch.ones_like(phase), phase), k[None, None, :], k[None, :, None]


def shifted_windows(canvas: torch.Tensor, base: torch.Tensor, frac: torch.Tensor, origin: tuple[int, int], n: int,
                    margin: int) -> torch.Tensor:
    """Band-limited sub-pixel windows ``W_k[i, j] = O(p_y + f_y - N//2 + i, p_x + f_x - N//2 + j)``, (K, N, N).

    The (N + 2 margin)-pixel window at the integer part is moved by ``-f`` with a Fourier phase ramp and its
    centre kept: ``ptycho.physics.extract_patches(..., interpolation='fourier')`` (margin 16) on the canvas.
    Differentiable in the canvas and in ``frac``; zero ``frac`` copies pixels exactly.
    """
    side = n + 2 * margin
    index = window_index(base, origin, side, (canvas.shape[0], canvas.shape[1]))
    crops = gather_windows(canvas, index)
    if not frac.requires_grad and bool((frac == 0).all()):
        return crops[:, margin:margin + n, margin:margin + n]
    ramp, _, _ = _object_ramp(frac, side, canvas.real.dtype, canvas.device)
    moved = torch.fft.ifft2(torch.fft.fft2(crops) * ramp)
    return moved[:, margin:margin + n, margin:margin + n]


def window_shift_derivatives(canvas: torch.Tensor, base: torch.Tensor, frac: torch.Tensor, origin: tuple[int, int],
                             n: int, margin: int) -> tuple[torch.Tensor, torch.Tensor]:
    """d W_k / d f_x and d W_k / d f_y of :func:`shifted_windows`, each (K, N, N) (factor ``2 pi i k`` in Fourier space)."""
    side = n + 2 * margin
    index = window_index(base, origin, side, (canvas.shape[0], canvas.shape[1]))
    ramp, kx, ky = _object_ramp(frac, side, canvas.real.dtype, canvas.device)
    spec = torch.fft.fft2(gather_windows(canvas, index)) * ramp
    dx = torch.fft.ifft2(spec * (2j * torch.pi * kx).to(spec.dtype))
    dy = torch.fft.ifft2(spec * (2j * torch.pi * ky).to(spec.dtype))
    return dx[:, margin:margin + n, margin:margin + n], dy[:, margin:margin + n, margin:margin + n]
