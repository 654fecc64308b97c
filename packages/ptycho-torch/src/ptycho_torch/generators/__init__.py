"""Generator registry: ``ModelConfig.architecture`` -> the (encoder, decoder_amp, decoder_phase) modules.

'cnn' is the U-Net of :mod:`ptycho_torch.network` (specs/network.md §1-§6); 'fno' and 'ffno' are the Fourier
operators of :mod:`ptycho_torch.generators.fno` (specs/network.md §7); with ``input_projections`` > 0 the CNN
reads a projected estimate and corrects it (:mod:`ptycho_torch.generators.projected`, specs/network.md §8), and
with ``input_refine_passes`` > 0 the scan's refined object (:mod:`ptycho_torch.generators.refined_input`, §8.3).
Every generator maps (B, C, N, N) channels-first input to amplitude and phase (B, F, N, N), so the rest of the
model is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ptycho_torch.generators.projected import build_projected_parts
from ptycho_torch.network import PtychoNet, network_kwargs

__all__ = ["GENERATORS", "build_generator"]


def _cnn(model_config: Any) -> tuple[nn.Module, nn.Module, nn.Module]:
    net = PtychoNet(**network_kwargs(model_config))
    return net.encoder, net.decoder_amp, net.decoder_phase


def _fourier(factorised: bool) -> Callable[[Any], tuple[nn.Module, nn.Module, nn.Module]]:
    def build(model_config: Any) -> tuple[nn.Module, nn.Module, nn.Module]:
        from ptycho_torch.generators.fno import build_fourier_parts

        if getattr(model_config, "model_type", "pinn") != "pinn":
            raise ValueError(f"ModelConfig.architecture: expected 'cnn' for model_type "
                             f"{model_config.model_type!r} (the supervised baseline is a CNN), found "
                             f"{model_config.architecture!r}")
        return build_fourier_parts(
            int(model_config.N), int(model_config.gridsize), int(model_config.fno_width), int(model_config.fno_modes),
            int(model_config.fno_blocks), factorised, amp_activation=str(model_config.amp_activation),
            object_big=bool(model_config.object_big), probe_big=bool(model_config.probe_big),
            pad_object=bool(model_config.pad_object))
    return build


#: architecture name -> builder taking a canonical ModelConfig.
GENERATORS: dict[str, Callable[[Any], tuple[nn.Module, nn.Module, nn.Module]]] = {
    "cnn": _cnn,
    "fno": _fourier(factorised=False),
    "ffno": _fourier(factorised=True),
}


def build_generator(model_config: Any) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(encoder, decoder_amp, decoder_phase) for ``model_config.architecture`` (default 'cnn').

    Raises ValueError naming ``ModelConfig.architecture`` for an unknown name."""
    name = getattr(model_config, "architecture", "cnn")
    if name == "cnn" and (int(getattr(model_config, "input_projections", 0)) > 0
                          or int(getattr(model_config, "input_refine_passes", 0)) > 0):
        return build_projected_parts(model_config)
    if name not in GENERATORS:
        raise ValueError(f"ModelConfig.architecture: expected one of {', '.join(map(repr, GENERATORS))}, found {name!r}")
    return GENERATORS[name](model_config)
