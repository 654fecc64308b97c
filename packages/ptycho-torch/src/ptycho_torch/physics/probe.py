"""Probe mask, default probe, normalisation and illumination in torch (specs/physics.md §7).

Mirror of ``ptycho.physics.probe``. ``probe_mask`` and ``default_probe`` are constants of N: they are
taken from the numpy reference (so both backends share bit-identical probes) and returned as tensors.
``normalize_probe`` and the illumination functions are torch operations (differentiable, so a trainable
probe gets gradients).
"""

from __future__ import annotations

import torch

from ptycho.physics import checks
from ptycho.physics import probe as _np_probe

from ._validation import as_tensor, check_ndim, check_positive_int, real_dtype

__all__ = ["probe_mask", "default_probe", "normalize_probe", "illuminate", "illuminate_channels"]


def probe_mask(N: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """Disk mask (N, N): 1 where the distance from (N/2 - 0.5, N/2 - 0.5) is < N//4, else 0."""
    n = check_positive_int(N, "N", "probe_mask")
    return torch.as_tensor(_np_probe.probe_mask(n), device=device).to(dtype)


def default_probe(N: int, default_probe_scale: float = 0.7, dtype: torch.dtype = torch.complex64,
                  device=None) -> torch.Tensor:
    """Default real-valued disk probe (N, N) complex64 (recipe: ``ptycho.physics.default_probe``)."""
    return torch.as_tensor(_np_probe.default_probe(N, default_probe_scale), device=device).to(dtype)


def _probe_mean_modulus(p: torch.Tensor, n: int) -> torch.Tensor:
    mask = probe_mask(n, real_dtype(p), p.device)
    if p.dim() == 3:  # K incoherent modes: the modulus of their summed intensity
        return torch.mean(torch.linalg.vector_norm(p, dim=0) * mask)
    return torch.mean(torch.abs(p * mask))


def normalize_probe(probe: torch.Tensor, probe_scale: float = 4.0) -> torch.Tensor:
    """``probe / (probe_scale * mean(|probe_mask(N) * probe|))`` (mean over all N*N pixels).

    Args:
        probe: (N, N) float or complex, or (K, N, N) incoherent modes (one common factor from the modulus of
            their summed intensity ``sqrt(sum_k |P_k|^2)``, as the numpy reference). probe_scale: finite > 0.
    Returns:
        the input shape and dtype, masked mean modulus ``1 / probe_scale``.
    Raises:
        ValueError: non-square probe, bad probe_scale, or a probe that is zero inside the disk.
    """
    func = "normalize_probe"
    p = as_tensor(probe, "probe", func)
    check_ndim(p, (2, 3), "probe", func, "(N, N) or (K, N, N)")
    if p.shape[-1] != p.shape[-2] or p.shape[-1] == 0:
        raise ValueError(f"{func}: probe: expected a square (N, N) probe or (K, N, N) modes, found shape "
                         f"{tuple(p.shape)}")
    try:
        scale = float(probe_scale)
    except (TypeError, ValueError):
        raise ValueError(f"{func}: probe_scale: expected a positive number, found {probe_scale!r}") from None
    if not scale > 0 or scale == float("inf"):
        raise ValueError(f"{func}: probe_scale: expected a finite positive number, found {probe_scale!r}")
    mean = _probe_mean_modulus(p, p.shape[-1])
    if float(mean.detach()) <= 0.0:
        raise ValueError(f"{func}: probe: expected non-zero values inside the disk r < N//4, found all zero")
    return p / (scale * mean)


def _probe_2d(probe, like: torch.Tensor, n: int, func: str) -> torch.Tensor:
    pr = as_tensor(probe, "probe", func, like=like)
    if pr.dim() == 3 and pr.shape[-1] == 1:
        pr = pr[..., 0]
    if tuple(pr.shape) != (n, n):
        raise ValueError(f"{func}: probe: expected shape ({n}, {n}) matching the patches, found shape {tuple(pr.shape)}")
    return pr.to(like.device)


def _masked(probe: torch.Tensor, n: int, mask: bool) -> torch.Tensor:
    if not mask:
        return probe
    return probe * probe_mask(n, real_dtype(probe), probe.device)


def illuminate(patches: torch.Tensor, probe: torch.Tensor, mask: bool = False) -> torch.Tensor:
    """Exit waves ``patches * probe`` for patches (..., N, N); probe (N, N) or (N, N, 1).

    ``mask=True`` also multiplies by :func:`probe_mask` (N). Result dtype: torch promotion of the inputs
    (complex64 x complex64 -> complex64).
    """
    func = "illuminate"
    p = as_tensor(patches, "patches", func)
    n = checks.image_side(tuple(p.shape), "patches", func)
    return p * _masked(_probe_2d(probe, p, n, func), n, bool(mask))


def illuminate_channels(patches: torch.Tensor, probe: torch.Tensor, mask: bool = False) -> torch.Tensor:
    """Exit waves for channel-last groups: patches (B, N, N, C) x probe (N, N) -> (B, N, N, C)."""
    func = "illuminate_channels"
    p = as_tensor(patches, "patches", func)
    n = checks.channel_patch_side(tuple(p.shape), "patches", func)
    return p * _masked(_probe_2d(probe, p, n, func), n, bool(mask))[None, :, :, None]
