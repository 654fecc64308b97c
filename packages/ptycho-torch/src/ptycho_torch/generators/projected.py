"""The generator on projected input (specs/network.md §8): the CNN corrects a physics estimate of each patch.

Each measured pattern is first turned into a real-space estimate of its object patch by ``input_projections``
modulus projections with the model's own probe: at gridsize 1 single-pattern projections
(:func:`ptycho_torch.physics.modulus_projections`; one pattern and the probe, no neighbour), at gridsize > 1 the
group's C patterns jointly on one canvas (:func:`ptycho_torch.physics.projection.group_projections`: their
overlaps constrain the estimate). The U-Net of specs/network.md reads each member's estimate on its own (real part - 1
and imaginary part, 2 channels; a group's members are folded into the batch) and outputs a bounded correction:

    amp   = | |O_K| + AMP_STEP * d_amp |        d_amp, d_phase = pi * tanh(head)   (zero-padded outside N/2)
    phase = angle(O_K) + d_phase

so at initialisation (heads near 0) the network already returns the estimate, and training only has to learn
what one pattern's projections miss. Why: the plain generator starts from an input-independent patch and, on a
CPU budget, often does not leave it (benchmarks/RESULTS.md "The generator on projected input").
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ptycho_torch.network import _ENCODER_LADDER, Decoder, Encoder, keras_like_init_
from ptycho_torch.physics.projection import group_projections, modulus_projections

__all__ = ["AMP_STEP", "build_projected_parts", "correct_estimates", "run_projected_generator"]

#: the amplitude correction's range: +-AMP_STEP * pi = +-0.5 around the estimate's amplitude
AMP_STEP = 0.5 / math.pi


def build_projected_parts(model_config: Any) -> tuple[Encoder, Decoder, Decoder]:
    """(encoder with 2 input channels, amplitude-correction decoder, phase-correction decoder: one member's
    estimate in, its correction out, whatever the gridsize), both heads
    ``pi * tanh``, Keras-like initialised, channels_last (as :func:`ptycho_torch.network.build_pinn_parts`)."""
    N, nfs = int(model_config.N), int(model_config.n_filters_scale)
    window = int(getattr(model_config, "correction_window", 0) or 0) or N
    f_out = 1  # the CNN corrects one member's estimate at a time (members folded into the batch)
    encoder = Encoder(2, tuple(f * nfs for f in _ENCODER_LADDER[N]))
    pad, big = bool(model_config.pad_object), bool(model_config.probe_big)
    dec_amp = Decoder(N, encoder.out_channels, nfs, f_out, "phase", pad, big, side=window)
    dec_phase = Decoder(N, encoder.out_channels, nfs, f_out, "phase", pad, big, side=window)
    for m in (encoder, dec_amp, dec_phase):
        keras_like_init_(m).to(memory_format=torch.channels_last)
    return encoder, dec_amp, dec_phase


def projected_input(x: torch.Tensor, probe: torch.Tensor, iterations: int,
                    coords_relative: torch.Tensor | None = None) -> torch.Tensor:
    """(B, N, N, C) normalised amplitudes -> (B, C, N, N) complex estimates O_K, float32 physics, no gradient.
    C = 1: single-pattern projections; C > 1: the group's members jointly on one canvas (``coords_relative``
    (B, 1, 2, C) required; specs/physics.md §13.1)."""
    with torch.no_grad(), torch.autocast(device_type=x.device.type, enabled=False):
        amp = x.detach().float().permute(0, 3, 1, 2)
        if amp.shape[1] == 1:
            return modulus_projections(amp, probe.detach(), int(iterations))
        if coords_relative is None:
            raise ValueError(f"projected_input: coords_relative: expected (B, 1, 2, {amp.shape[1]}) offsets for "
                             f"a group of {amp.shape[1]} patterns, found None")
        return group_projections(amp, probe.detach(), coords_relative.detach().float(), int(iterations))


def run_projected_generator(encoder: nn.Module, decoder_amp: nn.Module, decoder_phase: nn.Module, x: torch.Tensor,
                            probe: torch.Tensor, iterations: int,
                            coords_relative: torch.Tensor | None = None,
                            estimate: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator of this module on ``x``.

    Args:
        x: (B, N, N, C) real network input: measured amplitudes in the exit-wave units of ``probe``
            (``ForwardModel.scale_input`` of s*X).
        probe: (N, N) or (K, N, N) complex, the forward model's (normalised) probe.
        iterations: modulus projections per pattern (>= 1).
        coords_relative: (B, 1, 2, C) group offsets; needed when C > 1 (the members are estimated jointly).
        estimate: (B, C, N, N) complex, ``projected_input(x, probe, iterations, coords_relative)`` when the caller
            already has it (:class:`ptycho_torch.generators.estimate_cache.EstimateCache`); None: computed here.

    Returns:
        amp, phase: (B, N, N, C) real, channel-last, as :func:`ptycho_torch.network.run_generator`.
    """
    if x.dim() != 4:
        raise ValueError(f"generator input: expected (B, N, N, C), got shape {tuple(x.shape)}")
    est = projected_input(x, probe, iterations, coords_relative) if estimate is None else estimate  # (B, C, N, N)
    amp, phase = correct_estimates(encoder, decoder_amp, decoder_phase, est, x.dtype)
    return amp.permute(0, 2, 3, 1), phase.permute(0, 2, 3, 1)


def correct_estimates(encoder: nn.Module, decoder_amp: nn.Module, decoder_phase: nn.Module, est: torch.Tensor,
                      dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(amp, phase), each (B, C, N, N) real: every member's estimate ``est`` (B, C, N, N) complex corrected by the
    CNN on its own (members folded into the batch, shared weights; the network's features are computed in
    ``dtype``). A group's members are centred at different object positions, so reading them as channels of one
    image would mix different places of the object; the weights do not depend on the gridsize. With a correction
    window W < N (the decoders' ``side``) the CNN reads and corrects the central W x W of each estimate only."""
    b, c, n, _ = est.shape
    w = int(getattr(decoder_amp, "side", n))  # the correction window (specs/network.md §8.2); n: the whole patch
    lo, hi = (n - w) // 2, n - w - (n - w) // 2
    window = est[..., lo:n - hi, lo:n - hi]
    feats = torch.stack([window.real - 1.0, window.imag], dim=2).reshape(b * c, 2, w, w).to(dtype)
    z = encoder(feats.contiguous(memory_format=torch.channels_last))
    d_amp, d_phase = decoder_amp(z).reshape(b, c, w, w), decoder_phase(z).reshape(b, c, w, w)
    if w != n:  # no correction outside the window: the patch there is the estimate
        d_amp, d_phase = F.pad(d_amp, (lo, hi, lo, hi)), F.pad(d_phase, (lo, hi, lo, hi))
    amp = (est.abs().to(d_amp.dtype) + AMP_STEP * d_amp).abs()
    phase = est.angle().to(d_phase.dtype) + d_phase
    return amp, phase
