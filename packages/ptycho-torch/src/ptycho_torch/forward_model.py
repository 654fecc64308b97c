"""The differentiable physics chain of PtychoPINN as an nn.Module (specs/torch-training.md §2).

``ForwardModel`` owns the two physical quantities of the model: the intensity scale (``log_scale``,
scalar, initialised to log s) and the probe (``probe``, (N, N) complex, or (K, N, N) incoherent modes whose
intensities add on the detector: ``A = sqrt(sum_k |F[P_k O]|^2)``, specs/physics.md §12.1). Each is an ``nn.Parameter``
when its ``*_trainable`` flag is set (and then really optimised: it is returned by ``parameters()``),
otherwise a buffer (saved in the state dict, never optimised).

Pipeline (channel-last at the API, channels-first inside):

1. ``scale_input(s*X)`` = ``s*X / exp(log_scale)`` -> what the network sees (normalised amplitudes).
2. network -> amp, phase (B, N, N, F); ``object_patches(amp, phase)`` = amp * exp(i*phase).
3. ``forward(patches, coords_relative)``: per-group merge (object_big: ``reassemble_groups``; else the
   single patch zero-padded) onto an M x M canvas -> trimmed object = central N x N (B, N, N) ->
   ``extract_from_canvas`` -> x probe (optional disk mask, optional 3x3 Gaussian blur of the exit
   wave) -> ``far_field_amplitude`` -> x exp(log_scale) -> predicted amplitude (B, N, N, C) in
   measurement units (sqrt counts). Predicted counts are its square.

For gridsize 1 with zero offsets the merge/extract pair is the identity and is skipped (exactly equal).
Device follows the module; dtype follows the patches (float64/complex128 in tests).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .physics.diffraction import canvas_from_patches, far_field_amplitude, incoherent_amplitude
from .physics.patches import canvas_size, extract_from_canvas_cf
from .physics.probe import probe_mask as _probe_mask

__all__ = ["ForwardModel", "object_patches", "gaussian_kernel3"]


def object_patches(amp: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
    """Complex object ``amp * exp(i*phase)`` (same shape; complex64 for float32, complex128 for float64)."""
    return torch.complex(amp * torch.cos(phase), amp * torch.sin(phase))


def gaussian_kernel3(sigma: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """3x3 Gaussian ``k[i, j] ∝ exp(-(i^2 + j^2) / (2 sigma^2))``, i, j in {-1, 0, 1}, summing to 1."""
    r = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    k = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2.0 * float(sigma) ** 2))
    return (k / k.sum()).to(dtype)


class ForwardModel(nn.Module):
    """Intensity scale, probe and physics chain (see module docstring).

    Args:
        N: patch side. gridsize: C = gridsize**2 channels.
        probe: (N, N) complex tensor/array, or (K, N, N) incoherent modes, used as given (callers normalise it with
            ``physics.normalize_probe``; PtychoPINN_Lightning does). Its dtype is kept (complex64 default).
        intensity_scale: s > 0; ``log_scale`` starts at log(s).
        object_big: merge the C patches per group (True) or use a single patch (F = 1).
        probe_mask: multiply the exit wave by the disk r < N//4.
        gaussian_smoothing_sigma: at least 0; if positive, blur the exit wave (real and imag) with a 3x3
            Gaussian, reflect padding, before the FFT.
        probe_trainable, intensity_scale_trainable: make probe / log_scale nn.Parameters.
        M: fixed canvas side; None = ``canvas_size(N, gridsize, coords_relative)`` per batch
            (what ``ptycho.physics.forward_model`` uses).
    """

    def __init__(self, N: int, gridsize: int, probe, intensity_scale: float, *, object_big: bool = True,
                 probe_mask: bool = False, gaussian_smoothing_sigma: float = 0.0, probe_trainable: bool = False,
                 intensity_scale_trainable: bool = False, M: int | None = None) -> None:
        super().__init__()
        self.N = int(N)
        self.gridsize = int(gridsize)
        self.C = self.gridsize ** 2
        self.object_big = bool(object_big)
        self.use_probe_mask = bool(probe_mask)
        self.sigma = float(gaussian_smoothing_sigma)
        if not math.isfinite(self.sigma) or self.sigma < 0:
            raise ValueError(f"ForwardModel.gaussian_smoothing_sigma: expected >= 0, got {gaussian_smoothing_sigma!r}")
        self.M = None if M is None else int(M)
        if self.M is not None and self.M < self.N:
            raise ValueError(f"ForwardModel.M: expected a canvas side >= N={self.N}, got {M!r}")
        s = float(intensity_scale)
        if not math.isfinite(s) or s <= 0:
            raise ValueError(f"ForwardModel.intensity_scale: expected a finite positive number, got {intensity_scale!r}")
        pr = probe if torch.is_tensor(probe) else torch.as_tensor(probe)
        if pr.dim() == 3 and pr.shape[-1] == 1:
            pr = pr[..., 0]
        if tuple(pr.shape) != (self.N, self.N) and (pr.dim() != 3 or tuple(pr.shape[1:]) != (self.N, self.N)):
            raise ValueError(f"ForwardModel.probe: expected shape ({self.N}, {self.N}) or (K, {self.N}, {self.N}) "
                             f"modes, found {tuple(pr.shape)}")
        if not pr.is_complex():
            pr = pr.to(torch.complex128 if pr.dtype == torch.float64 else torch.complex64)
        pr = pr.detach().clone()
        log_s = torch.tensor(math.log(s), dtype=torch.float64 if pr.dtype == torch.complex128 else torch.float32)
        if intensity_scale_trainable:
            self.log_scale = nn.Parameter(log_s)
        else:
            self.register_buffer("log_scale", log_s)
        if probe_trainable:
            self.probe = nn.Parameter(pr)
        else:
            self.register_buffer("probe", pr)
        self.register_buffer("mask", _probe_mask(self.N, log_s.dtype), persistent=False)
        self.register_buffer("smooth_kernel", gaussian_kernel3(self.sigma if self.sigma > 0 else 1.0, log_s.dtype)
                             .reshape(1, 1, 3, 3), persistent=False)

    # -- scaling ---------------------------------------------------------------------------------
    def scale(self) -> torch.Tensor:
        """exp(log_scale), 0-d tensor (the model's current intensity scale)."""
        return torch.exp(self.log_scale)

    def scale_input(self, x_scaled: torch.Tensor) -> torch.Tensor:
        """(B, N, N, C) s*X -> s*X / exp(log_scale) (the network input)."""
        return x_scaled / torch.exp(self.log_scale).to(x_scaled.dtype)

    # -- physics -----------------------------------------------------------------------------------
    def exit_wave(self, patches_cf: torch.Tensor) -> torch.Tensor:
        """(B, C, N, N) complex object patches -> probe-illuminated (optionally blurred, masked) field,
        (B, C, N, N), or (B, C, K, N, N) with K probe modes."""
        probe = self.probe.to(patches_cf.dtype)
        if probe.dim() == 3:  # K modes: one exit wave per mode, each blurred and masked like a single one
            b, c, n, _ = patches_cf.shape
            psi = (patches_cf[:, :, None] * probe).reshape(b, c * probe.shape[0], n, n)
            if self.sigma > 0:
                psi = self._smooth(psi)
            if self.use_probe_mask:
                psi = psi * self.mask.to(psi.real.dtype)
            return psi.reshape(b, c, probe.shape[0], n, n)
        psi = patches_cf * probe
        if self.sigma > 0:
            psi = self._smooth(psi)
        if self.use_probe_mask:
            psi = psi * self.mask.to(psi.real.dtype)
        return psi

    def _smooth(self, psi: torch.Tensor) -> torch.Tensor:
        b, c, n, _ = psi.shape
        pair = torch.stack((psi.real, psi.imag), dim=2).reshape(b * c * 2, 1, n, n)
        pair = F.conv2d(F.pad(pair, (1, 1, 1, 1), mode="reflect"), self.smooth_kernel.to(pair.dtype))
        pair = pair.reshape(b, c, 2, n, n)
        return torch.complex(pair[:, :, 0], pair[:, :, 1])

    def forward(self, patches: torch.Tensor, coords_relative: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Physics chain.

        Args:
            patches: (B, N, N, F) complex object patches, F = C (object_big) or 1.
            coords_relative: (B, 1, 2, C) real, sign -1 [x; y] offsets (object pixels).
        Returns:
            trimmed_object (B, N, N) complex (central N x N of the group canvas),
            pred_amplitude (B, N, N, C) real, measurement units (x exp(log_scale)).
        """
        if patches.dim() != 4 or patches.shape[1] != self.N or patches.shape[2] != self.N:
            raise ValueError(f"ForwardModel: patches: expected shape (B, {self.N}, {self.N}, F), "
                             f"found {tuple(patches.shape)}")
        b = patches.shape[0]
        if coords_relative.dim() != 4 or tuple(coords_relative.shape) != (b, 1, 2, self.C):
            raise ValueError(f"ForwardModel: coords_relative: expected shape ({b}, 1, 2, {self.C}), "
                             f"found {tuple(coords_relative.shape)}")
        want_f = self.C if self.object_big else 1
        if patches.shape[3] != want_f:
            raise ValueError(f"ForwardModel: patches: expected {want_f} channels "
                             f"(object_big={self.object_big}, C={self.C}), found {patches.shape[3]}")
        if not patches.is_complex():
            raise ValueError(f"ForwardModel: patches: expected a complex tensor, found dtype {patches.dtype}")
        rdt = patches.real.dtype
        rel = coords_relative.to(device=patches.device, dtype=rdt)
        pcf = patches.permute(0, 3, 1, 2)
        if self.C == 1 and self.M is None and not bool(torch.any(rel != 0)):
            trimmed = pcf[:, 0]
            obj_cf = pcf  # merge + re-extract with zero offsets is exactly the identity
        else:
            m = self.M if self.M is not None else canvas_size(self.N, self.gridsize, rel)
            canvas = canvas_from_patches(pcf, rel, m, self.object_big)
            lo = (m - self.N) // 2
            trimmed = canvas[:, lo:lo + self.N, lo:lo + self.N]
            obj_cf = extract_from_canvas_cf(canvas, rel, self.N)
        psi = self.exit_wave(obj_cf)
        amp = far_field_amplitude(psi) if psi.dim() == 4 else incoherent_amplitude(psi, mode_axis=2)
        amp = amp * torch.exp(self.log_scale).to(rdt)
        return trimmed, amp.permute(0, 2, 3, 1)
