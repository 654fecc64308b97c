"""The generator's input from the scan's refined object (specs/network.md §8.3).

With ``ModelConfig.input_refine_passes`` = R > 0 the estimate the CNN corrects (specs/network.md §8) is not
computed from each pattern or group alone but from the whole scan: R maximum-likelihood refinement passes
(:func:`ptycho_torch.refine.refine`, its defaults, from a flat start, with the scan's probe and positions), cut
at every pattern's position (the band-limited cut of the teacher's labels), its phase centred
(:func:`ptycho_torch.teacher.labels.recentre_phase`) and its amplitude put in the network's units by the
least-squares factor of :func:`ptycho_torch.teacher.labels.calibrate_amplitude`. Training and inference compute it
the same way from the scan they are given; nothing of the truth enters.

Why: every pattern of a scan constrains the object where the probes overlap, and a few passes over all of them
already give most of it (a Siemens star after 3 passes: amplitude / phase SSIM 0.67 / 0.74, where the group
projections of four patterns reach 0.44 / -0.03 in ten times the time; benchmarks/RESULTS.md "The network on the
refined scan"). The CNN learns what those passes still miss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ptycho.config.config import effective_seed
from ptycho.metrics import fourier_shift

__all__ = ["RefinedEstimate", "attach_refined_estimate", "ensure_refined_estimate", "place_on_grid", "rotate_phase"]


@dataclass
class RefinedEstimate:
    """What :func:`attach_refined_estimate` computed: ``object`` (H, W) complex64, the refined canvas in the
    network's frame (phase centred, amplitude calibrated, as the estimate patches); ``origin_xy`` [x, y] its pixel
    (0, 0) in object coordinates; ``seconds`` (refinement and cutting); ``phase_offset`` (the constant removed by
    the phase centring, radians); ``amplitude_factor`` (the calibration factor)."""

    object: np.ndarray
    origin_xy: tuple[float, float]
    seconds: float
    phase_offset: float
    amplitude_factor: float


def attach_refined_estimate(container: Any, raw: Any, passes: int, forward_model: torch.nn.Module, *,
                            seed: int = 0, device: str = "cpu") -> RefinedEstimate:
    """Set ``container.estimate`` (n, N, N, C) complex64: each group member's patch of ``raw``'s object refined
    ``passes`` passes, phase centred, amplitude calibrated with ``forward_model`` (the network's, which sees the
    normalised probe and intensity scale); and ``container.refined``, the :class:`RefinedEstimate` with the whole
    canvas in the same frame (inference adds the network's stitched corrections to it).

    Args:
        container: a ``PtychoDataContainerTorch`` grouped from ``raw`` (its ``nn_indices`` index ``raw``'s
            positions).
        raw: the RawData the container was grouped from; its diffraction is read into memory (refinement works
            on the whole scan) when it fits the teacher's memory limit, else ValueError (one line).
        passes: ``ModelConfig.input_refine_passes`` (>= 1).
        forward_model: the module's ``ForwardModel``.
    """
    from ptycho_torch.refine.scan import scan_in_memory
    from ptycho_torch.teacher.labels import calibrate_amplitude, recentre_phase, refine_and_cut

    if not (hasattr(raw, "diff3d") and hasattr(raw, "xcoords")):
        raise ValueError(f"ModelConfig.input_refine_passes: the refined estimate needs the scan as RawData (it "
                         f"refines it), found {type(raw).__name__}")
    t0 = time.perf_counter()
    raw = scan_in_memory(raw, "ModelConfig.input_refine_passes: the refined estimate refines the whole scan in "
                               "memory", "use a model trained with input_refine_passes 0")
    positions = np.stack([np.asarray(raw.xcoords, np.float64), np.asarray(raw.ycoords, np.float64)], 1)
    if int(passes) < 1:
        raise ValueError(f"ModelConfig.input_refine_passes: expected an integer >= 1 here, found {passes!r}")
    patches, result = refine_and_cut(raw.diff3d, positions, raw.probeGuess, passes, seed=seed, device=device)
    patches, offset = recentre_phase(patches)
    nn = container.nn_indices.cpu().numpy()
    if nn.size and (nn.min() < 0 or nn.max() >= patches.shape[0]):
        raise ValueError(f"ModelConfig.input_refine_passes: the container's nn_indices reach {int(nn.max())}, "
                         f"expected indices into the scan's {patches.shape[0]} positions")
    container.estimate = torch.from_numpy(np.ascontiguousarray(patches[nn].transpose(0, 2, 3, 1)))
    k = calibrate_amplitude(forward_model, container, patches=container.estimate)
    container.estimate = container.estimate * k
    frame = np.complex64(k * np.exp(-1j * offset))
    origin = (float(result.origin_xy[0]), float(result.origin_xy[1]))
    container.refined = RefinedEstimate((np.asarray(result.object) * frame).astype(np.complex64), origin,
                                        time.perf_counter() - t0, float(offset), float(k))
    return container.refined


def ensure_refined_estimate(container: Any, data: Any, module: Any, config: Any,
                            execution_config: Any = None) -> RefinedEstimate | None:
    """:func:`attach_refined_estimate` for ``container`` (grouped from ``data``) when the module's model reads
    the refined estimate and the container does not hold it yet; None otherwise. Seed and device as training's
    (``config``'s effective seed, the execution config's device)."""
    from ptycho_torch.workflows.execution import resolve_device

    passes = int(getattr(module.model_config, "input_refine_passes", 0) or 0)
    if not passes or container is None or getattr(container, "estimate", None) is not None:
        return None
    return attach_refined_estimate(container, data, passes, module.forward_model, seed=effective_seed(config),
                                   device=str(resolve_device(execution_config)))


def place_on_grid(obj: np.ndarray, origin_xy: tuple[float, float], grid_origin_xy: np.ndarray,
                  shape: tuple[int, int]) -> torch.Tensor:
    """(H, W) complex64: ``obj`` (its pixel (0, 0) at object coordinates ``origin_xy`` [x, y]) sampled on the grid
    of ``shape`` whose pixel (0, 0) sits at ``grid_origin_xy`` (fractional): the sub-pixel part by a Fourier
    shift (band-limited, no bilinear blur), the whole pixels by indexing; 0 where ``obj`` has no pixel."""
    h, w = (int(v) for v in shape)
    d = np.asarray(grid_origin_xy, np.float64) - np.asarray(origin_xy, np.float64)  # grid (0, 0) in obj pixels
    whole = np.floor(d).astype(np.int64)
    fx, fy = d - whole
    shifted = fourier_shift(obj, (-fy, -fx)) if (fx or fy) else obj  # shifted[r, c] = obj(r + fy, c + fx)
    t = torch.from_numpy(np.asarray(shifted, np.complex64))
    out = torch.zeros((h, w), dtype=torch.complex64)
    r0, c0 = int(whole[1]), int(whole[0])
    rs, re_ = max(r0, 0), min(r0 + h, t.shape[0])
    cs, ce = max(c0, 0), min(c0 + w, t.shape[1])
    if rs < re_ and cs < ce:
        out[rs - r0:re_ - r0, cs - c0:ce - c0] = t[rs:re_, cs:ce]
    return out


def rotate_phase(t: torch.Tensor, angle: float) -> torch.Tensor:
    """``t`` (complex) times exp(i·angle) (radians), in ``t``'s dtype: the teacher's labels moved into the
    estimate's phase frame."""
    return t * torch.polar(torch.ones((), dtype=torch.float64), torch.tensor(float(angle), dtype=torch.float64)).to(t.dtype)
