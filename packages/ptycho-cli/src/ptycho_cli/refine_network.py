"""``ptycho infer --refine-target network|both``: fine-tune the PyTorch network on the scan, then stitch its
object (specs/refinement.md §9, specs/cli.md). The physics and the loop are ``ptycho_torch.refine.network``;
this module loads the bundle, builds the scan's data container the way inference does, and returns the
fine-tuned network's stitched object for :mod:`ptycho_cli.refine_cmd` to refine or write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ptycho.physics.patches import STITCH_M
from ptycho_cli.errors import UserError

__all__ = ["TARGETS", "finetuned_start", "require_torch_bundle"]

#: what ``--refine-iterations`` updates: the stitched object (default), the network's weights, or both in turn
TARGETS = ("object", "network", "both")


def require_torch_bundle(args: Any) -> None:
    """UserError unless the model of ``ptycho infer`` is a PyTorch bundle (the network is fine-tuned in PyTorch)."""
    from ptycho_cli.delegate import bundle_backend

    backend = args.backend or bundle_backend(args.model_path)
    if backend == "tensorflow":
        raise UserError(f"--refine-target {args.refine_target}: expected a PyTorch model bundle "
                        f"(the network is fine-tuned in PyTorch), found backend tensorflow for {args.model_path}")


def finetuned_start(model_path: str | Path, test_data: str | Path, options: Any, out_dir: Path,
                    say: Any = None) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]], float, float]:
    """Fine-tune the bundle's network on ``test_data`` and stitch its object.

    Args:
        model_path: training output folder holding wts.h5.zip (or the zip). test_data: the scan NPZ.
        options: ``ptycho_torch.refine.NetworkOptions``. out_dir: inference output folder (config only).
        say: called with each history row (progress), or None.
    Returns:
        (stitched canvas (H, W) complex64, origin_xy (2,) object coordinates of its pixel (0, 0),
        history rows, NLL per element before, NLL after), NLLs in counts.
    """
    from ptycho.raw_data import RawData
    from ptycho_torch.bundle import load_inference_bundle_torch
    from ptycho_torch.data import create_ptycho_data_container
    from ptycho_torch.inference import build_inference_config
    from ptycho_torch.refine import finetune_network, network_nll
    from ptycho_torch.stitching import canvas_origin
    from ptycho_torch.workflows.models import module_intensity_scale
    from ptycho_torch.workflows.reassembly import reassemble_cdi_image_torch

    models, training_config = load_inference_bundle_torch(model_path)
    config = build_inference_config(training_config, Path(model_path), Path(test_data), Path(out_dir), None)
    module = models["lightning_module"]
    s = models.get("intensity_scale")
    s = float(s) if s is not None else module_intensity_scale(module)
    container = create_ptycho_data_container(RawData.from_file(str(test_data)), config, intensity_scale=s)
    before = network_nll(module, container, likelihood=options.likelihood, device=options.device)
    history = finetune_network(module, container, options, on_iteration=say)
    after = network_nll(module, container, likelihood=options.likelihood, device=options.device)
    execution = {"accelerator": "cuda" if str(options.device).startswith("cuda") else "cpu",
                 "inference_batch_size": 64, "num_workers": 0}
    _, _, res = reassemble_cdi_image_torch(container, config, M=STITCH_M, models=models, execution_config=execution)
    canvas = np.asarray(res["stitched_obj"], dtype=np.complex64)
    origin = canvas_origin(res["global_offsets"], canvas.shape[0], STITCH_M)
    return canvas, origin, history, before, after

