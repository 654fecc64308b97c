"""Fourier-operator generators ('fno', 'ffno'): same inputs and outputs as the CNN U-Net (specs/network.md §7).

A generator is three modules, the children the Lightning module keeps (``encoder``, ``decoder_amp``,
``decoder_phase``), so :func:`ptycho_torch.network.run_generator`, the physics, the loss, stitching, inference
and the bundle work unchanged:

* ``encoder`` = :class:`FourierTrunk`: (B, C, N, N) float diffraction amplitudes -> (B, width, N, N) features.
  A 1x1 lift of the C input channels plus two coordinate channels (x, y in [-1, 1]: the operator is
  translation-equivariant and the object patch is not), then ``blocks`` spectral blocks.
  - 'fno' block (Li et al. 2021): z <- GELU(K z + W z), K a 2-D spectral convolution keeping the ``modes``
    lowest frequencies per axis (both signs along rows, the rfft half along columns), W a 1x1 convolution.
  - 'ffno' block (Tran et al. 2023, factorised): z <- z + FF(K_row z + K_col z), K_row / K_col 1-D spectral
    convolutions along one axis each, FF = 1x1 conv (width -> 2 width) -> GELU -> 1x1 conv (back).
* ``decoder_amp`` / ``decoder_phase`` = :class:`FourierHead`: (B, width, N, N) -> (B, F, N, N), 1x1 conv ->
  GELU -> 1x1 conv -> the CNN's head activation (amplitude: ``amp_activation``; phase: pi*tanh). With
  ``pad_object`` the head is kept on the central N/2 x N/2 only (zero elsewhere) and ``probe_big`` adds a SiLU
  border term outside it: the CNN decoder's output structure (specs/network.md §3).

Spectral weights are real parameters of shape (..., 2) viewed as complex (fused Adam and safetensors take real
tensors). The FFTs run in float32 outside autocast (no half-precision FFT of arbitrary size on CPU).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SpectralConv2d", "SpectralConv1d", "FourierTrunk", "FourierHead", "build_fourier_parts"]


def _complex_weight(*shape: int, scale: float) -> nn.Parameter:
    return nn.Parameter(scale * torch.rand(*shape, 2))


class SpectralConv2d(nn.Module):
    """(B, cin, H, W) -> (B, cout, H, W): multiply the ``modes`` x ``modes`` lowest 2-D Fourier modes (rows of both
    signs, columns of the rfft half) by learned complex (cin, cout) matrices, drop the rest, transform back."""

    def __init__(self, cin: int, cout: int, modes: int) -> None:
        super().__init__()
        self.cin, self.cout, self.modes = cin, cout, modes
        scale = 1.0 / (cin * cout)
        self.weight_pos = _complex_weight(cin, cout, modes, modes, scale=scale)
        self.weight_neg = _complex_weight(cin, cout, modes, modes, scale=scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        m = self.modes
        if 2 * m > H or m > W // 2 + 1:
            raise ValueError(f"ModelConfig.fno_modes: expected <= {min(H // 2, W // 2 + 1)} for {H}x{W} patches, found {m}")
        with torch.autocast(device_type=x.device.type, enabled=False):
            xf = torch.fft.rfft2(x.float(), norm="ortho")
            out = xf.new_zeros(B, self.cout, H, W // 2 + 1)
            out[:, :, :m, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, :m, :m], torch.view_as_complex(self.weight_pos))
            out[:, :, -m:, :m] = torch.einsum("bixy,ioxy->boxy", xf[:, :, -m:, :m], torch.view_as_complex(self.weight_neg))
            return torch.fft.irfft2(out, s=(H, W), norm="ortho")


class SpectralConv1d(nn.Module):
    """(B, cin, H, W) -> (B, cout, H, W): a 1-D spectral convolution along ``dim`` (-2 rows, -1 columns) keeping
    the ``modes`` lowest rfft modes; the other axis is untouched (the factorised FNO's operator)."""

    def __init__(self, cin: int, cout: int, modes: int, dim: int) -> None:
        super().__init__()
        self.cout, self.modes, self.dim = cout, modes, dim
        self.weight = _complex_weight(cin, cout, modes, scale=1.0 / (cin * cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[self.dim]
        m = self.modes
        if m > n // 2 + 1:
            raise ValueError(f"ModelConfig.fno_modes: expected <= {n // 2 + 1} for {n}-pixel patches, found {m}")
        with torch.autocast(device_type=x.device.type, enabled=False):
            xf = torch.fft.rfft(x.float(), dim=self.dim, norm="ortho")
            w = torch.view_as_complex(self.weight)
            if self.dim == -1:
                kept = torch.einsum("bihk,iok->bohk", xf[..., :m], w)
                out = xf.new_zeros(x.shape[0], self.cout, x.shape[-2], xf.shape[-1])
                out[..., :m] = kept
            else:
                kept = torch.einsum("bikw,iok->bokw", xf[:, :, :m, :], w)
                out = xf.new_zeros(x.shape[0], self.cout, xf.shape[-2], x.shape[-1])
                out[:, :, :m, :] = kept
            return torch.fft.irfft(out, n=n, dim=self.dim, norm="ortho")


class _FNOBlock(nn.Module):
    def __init__(self, width: int, modes: int) -> None:
        super().__init__()
        self.spectral = SpectralConv2d(width, width, modes)
        self.pointwise = nn.Conv2d(width, width, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.spectral(z).to(z.dtype) + self.pointwise(z))


class _FFNOBlock(nn.Module):
    def __init__(self, width: int, modes: int) -> None:
        super().__init__()
        self.spectral_rows = SpectralConv1d(width, width, modes, dim=-2)
        self.spectral_cols = SpectralConv1d(width, width, modes, dim=-1)
        self.ff1 = nn.Conv2d(width, 2 * width, 1)
        self.ff2 = nn.Conv2d(2 * width, width, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        k = (self.spectral_rows(z) + self.spectral_cols(z)).to(z.dtype)
        return z + self.ff2(F.gelu(self.ff1(k)))


class FourierTrunk(nn.Module):
    """Lift + spectral blocks: (B, in_channels, N, N) float -> (B, width, N, N) float."""

    def __init__(self, in_channels: int, width: int, modes: int, blocks: int, factorised: bool) -> None:
        super().__init__()
        self.lift = nn.Conv2d(in_channels + 2, width, 1)
        block = _FFNOBlock if factorised else _FNOBlock
        self.blocks = nn.ModuleList(block(width, modes) for _ in range(blocks))
        self.out_channels = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        ys = torch.linspace(-1.0, 1.0, H, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1.0, 1.0, W, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=0).expand(B, 2, H, W)
        z = self.lift(torch.cat([x, grid], dim=1))
        for blk in self.blocks:
            z = blk(z)
        return z


def _phase(t: torch.Tensor) -> torch.Tensor:
    return math.pi * torch.tanh(t)


_ACTIVATIONS = {"sigmoid": torch.sigmoid, "swish": F.silu, "silu": F.silu, "softplus": F.softplus, "relu": F.relu,
                "phase": _phase}


class FourierHead(nn.Module):
    """(B, width, N, N) -> (B, out_channels, N, N) amplitude or phase, the CNN decoder's output structure."""

    def __init__(self, N: int, width: int, out_channels: int, activation: str, pad_object: bool = True,
                 probe_big: bool = True) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"ModelConfig.amp_activation: expected one of {tuple(_ACTIVATIONS)[:-1]}, found {activation!r}")
        self.proj1 = nn.Conv2d(width, 2 * width, 1)
        self.proj2 = nn.Conv2d(2 * width, out_channels, 1)
        self._act = _ACTIVATIONS[activation]
        self.pad_object = bool(pad_object)
        self.probe_big = bool(probe_big) and self.pad_object
        centre = torch.zeros(N, N)
        centre[N // 4: N // 4 + N // 2, N // 4: N // 4 + N // 2] = 1.0
        self.register_buffer("centre_mask", centre, persistent=False)
        if self.probe_big:
            self.border = nn.Conv2d(width, out_channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self._act(self.proj2(F.gelu(self.proj1(z))))
        if not self.pad_object:
            return out
        centre = self.centre_mask.to(out.dtype)
        out = out * centre
        if self.probe_big:
            out = out + F.silu(self.border(z)) * (1.0 - centre)
        return out


def build_fourier_parts(N: int, gridsize: int, width: int, modes: int, blocks: int, factorised: bool,
                        amp_activation: str = "sigmoid", object_big: bool = True, probe_big: bool = True,
                        pad_object: bool = True) -> tuple[FourierTrunk, FourierHead, FourierHead]:
    """(encoder, decoder_amp, decoder_phase) of a Fourier generator for (B, N, N, C=gridsize²) inputs; the heads
    emit F = C channels (object_big) or 1."""
    if 2 * int(modes) > int(N):
        raise ValueError(f"ModelConfig.fno_modes: expected <= N/2 = {int(N) // 2}, found {modes}")
    C = int(gridsize) ** 2
    F_out = C if object_big else 1
    act = "swish" if str(amp_activation).lower() in ("silu", "swish") else str(amp_activation)
    trunk = FourierTrunk(C, int(width), int(modes), int(blocks), factorised)
    return (trunk, FourierHead(N, int(width), F_out, act, pad_object, probe_big),
            FourierHead(N, int(width), F_out, "phase", pad_object, probe_big))
