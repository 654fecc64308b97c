"""What ``ptycho infer`` writes for a benchmark scan: the canvas of the PyTorch inference path itself, not a
re-stitch of its patches. They differ for a model on the refined scan (specs/network.md §8.3), whose canvas is
the refined object plus the stitched corrections."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np

__all__ = ["network_canvas"]


def network_canvas(model_dir: str | Path, test_npz: str | Path, M: int = 20,
                   batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(canvas (H, W) complex64, origin_xy [x, y] of its pixel (0, 0) in object coordinates) of a trained
    PyTorch bundle on ``test_npz``, through ``ptycho infer``'s path (``_reassemble_cdi_image_torch``)."""
    from ptycho.physics.patches import canvas_origin
    from ptycho.raw_data import RawData
    from ptycho_torch.workflows.components import _reassemble_cdi_image_torch, load_inference_bundle_torch
    from ptycho_torch.workflows.inference_config import build_inference_config

    models, training_config = load_inference_bundle_torch(model_dir)
    config = build_inference_config(training_config, Path(model_dir), Path(test_npz), Path(model_dir) / "infer", None)
    execution = types.SimpleNamespace(inference_batch_size=int(batch_size), num_workers=0, accelerator="cpu")
    _, _, res = _reassemble_cdi_image_torch(RawData.from_file(str(test_npz)), config, M=M, models=models,
                                            execution_config=execution)
    canvas = np.asarray(res["stitched_obj"], dtype=np.complex64)
    return canvas, canvas_origin(res["global_offsets"], canvas.shape[0], M)
