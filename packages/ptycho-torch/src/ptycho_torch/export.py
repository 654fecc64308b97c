"""PNG export of stitched reconstructions (specs/torch-workflow.md §7).

Writes ``reconstructed_amplitude.png`` (grey colour map) and ``reconstructed_phase.png`` (viridis,
radians), each an 8x8 inch figure with a colour bar, through matplotlib's non-interactive Agg
canvas (no display, no global pyplot state). Every file is written atomically: rendered into memory,
then handed to ``ptycho.atomic_io.atomic_write`` so a reader never sees a half-written PNG.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

AMPLITUDE_PNG = "reconstructed_amplitude.png"
PHASE_PNG = "reconstructed_phase.png"


def _as_image(name: str, image: Any) -> np.ndarray:
    """Return ``image`` as a finite 2-D float64 array (squeezing singleton axes) or raise ValueError."""
    if hasattr(image, "detach"):  # torch tensor
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name}: expected a real 2-D image, found complex dtype {arr.dtype}")
    arr = np.squeeze(arr)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name}: expected a non-empty 2-D image, found shape {np.shape(image)}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, found {int((~np.isfinite(arr)).sum())} NaN/inf")
    return arr


def render_png(image: np.ndarray, title: str, cmap: str, *, dpi: int = 100) -> bytes:
    """Render a 2-D real image with a colour bar into PNG bytes (8x8 in at ``dpi``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(image, cmap=cmap)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    from ptycho.atomic_io import atomic_write

    with atomic_write(path, "wb") as fh:
        fh.write(data)


def save_reconstruction_pngs(amp: Any, phase: Any, output_dir: str | Path) -> tuple[Path, Path]:
    """Write the amplitude and phase PNGs of a stitched reconstruction.

    Args:
        amp: (H, W) real amplitude image (numpy or torch; singleton axes are squeezed), arbitrary units.
        phase: (H, W) real phase image in radians, same shape as ``amp``.
        output_dir: directory (created if missing).

    Returns:
        ``(output_dir/reconstructed_amplitude.png, output_dir/reconstructed_phase.png)``.

    Raises:
        ValueError: an image is not 2-D, is complex, contains NaN/inf, or the shapes differ.
    """
    a = _as_image("amplitude", amp)
    p = _as_image("phase", phase)
    if a.shape != p.shape:
        raise ValueError(f"amplitude and phase: expected equal shapes, found {a.shape} and {p.shape}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    amp_path, phase_path = out / AMPLITUDE_PNG, out / PHASE_PNG
    _write_bytes_atomic(amp_path, render_png(a, "Reconstructed amplitude", "gray"))
    _write_bytes_atomic(phase_path, render_png(p, "Reconstructed phase (rad)", "viridis"))
    return amp_path, phase_path


def save_outputs(
    amplitude: Any, phase: Any, results: Mapping[str, Any] | None, output_dir: str | Path
) -> dict[str, Path]:
    """Persist what a workflow run produced into ``output_dir``.

    Writes the two PNGs (only when both ``amplitude`` and ``phase`` are given), the raw stitched
    arrays as ``reconstruction.npz`` (float32 ``amplitude``/``phase``, no pickle), and the training
    history (``results['history']``, lists of per-epoch floats) as ``history.json``.

    Returns a dict naming every file written (keys 'amplitude_png', 'phase_png', 'reconstruction',
    'history').
    """
    from ptycho.atomic_io import save_json_atomic, save_npz_atomic

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if amplitude is not None and phase is not None:
        written["amplitude_png"], written["phase_png"] = save_reconstruction_pngs(amplitude, phase, out)
        path = out / "reconstruction.npz"
        save_npz_atomic(
            path,
            amplitude=_as_image("amplitude", amplitude).astype(np.float32),
            phase=_as_image("phase", phase).astype(np.float32),
        )
        written["reconstruction"] = path
    history = (results or {}).get("history")
    if history:
        path = out / "history.json"
        save_json_atomic(path, {k: [float(v) for v in vals] for k, vals in history.items()})
        written["history"] = path
    return written


__all__ = ["AMPLITUDE_PNG", "PHASE_PNG", "render_png", "save_outputs", "save_reconstruction_pngs"]
