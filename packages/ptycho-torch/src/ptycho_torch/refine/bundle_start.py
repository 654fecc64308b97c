"""The network's fine-tuned start of object refinement, from a trained bundle and a scan (specs/refinement.md §9).

``ptycho infer --refine-target network|both`` (specs/cli.md §8) fine-tunes the bundle's network on the scan it
reconstructs (:func:`.network.finetune_network`) and stitches the fine-tuned network's object, which object
refinement then starts from. :func:`finetuned_start` does the whole chain the way inference does it: load the
bundle, build the scan's data container with the bundle's intensity scale and grouping, measure the NLL before
and after fine-tuning, stitch with the inference crop (``STITCH_M``). Nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ptycho.physics.patches import STITCH_M, canvas_origin
from ptycho.raw_data import RawData
from ptycho_torch.bundle import load_inference_bundle_torch
from ptycho_torch.data import create_ptycho_data_container
from ptycho_torch.generators.refined_input import ensure_refined_estimate
from ptycho_torch.workflows.inference_config import build_inference_config
from ptycho_torch.workflows.models import module_intensity_scale
from ptycho_torch.workflows.reassembly import reassemble_cdi_image_torch

from .network import NetworkOptions, finetune_network, network_nll

__all__ = ["FinetunedStart", "finetuned_start"]

#: patterns per prediction batch when stitching the fine-tuned network's object
STITCH_BATCH = 64


class FinetunedStart(NamedTuple):
    """What :func:`finetuned_start` returns (a tuple, so ``canvas, origin, history, before, after = ...`` works).

    ``canvas``: the fine-tuned network's stitched object, (H, W) complex64. ``origin_xy``: (2,) float, object
    coordinates [x, y] in pixels of the canvas pixel (0, 0). ``history``: one row per fine-tuning pass
    ({'iteration', 'nll', 'time_s'}). ``nll_before`` / ``nll_after``: mean NLL per diffraction element of the
    whole scan before and after fine-tuning, in counts.
    """

    canvas: np.ndarray
    origin_xy: np.ndarray
    history: list[dict[str, float]]
    nll_before: float
    nll_after: float


def finetuned_start(model_path: str | Path, test_data: str | Path, options: NetworkOptions, output_dir: str | Path,
                    on_iteration: Callable[[dict[str, float]], None] | None = None) -> FinetunedStart:
    """Fine-tune the network of the bundle at ``model_path`` on the scan ``test_data`` and stitch its object.

    Args:
        model_path: a PyTorch training output folder holding ``wts.h5.zip``, or the zip itself.
        test_data: the scan NPZ (data contract; a ``ContractError`` names what is wrong with it).
        options: :class:`~ptycho_torch.refine.network.NetworkOptions` (passes, likelihood, seed, device).
        output_dir: the inference output folder, recorded in the inference config only (nothing is written).
        on_iteration: called with each history row as a pass finishes (progress), or None.
    Returns:
        :class:`FinetunedStart`. The bundle's module is fine-tuned in place (it is loaded here, so the caller's
        bundle on disk is untouched).
    """
    models, training_config = load_inference_bundle_torch(model_path)
    config = build_inference_config(training_config, Path(model_path), Path(test_data), Path(output_dir), None)
    module = models["lightning_module"]
    scale = models.get("intensity_scale")
    scale = float(scale) if scale is not None else module_intensity_scale(module)
    execution = {"accelerator": "cuda" if str(options.device).startswith("cuda") else "cpu",
                 "inference_batch_size": STITCH_BATCH, "num_workers": 0}
    raw = RawData.from_file(str(test_data))
    container = create_ptycho_data_container(raw, config, intensity_scale=scale)
    ensure_refined_estimate(container, raw, module, config, execution)  # before fine-tuning reads its batches
    before = network_nll(module, container, likelihood=options.likelihood, device=options.device)
    history = finetune_network(module, container, options, on_iteration=on_iteration)
    after = network_nll(module, container, likelihood=options.likelihood, device=options.device)
    _, _, res = reassemble_cdi_image_torch(container, config, M=STITCH_M, models=models, execution_config=execution)
    canvas = np.asarray(res["stitched_obj"], dtype=np.complex64)
    origin = canvas_origin(res["global_offsets"], canvas.shape[0], STITCH_M)
    return FinetunedStart(canvas, origin, history, float(before), float(after))
