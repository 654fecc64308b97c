"""The projected generator without its CNN: zero the correction heads so that a trained bundle returns the
physics estimate it corrects (specs/network.md §8); the "projected input alone" row of
``reconstruction_quality.py``."""

from __future__ import annotations

from typing import Any

__all__ = ["NoProjectedInput", "zero_correction_heads"]


class NoProjectedInput(ValueError):
    """The bundle's generator has no estimate input (``input_projections`` and ``input_refine_passes`` 0): there
    is no estimate to show."""


def zero_correction_heads(models: Any) -> int:
    """Zero the output convolutions of the projected generator's correction decoders (``decoder_amp``,
    ``decoder_phase``: their ``head`` and ``border.out``) in every module of ``models`` (the dict
    ``load_inference_bundle_torch`` returns), so that the network returns its projected input unchanged
    (specs/network.md §8). Returns how many convolutions were zeroed (0: not a projected generator)."""
    import torch

    count = 0
    for module in models.values():
        mc = getattr(module, "model_config", None)
        if not (int(getattr(mc, "input_projections", 0) or 0) or int(getattr(mc, "input_refine_passes", 0) or 0)):
            continue  # the plain generator: its heads ARE the patch, not a correction
        for name in ("decoder_amp", "decoder_phase"):
            dec = getattr(module, name, None)
            if dec is None:
                continue
            for sub_name, sub in dec.named_modules():
                if sub_name in ("head", "border.out"):
                    with torch.no_grad():
                        sub.weight.zero_()
                        sub.bias.zero_()
                    count += 1
    return count
