"""Scoring helpers of the teacher experiments (``teacher_training.py``, ``teacher_recipe.py``): loading a
reconstruction, amplitude- and phase-registered scores, and the library's stitch of given patches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import realistic as R

M_STITCH = 20


def load_object(folder: Path, name: str = "reconstructed_object.npz") -> tuple[np.ndarray, np.ndarray]:
    """(object (H, W) complex64, origin_xy (2,) [x, y]) of ``folder/name``: the final answer by default; after
    ``ptycho infer --refine-iterations`` the network's own is ``network_object.npz``."""
    with np.load(folder / name) as f:
        return f["object"], f["origin_xy"]


def phase_shift(recon: np.ndarray, reference: np.ndarray, upsample_factor: int = 50) -> tuple[float, float]:
    """(dy, dx) to apply to ``recon`` so that its PHASE matches ``reference``'s.

    The registration machinery of ``ptycho.metrics.alignment.find_shift`` (skimage ``phase_cross_correlation``,
    plain cross-correlation, mean removed, 2-D Hann window, one residual refinement after a Fourier shift) on the
    unit phasors exp(i·phase) instead of the amplitudes: the peak of |cross-correlation| ignores the free phase
    constant and wrapping, and no amplitude enters. For a reconstruction whose amplitude is unreliable."""
    from scipy.signal.windows import hann
    from skimage.registration import phase_cross_correlation

    from ptycho.metrics.alignment import fourier_shift

    def view(img: np.ndarray) -> np.ndarray:
        u = np.exp(1j * np.angle(np.asarray(img, np.complex128)))
        return (u - u.mean()) * np.outer(hann(u.shape[0], sym=False), hann(u.shape[1], sym=False))

    def estimate(img: np.ndarray) -> np.ndarray:
        shift, _, _ = phase_cross_correlation(view(reference), view(img), upsample_factor=int(upsample_factor),
                                              normalization=None)
        return np.asarray(shift, dtype=np.float64)

    first = estimate(recon)
    total = first + estimate(fourier_shift(np.asarray(recon), (float(first[0]), float(first[1]))))
    return float(total[0]), float(total[1])


def scores(obj: np.ndarray, origin: np.ndarray, truth: np.ndarray, window: tuple[int, int, int, int],
            register: bool | str = True) -> dict:
    """``realistic.headline`` of the object's window plus ``shift``: the registration's [dy, dx] (px).
    ``register``: True (the amplitude registration of ``ptycho.metrics.evaluate``), False (none) or 'phase'
    (:func:`phase_shift`, applied by a Fourier shift, then scored unregistered)."""
    win = R.window_of(obj, origin, window)
    if register == "phase":
        from ptycho.metrics.alignment import fourier_shift

        r0, r1, c0, c1 = window
        shift = phase_shift(win, truth[r0:r1, c0:c1])
        metrics = R.score(fourier_shift(win, shift), truth, window, register=False)
        return {**R.headline(metrics), "shift": [float(v) for v in shift]}
    metrics = R.score(win, truth, window, register=bool(register))
    return {**R.headline(metrics), "shift": [float(v) for v in metrics.get("registration_shift", (0.0, 0.0))]}


def scored(obj: np.ndarray, origin: np.ndarray, truth: np.ndarray, window: tuple[int, int, int, int]) -> dict:
    """Amplitude-registered scores with the phase-registered ones under 'phase_reg'."""
    return {**scores(obj, origin, truth, window), "phase_reg": scores(obj, origin, truth, window, "phase")}


def library_stitch(test_npz: Path, patches_by_point: np.ndarray, config: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stitch given per-scan-point patches the way ``ptycho infer`` stitches a network's: the test container
    (``PtychoDataContainerTorch.from_raw_data``) gives the groups and offsets, ``stitch_patches`` (bilinear,
    M = 20) the canvas and ``canvas_origin`` its origin_xy. Returns (canvas (H, W) complex64, origin_xy)."""
    import torch

    from ptycho.raw_data import RawData
    from ptycho_torch.data import PtychoDataContainerTorch
    from ptycho_torch.stitching import canvas_origin, stitch_patches

    raw = RawData.from_file(test_npz)
    # every test position once, as ptycho infer groups a scan (build_inference_config: n_groups = all)
    container = PtychoDataContainerTorch.from_raw_data(raw, config, n_groups=len(raw.xcoords))
    point = container.nn_indices[:, 0].numpy()
    canvas, offsets = stitch_patches(torch.from_numpy(np.ascontiguousarray(patches_by_point[point])),
                                     container.global_offsets, M_STITCH)
    canvas = canvas.numpy()
    return canvas, canvas_origin(offsets.numpy(), canvas.shape[0], M_STITCH)
