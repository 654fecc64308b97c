"""The PtychoPINN convolutional networks (PyTorch): U-Net-style generator and supervised baseline.

Normative description and the full weight table: specs/network.md.

Layout: the convolutions run channels-first, ``(B, C, H, W)`` float32. The public model API is
channel-last ``(B, N, N, C)``; a contiguous channel-last tensor permuted with ``permute(0, 3, 1, 2)``
is already in ``torch.channels_last`` memory format, so no copy is made.

Parameter names are fixed (the TensorFlow backend names its Keras layers after them, replacing '.' by
'_'): ``encoder.blocks.{i}.conv1|conv2``, ``decoder_amp.blocks.{j}.conv1|conv2``, ``decoder_amp.head``,
``decoder_amp.border.conv1|conv2|out`` (probe_big branch), ``decoder_amp.upsample.conv1|conv2``
(pad_object=False path); the same under ``decoder_phase``.
Torch conv weight ``(out, in, kh, kw)`` <-> Keras kernel ``(kh, kw, in, out)`` via ``permute(2, 3, 1, 0)``.
Conv weights are stored with ``torch.channels_last`` strides (faster oneDNN convolutions); the values and
shapes are the usual ones, and ``.contiguous()`` gives the default layout for serialisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED_N = (64, 128, 256)
AMP_ACTIVATIONS = ("sigmoid", "swish", "silu", "softplus", "relu")

# Filter ladders (before multiplying by n_filters_scale), facts §2.2.
_ENCODER_LADDER = {64: (32, 64, 128), 128: (16, 32, 64, 128), 256: (8, 16, 32, 64, 128)}
_DECODER_LADDER = {64: (64, 32), 128: (128, 64, 32), 256: (256, 128, 64, 32)}
_BASELINE_ENCODER = (32, 64, 128)
_BASELINE_DECODER = (128, 64, 32)
# The probe_big border branch always reads the LAST 4 decoder channels (independent of C).
BORDER_CHANNELS = 4


def _conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=True)


def keras_like_init_(module: nn.Module) -> nn.Module:
    """Glorot/Xavier-uniform weights and zero biases for every Conv2d (Keras defaults), in place."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


class DoubleConv(nn.Module):
    """conv3x3 -> ReLU -> conv3x3 -> ReLU, (B,cin,H,W) -> (B,f,H,W): the body of the encoder and decoder blocks."""

    def __init__(self, cin: int, f: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(cin, f)
        self.conv2 = _conv3x3(f, f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class ConvPoolBlock(DoubleConv):
    """:class:`DoubleConv` -> max-pool 2x2.  (B,cin,H,W) -> (B,f,H/2,W/2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(super().forward(x), 2)


class ConvUpBlock(DoubleConv):
    """:class:`DoubleConv` -> nearest upsample x2.  (B,cin,H,W) -> (B,f,2H,2W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(super().forward(x), scale_factor=2, mode="nearest")


class BorderBranch(nn.Module):
    """probe_big branch: ConvUp(f) on the last 4 decoder channels -> conv3x3 to F -> SiLU ("swish").

    (B,4,N/2,N/2) -> (B,F,N,N); the caller multiplies by the border mask (1 outside the central
    N/2 square, 0 inside).
    """

    def __init__(self, f: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(BORDER_CHANNELS, f)
        self.conv2 = _conv3x3(f, f)
        self.out = _conv3x3(f, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return F.silu(self.out(x))


class Encoder(nn.Module):
    """Shared encoder: a ladder of ConvPool blocks.  (B,C,N,N) -> (B,128*nfs,8,8) for the PINN ladders."""

    def __init__(self, in_channels: int, filters: tuple[int, ...]) -> None:
        super().__init__()
        blocks = []
        cin = in_channels
        for f in filters:
            blocks.append(ConvPoolBlock(cin, f))
            cin = f
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def _phase_activation(t: torch.Tensor) -> torch.Tensor:
    """pi * tanh(t): phases in (-pi, pi). A module-level function, so the model pickles (spawned DDP workers)."""
    return math.pi * torch.tanh(t)


def _activation(name: str):
    if name == "sigmoid":
        return torch.sigmoid
    if name in ("swish", "silu"):
        return F.silu
    if name == "softplus":
        return F.softplus
    if name == "relu":
        return F.relu
    if name == "phase":
        return _phase_activation
    raise ValueError(f"amp_activation: expected one of {AMP_ACTIVATIONS}, got {name!r}")


class Decoder(nn.Module):
    """One PINN decoder branch (amplitude or phase): decoder base + head (facts §2.3, specs/network.md §3).

    Input (B, 128*nfs, 8, 8) bottleneck; output (B, F, N, N) real, F = C if object_big else 1. ``side`` S (default
    N): the same layers read an (S/8)-pixel bottleneck and give an S x S output (the projected generator's
    correction window, specs/network.md §8.2); the zero padding and the border mask are sized from S.
    ``activation`` is the head activation name ('sigmoid', 'swish', 'softplus', 'relu' or 'phase' = pi*tanh).
    pad_object=True: head conv on all but the last 4 channels at N/2 -> activation -> zero-pad N/4 per
    side; probe_big adds the masked SiLU border branch. pad_object=False: ConvUp block on all channels
    -> head conv -> activation (probe_big is then unused).
    """

    def __init__(self, N: int, in_channels: int, nfs: int, out_channels: int, activation: str,
                 pad_object: bool = True, probe_big: bool = True, side: int | None = None) -> None:
        super().__init__()
        blocks = []
        cin = in_channels
        for f in _DECODER_LADDER[N]:
            blocks.append(ConvUpBlock(cin, f * nfs))
            cin = f * nfs
        self.blocks = nn.ModuleList(blocks)
        self.N = N
        self.side = N if side is None else int(side)  # output side; the layers (the ladder of N) do not depend on it
        self.pad_object = bool(pad_object)
        self.probe_big = bool(probe_big) and self.pad_object
        self.activation_name = activation
        self._act = _activation(activation)
        wide = nfs * (2048 // N)
        if self.pad_object:
            self.head = _conv3x3(cin - BORDER_CHANNELS, out_channels)
            if self.probe_big:
                self.border = BorderBranch(wide, out_channels)
                S = self.side
                mask = torch.ones(S, S)
                mask[S // 4: S // 4 + S // 2, S // 4: S // 4 + S // 2] = 0.0
                self.register_buffer("border_mask", mask, persistent=False)
        else:
            self.upsample = ConvUpBlock(cin, wide)
            self.head = _conv3x3(wide, out_channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            z = block(z)
        if not self.pad_object:
            return self._act(self.head(self.upsample(z)))
        main = self._act(self.head(z[:, :-BORDER_CHANNELS]))
        q = self.side // 4
        out = F.pad(main, (q, q, q, q))
        if self.probe_big:
            border = self.border(z[:, -BORDER_CHANNELS:])
            out = out + border * self.border_mask.to(border.dtype)
        return out


class BaselineDecoder(nn.Module):
    """Supervised-baseline decoder (facts §2.6): ConvUp 128,64,32 x nfs -> conv3x3 to 1, linear.

    (B, 128*nfs, N/8, N/8) -> (B, 1, N, N).
    """

    def __init__(self, in_channels: int, nfs: int) -> None:
        super().__init__()
        blocks = []
        cin = in_channels
        for f in _BASELINE_DECODER:
            blocks.append(ConvUpBlock(cin, f * nfs))
            cin = f * nfs
        self.blocks = nn.ModuleList(blocks)
        self.head = _conv3x3(cin, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            z = block(z)
        return self.head(z)


def _check_common(N: int, gridsize: int, nfs: int) -> None:
    if N not in SUPPORTED_N:
        raise ValueError(f"ModelConfig.N: expected one of {SUPPORTED_N}, got {N!r}")
    if int(gridsize) < 1:
        raise ValueError(f"ModelConfig.gridsize: expected >= 1, got {gridsize!r}")
    if int(nfs) < 1:
        raise ValueError(f"ModelConfig.n_filters_scale: expected >= 1, got {nfs!r}")


def build_pinn_parts(N: int = 64, gridsize: int = 1, n_filters_scale: int = 2,
                     amp_activation: str = "sigmoid", object_big: bool = True, probe_big: bool = True,
                     pad_object: bool = True) -> tuple[Encoder, Decoder, Decoder]:
    """Build (encoder, decoder_amp, decoder_phase) of the PINN generator, Keras-like initialised."""
    _check_common(N, gridsize, n_filters_scale)
    if amp_activation not in AMP_ACTIVATIONS:
        raise ValueError(f"ModelConfig.amp_activation: expected one of {AMP_ACTIVATIONS}, got {amp_activation!r}")
    C = int(gridsize) ** 2
    nfs = int(n_filters_scale)
    F_out = C if object_big else 1
    encoder = Encoder(C, tuple(f * nfs for f in _ENCODER_LADDER[N]))
    dec_amp = Decoder(N, encoder.out_channels, nfs, F_out, amp_activation, pad_object, probe_big)
    dec_phase = Decoder(N, encoder.out_channels, nfs, F_out, "phase", pad_object, probe_big)
    for m in (encoder, dec_amp, dec_phase):
        keras_like_init_(m).to(memory_format=torch.channels_last)
    return encoder, dec_amp, dec_phase


def build_baseline_parts(N: int = 64, n_filters_scale: int = 2) -> tuple[Encoder, BaselineDecoder, BaselineDecoder]:
    """Build (encoder, decoder_amp, decoder_phase) of the supervised baseline (1 input channel)."""
    _check_common(N, 1, n_filters_scale)
    nfs = int(n_filters_scale)
    encoder = Encoder(1, tuple(f * nfs for f in _BASELINE_ENCODER))
    dec_amp = BaselineDecoder(encoder.out_channels, nfs)
    dec_phase = BaselineDecoder(encoder.out_channels, nfs)
    for m in (encoder, dec_amp, dec_phase):
        keras_like_init_(m).to(memory_format=torch.channels_last)
    return encoder, dec_amp, dec_phase


def run_generator(encoder: nn.Module, decoder_amp: nn.Module, decoder_phase: nn.Module,
                  x: torch.Tensor, supervised: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply a generator to normalised amplitudes.

    Args:
        x: (B, N, N, C) real, normalised diffraction amplitudes (channel-last).
        supervised: baseline mode; the C channels are processed independently (folded into the batch).
    Returns:
        amp, phase: (B, N, N, F) real, channel-last (F = C, or 1 for a PINN with object_big=False).
    """
    if x.dim() != 4:
        raise ValueError(f"generator input: expected (B, N, N, C), got shape {tuple(x.shape)}")
    B, H, W, C = x.shape
    # channels_last memory format (a view of the channel-last input, no copy for C > 1): the oneDNN
    # CPU convolutions run markedly faster in it. The conv weights are channels_last-strided too (set by
    # build_*_parts); their shapes are unchanged, savers should call .contiguous() (safetensors needs it).
    xc = x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    if supervised:
        xc = xc.reshape(B * C, 1, H, W)
    z = encoder(xc)
    amp = decoder_amp(z)
    phase = decoder_phase(z)
    if supervised:
        amp = amp.reshape(B, C, H, W)
        phase = phase.reshape(B, C, H, W)
    return amp.permute(0, 2, 3, 1), phase.permute(0, 2, 3, 1)


class PtychoNet(nn.Module):
    """Container for a generator: children ``encoder``, ``decoder_amp``, ``decoder_phase``.

    ``forward(x (B,N,N,C) float) -> (amp, phase)`` each (B,N,N,F) float, channel-last.
    ``model_type='supervised'`` builds the baseline of facts §2.6 (channels processed independently).
    """

    def __init__(self, N: int = 64, gridsize: int = 1, n_filters_scale: int = 2, model_type: str = "pinn",
                 amp_activation: str = "sigmoid", object_big: bool = True, probe_big: bool = True,
                 pad_object: bool = True) -> None:
        super().__init__()
        if model_type not in ("pinn", "supervised"):
            raise ValueError(f"ModelConfig.model_type: expected 'pinn' or 'supervised', got {model_type!r}")
        self.supervised = model_type == "supervised"
        if self.supervised:
            _check_common(N, gridsize, n_filters_scale)
            parts = build_baseline_parts(N, n_filters_scale)
        else:
            parts = build_pinn_parts(N, gridsize, n_filters_scale, amp_activation, object_big, probe_big,
                                     pad_object)
        self.encoder, self.decoder_amp, self.decoder_phase = parts

    @classmethod
    def from_config(cls, model_config) -> PtychoNet:
        """Build from a ``ptycho.config.config.ModelConfig`` (or any object with its field names)."""
        return cls(**network_kwargs(model_config))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return run_generator(self.encoder, self.decoder_amp, self.decoder_phase, x, self.supervised)


def network_kwargs(model_config) -> dict:
    """The ModelConfig fields the network depends on, as keyword arguments of ``PtychoNet``."""
    act = str(getattr(model_config, "amp_activation", "sigmoid"))
    if act.lower() in ("silu", "swish"):
        act = "swish"
    return dict(N=int(model_config.N), gridsize=int(model_config.gridsize),
                n_filters_scale=int(model_config.n_filters_scale),
                model_type=str(getattr(model_config, "model_type", "pinn")), amp_activation=act,
                object_big=bool(getattr(model_config, "object_big", True)),
                probe_big=bool(getattr(model_config, "probe_big", True)),
                pad_object=bool(getattr(model_config, "pad_object", True)))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalar parameters (a complex parameter counts 2)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in module.parameters() if p.requires_grad)
