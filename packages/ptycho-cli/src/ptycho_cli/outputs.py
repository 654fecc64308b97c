"""Files a ``ptycho`` run writes next to the backend's own (specs/cli.md §6).

``reconstructed_object.npz`` (the name ``ptycho_torch.inference`` and ``ptycho refine`` use too): ``object``
(H, W) complex64, ``amplitude``/``phase`` (H, W) float32
(radians), ``origin_xy`` (2,) float64 = object coordinates [x, y] of pixel (0, 0) of the canvas, which
lets ``ptycho evaluate`` place it on the ground truth without a search. It is always the final answer: after a
refinement the refined object, with the network's own result beside it as ``network_object.npz``
(``network_reconstruction.png``). ``history.json``: per-epoch losses.
Figures: ``reconstruction.png`` (amplitude + phase with colour bars), ``loss_curves.png``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.physics.patches import canvas_origin  # re-exported: where the written origin_xy comes from

__all__ = ["canvas_origin", "write_reconstruction", "write_history", "NETWORK_NAMES", "FINAL_NAMES"]


#: Names of the network's own result when refinement follows it: the final answer keeps the plain names.
NETWORK_NAMES = ("network_object.npz", "network_reconstruction.png")
FINAL_NAMES = ("reconstructed_object.npz", "reconstruction.png")


def write_reconstruction(out_dir: str | Path, obj: Any, origin_xy: Any | None, title: str,
                         names: tuple[str, str] = FINAL_NAMES) -> dict[str, Path]:
    """Write the object NPZ and its figure (atomic) under ``names`` (default ``reconstructed_object.npz`` and
    ``reconstruction.png``; :data:`NETWORK_NAMES` for the network's result that refinement started from);
    returns their paths (keys 'reconstruction', 'reconstruction_png')."""
    from ptycho.atomic_io import save_npz_atomic
    from ptycho_cli.figures import plot_amplitude_phase

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    img = np.asarray(obj)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    img = img.astype(np.complex64)
    arrays: dict[str, Any] = {"object": img, "amplitude": np.abs(img).astype(np.float32),
                              "phase": np.angle(img).astype(np.float32)}
    if origin_xy is not None:
        arrays["origin_xy"] = np.asarray(origin_xy, dtype=np.float64).reshape(2)
    npz = out / names[0]
    save_npz_atomic(npz, **arrays)
    png = out / names[1]
    plot_amplitude_phase(arrays["amplitude"], arrays["phase"], png, title=title)
    return {"reconstruction": npz, "reconstruction_png": png}


def write_history(out_dir: str | Path, history: Mapping[str, Sequence[float]] | None) -> dict[str, Path]:
    """Write ``history.json`` and ``loss_curves.png`` for the loss series of ``history`` (if any)."""
    from ptycho.atomic_io import save_json_atomic
    from ptycho_cli.figures import plot_loss_curves

    written: dict[str, Path] = {}
    if not history:
        return written
    clean: dict[str, list[float]] = {}
    for key, values in history.items():
        try:
            arr = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            continue
        if arr.size and np.all(np.isfinite(arr)):
            clean[str(key)] = [float(v) for v in arr]
    out = Path(out_dir)
    if clean:
        save_json_atomic(out / "history.json", clean)
        written["history"] = out / "history.json"
        try:
            plot_loss_curves(clean, out / "loss_curves.png")
            written["loss_curves"] = out / "loss_curves.png"
        except ValueError:
            pass  # no '*loss*' series to draw
    return written
