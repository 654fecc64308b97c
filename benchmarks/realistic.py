"""Shared pieces of the realistic-scan benchmarks (reconstruction quality, refinement).

A *realistic scan* (issue 14): an object with amplitude and phase (Siemens star or a natural-image
texture), a probe with phase structure (defocused zone plate or Fresnel-propagated aperture), ~2000
positions on a jittered Fermat spiral, 1e6 photons per pattern with Poisson noise, patches cut with
band-limited (Fourier) sub-pixel shifts. The scan is split spatially: the network trains on one half
and reconstructs the other, unseen half, which is scored against the ground truth on the largest
rectangle of object pixels that the test half covers.

API (all positions are object pixels, x = column, y = row; patches are (P, N, N)):

* :func:`prepare` -> :class:`Case` -- all of the following at once (scan, split, files, window);
* :class:`ScanSpec`, :func:`simulate_scan` -- the scan (``ptycho.simulation.simulate`` arrays);
* :func:`split_scan` -- (train, test) index arrays: ``y < centre`` / the rest;
* :func:`write_half`, :func:`write_truth` -- contract NPZ files for ``ptycho train``/``ptycho infer``
  (no ground truth in them) and a separate truth file;
* :func:`stitch` -- ``ptycho.physics.reassemble_position`` plus the object coordinates of the canvas;
* :func:`scoring_window`, :func:`window_of`, :func:`score` -- the scoring window and
  ``ptycho.metrics.evaluate`` on it; :func:`headline` picks SSIM / PSNR / FRC50;
* :func:`network_patches` -- one predicted patch per test position from a trained PyTorch bundle;
* :func:`import_ptychi`, :class:`PtychiRun` -- the pty-chi LSQML anchor (true probe, true positions);
  :func:`ptychi_forward_check` -- pty-chi's forward model on the true object against our diffraction;
* :func:`matmul_rate` -- float32 matmul FLOP/s measured in this process (to express timings in units
  of the machine's speed).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Case", "prepare", "ScanSpec", "BENCHMARK_SCANS", "simulate_scan", "split_scan", "subset", "write_half",
           "write_truth", "stitch", "scoring_window", "window_of", "score", "headline", "network_patches",
           "import_ptychi", "PtychiRun", "ptychi_forward_check", "matmul_rate"]

# keys of a simulated scan that carry one entry per scan position
_PER_POSITION = ("diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "Y")


@dataclasses.dataclass(frozen=True)
class ScanSpec:
    """Parameters of a realistic scan (arguments of ``ptycho.simulation.simulate``).

    ``interpolation`` is the measurement model (specs/simulation.md §6): 'finegrid' (neutral, the default
    since issue 32), or a solver's own model ('fourier' = object shift, 'probe' = probe shift) for the
    own-model swing rows.
    """

    object_kind: str = "siemens"
    N: int = 64
    n_positions: int = 2000
    nphotons: float = 1e6
    probe_kind: str = "zoneplate"
    jitter: float = 1.0
    object_size: int = 384
    seed: int = 1
    scan: str = "fermat"
    interpolation: str = "finegrid"

    @property
    def label(self) -> str:
        """Short name: object / probe / scan (and the model when not neutral)."""
        scan = {"fermat": "spiral", "grid": "raster"}.get(self.scan, self.scan)
        model = "" if self.interpolation == "finegrid" else f" [{self.interpolation}]"
        return f"{self.object_kind}/{self.probe_kind}/{scan}{model}"


#: The benchmark scans every method is judged on (issues 24, 32): three probe families, three objects,
#: two scan patterns, all simulated with the neutral model. The first is the Siemens scan of the earlier
#: sections, simulated neutrally.
BENCHMARK_SCANS = (
    ScanSpec("siemens", probe_kind="zoneplate", scan="fermat", seed=1),
    ScanSpec("natural", probe_kind="fresnel", scan="grid", seed=2),
    ScanSpec("grf", probe_kind="phasescreen", scan="fermat", seed=3),
)


def simulate_scan(spec: ScanSpec) -> dict[str, np.ndarray]:
    """Simulate ``spec`` with its measurement model (default: the neutral 'finegrid' model).

    Returns the ``ptycho.simulation.simulate`` dict: ``diffraction`` (M, N, N) float32 amplitudes
    (counts = (diffraction * sim_intensity_scale)^2), ``xcoords``/``ycoords`` (M,), ``probeGuess``
    (N, N), ``objectGuess`` (S, S) ground truth, ``Y`` (M, N, N) true patches, metadata.
    """
    from ptycho.simulation import simulate

    return simulate(
        object_kind=spec.object_kind, N=spec.N, n_positions=spec.n_positions, nphotons=spec.nphotons,
        probe_kind=spec.probe_kind, jitter=spec.jitter, object_size=spec.object_size, seed=spec.seed,
        scan=spec.scan, interpolation=spec.interpolation,
    )


def split_scan(scan: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Spatial half split: (train, test) int64 index arrays; train = ``y < centre``, test = the rest.

    ``centre`` = half the object height (the spiral's centre), so the halves do not share positions
    and the test half's object region is mostly unseen in training (their N x N footprints overlap in
    a band of about N pixels along the cut).
    """
    centre = scan["objectGuess"].shape[0] / 2.0
    y = np.asarray(scan["ycoords"])
    return np.flatnonzero(y < centre), np.flatnonzero(y >= centre)


def subset(scan: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """The scan restricted to ``index`` (per-position arrays sliced, the rest shared)."""
    return {k: (v[index] if k in _PER_POSITION else v) for k, v in scan.items()}


def write_half(path: str | Path, scan: dict[str, np.ndarray], index: np.ndarray, name: str) -> Path:
    """Write the positions ``index`` of ``scan`` as a contract NPZ for the ``ptycho`` CLI (atomic).

    Holds what an experiment measures -- ``diffraction``, positions, ``scan_index``, ``probeGuess``
    -- plus ``_metadata`` (the simulation's, with ``split`` = ``name``); no ``objectGuess``/``Y``:
    training and inference never see the ground truth. Checked with ``validate_arrays`` first.
    """
    from ptycho.atomic_io import save_npz_atomic
    from ptycho.data_contract import validate_arrays

    keep = ("diffraction", "xcoords", "ycoords", "xcoords_start", "ycoords_start", "scan_index", "probeGuess")
    arrays = {k: scan[k][index] if k in _PER_POSITION else scan[k] for k in keep}
    meta = json.loads(str(scan["_metadata"]))
    meta["split"] = {"name": name, "n_positions": int(len(index))}
    arrays["_metadata"] = np.array(json.dumps(meta, sort_keys=True))
    target = Path(path)
    validate_arrays(arrays, source=str(target))
    save_npz_atomic(target, **arrays)
    return target


def write_truth(path: str | Path, scan: dict[str, np.ndarray], index: np.ndarray) -> Path:
    """Ground truth for scoring: ``objectGuess``, the true patches ``Y`` and positions of ``index``."""
    from ptycho.atomic_io import save_npz_atomic

    target = Path(path)
    save_npz_atomic(target, objectGuess=scan["objectGuess"], Y=scan["Y"][index],
                    xcoords=scan["xcoords"][index], ycoords=scan["ycoords"][index])
    return target


@dataclasses.dataclass
class Case:
    """One prepared benchmark case (see :func:`prepare`).

    ``scan``: the simulated arrays; ``train``/``test``: index arrays; ``test_positions`` (P, 2) [x, y];
    ``window`` (r0, r1, c0, c1): the scoring window in object pixels; ``files``: 'train', 'test',
    'truth' NPZ paths (None when not written).
    """

    spec: ScanSpec
    scan: dict[str, np.ndarray]
    train: np.ndarray
    test: np.ndarray
    test_positions: np.ndarray
    window: tuple[int, int, int, int]
    files: dict[str, Path | None]

    @property
    def truth(self) -> np.ndarray:
        """(H, W) complex64 ground-truth object."""
        return self.scan["objectGuess"]


def prepare(spec: ScanSpec, folder: str | Path | None = None, M: int = 20) -> Case:
    """Simulate ``spec``, split it, compute the scoring window (crop side ``M``) and, when ``folder``
    is given, write ``train.npz`` / ``test.npz`` (no ground truth) and ``truth.npz`` there."""
    scan = simulate_scan(spec)
    train, test = split_scan(scan)
    pos = np.stack([scan["xcoords"][test], scan["ycoords"][test]], axis=1)
    files: dict[str, Path | None] = {"train": None, "test": None, "truth": None}
    if folder is not None:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        files = {"train": write_half(out / "train.npz", scan, train, "train"),
                 "test": write_half(out / "test.npz", scan, test, "test"),
                 "truth": write_truth(out / "truth.npz", scan, test)}
    return Case(spec, scan, train, test, pos, scoring_window(pos, scan["objectGuess"].shape, M=M), files)


def _positions(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    pos = np.asarray(x, dtype=np.float64)
    if y is not None:
        pos = np.stack([pos, np.asarray(y, dtype=np.float64)], axis=1)
    return pos.reshape(-1, 2)


def stitch(patches: np.ndarray, positions: np.ndarray, M: int = 20,
           interpolation: str = "fourier") -> tuple[np.ndarray, np.ndarray]:
    """Stitch (P, N, N) patches at positions (P, 2) [x, y] -> (canvas (H, W), origin_xy (2,)).

    ``origin_xy`` = object coordinates [x, y] of canvas pixel (0, 0) under the stitcher's canvas
    convention (specs/physics.md §6, §6.2): the centring point (mean offset for 'bilinear', rounded
    mean for 'fourier') sits at canvas index ``pad + M//2``. It is an integer for 'fourier'.
    """
    from ptycho.physics import reassemble_position

    pos = _positions(positions)
    canvas = reassemble_position(np.asarray(patches), pos, M=int(M), interpolation=interpolation)
    centre = pos.mean(axis=0)
    if interpolation == "fourier":
        centre = np.floor(centre + 0.5)
    pad = (canvas.shape[0] - int(M)) // 2
    return canvas, centre - (pad + int(M) // 2)


def scoring_window(positions: np.ndarray, object_shape: Sequence[int], M: int = 20,
                   margin: int = 2) -> tuple[int, int, int, int]:
    """Largest axis-aligned rectangle of object pixels covered by every test position's M x M crop.

    A pixel is covered when it lies in the central M x M window (rows ``round(y) - M//2`` ...) of at
    least one position; the rectangle is the largest-area all-covered one (histogram/stack search),
    shrunk by ``margin`` pixels per side (sub-pixel positions). Returns ``(r0, r1, c0, c1)``,
    half-open, in object pixels. Every method is scored on this same window.
    """
    h, w = int(object_shape[0]), int(object_shape[1])
    cov = np.zeros((h, w), dtype=bool)
    for x, y in np.floor(_positions(positions) + 0.5).astype(int):
        r, c = y - M // 2, x - M // 2
        cov[max(r, 0) : max(r + M, 0), max(c, 0) : max(c + M, 0)] = True
    heights = np.zeros(w, dtype=int)
    best, box = 0, (0, 0, 0, 0)
    for row in range(h):
        heights = np.where(cov[row], heights + 1, 0)
        stack: list[int] = []
        for col in range(w + 1):
            cur = heights[col] if col < w else 0
            while stack and heights[stack[-1]] >= cur:
                top = stack.pop()
                left = stack[-1] + 1 if stack else 0
                area = int(heights[top]) * (col - left)
                if area > best:
                    best, box = area, (row - int(heights[top]) + 1, row + 1, left, col)
            stack.append(col)
    r0, r1, c0, c1 = box
    if min(r1 - r0, c1 - c0) <= 2 * margin + 7:
        raise ValueError(f"scoring_window: covered rectangle {box} too small for margin {margin}")
    return r0 + margin, r1 - margin, c0 + margin, c1 - margin


def window_of(canvas: np.ndarray, origin_xy: Sequence[float], window: tuple[int, int, int, int]) -> np.ndarray:
    """The object-pixel window ``(r0, r1, c0, c1)`` cut out of a canvas whose pixel (0, 0) is at
    object ``origin_xy`` [x, y] (rounded to whole pixels; registration in :func:`score` takes the rest).
    Pixels outside the canvas are 0."""
    r0, r1, c0, c1 = window
    ox, oy = (int(np.floor(v + 0.5)) for v in origin_xy)
    out = np.zeros((r1 - r0, c1 - c0), dtype=np.result_type(canvas.dtype, np.complex64))
    rr0, cc0 = r0 - oy, c0 - ox
    src = canvas[max(rr0, 0) : max(rr0 + r1 - r0, 0), max(cc0, 0) : max(cc0 + c1 - c0, 0)]
    out[max(-rr0, 0) : max(-rr0, 0) + src.shape[0], max(-cc0, 0) : max(-cc0, 0) + src.shape[1]] = src
    return out


def score(recon_window: np.ndarray, truth: np.ndarray, window: tuple[int, int, int, int],
          register: bool = True) -> dict[str, Any]:
    """``ptycho.metrics.evaluate`` (registered, plane phase alignment, border 2) of a window of
    ``truth``; ``register=False`` for a flat image (nothing to register)."""
    from ptycho.metrics import evaluate

    r0, r1, c0, c1 = window
    return evaluate(recon_window, truth[r0:r1, c0:c1], phase_align="plane", register=register, border_crop=2)


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """{amp,phase}_{ssim, psnr, frc50} from an ``evaluate`` dict.

    ``frc50`` is evaluate's first 0.5 crossing from ring 2 on (specs/metrics.md §4.2): on these rectangular,
    non-periodic windows rings 0 and 1 carry distorted signal -- ring 0 after the amplitude scale fit and phase
    plane removal, ring 1 after the registration's periodic Fourier shift (e.g. true patches, bilinear stitch,
    Siemens quick scan: amplitude FRC 1.00, 0.07, 0.78, 0.99, ... by ring). Read it together with SSIM/PSNR;
    the curves are in ``metrics['frc_curve']``.
    """
    out = {}
    for part, key in (("amplitude", "amp"), ("phase", "phase")):
        for m in ("ssim", "psnr", "frc50"):
            out[f"{key}_{m}"] = float(metrics[part][m])
    return out


def network_patches(model_dir: str | Path, test_npz: str | Path, M: int = 20,
                    batch_size: int = 64, estimate_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Reconstruct a scan with a trained PyTorch bundle (``ptycho train --backend pytorch`` output).

    Uses the inference path of ``ptycho infer`` (``load_inference_bundle_torch``,
    ``ptycho_torch.workflows.inference_config.build_inference_config``, ``_reassemble_cdi_image_torch``) but
    returns what it stitches:
    (patches (P, N, N) complex64, offsets (P, 2) float64 [x, y]): one per group at gridsize 1, every member at its
    own position at gridsize > 1 (specs/torch-workflow.md §6), for a stitch with either interpolation. ``estimate_only``: the bundle's
    projected generator with its correction heads zeroed (``correction_heads.zero_correction_heads``), i.e. the physics
    estimate the CNN corrects, through the same path; ``correction_heads.NoProjectedInput`` for a bundle without projected input.
    """
    from ptycho.raw_data import RawData
    from ptycho_torch.workflows.components import _reassemble_cdi_image_torch, load_inference_bundle_torch
    from ptycho_torch.workflows.inference_config import build_inference_config

    models, training_config = load_inference_bundle_torch(model_dir)
    from correction_heads import NoProjectedInput, zero_correction_heads

    if estimate_only and not zero_correction_heads(models):
        raise NoProjectedInput(f"network_patches: {model_dir}: expected a bundle with input_projections > 0")
    config = build_inference_config(training_config, Path(model_dir), Path(test_npz), Path(model_dir) / "infer", None)
    execution = types.SimpleNamespace(inference_batch_size=int(batch_size), num_workers=0, accelerator="cpu")
    _, _, res = _reassemble_cdi_image_torch(RawData.from_file(str(test_npz)), config, M=M, models=models,
                                            execution_config=execution)
    return res["obj_tensor_full"][..., 0], res["global_offsets"].reshape(-1, 2)


def matmul_rate(threads: int | None = None) -> float:
    """float32 FLOP/s of a 1024^3 ``torch.mm`` in this process (the reference rate every benchmark reports against)."""
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    reps, t = 10, time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * 1024**3 * reps / (time.perf_counter() - t)


# ------------------------------------------------------------------------------------------ pty-chi


def import_ptychi() -> types.ModuleType:
    """Import ``ptychi`` (optional: ``pip install -c constraints.txt -r benchmarks/requirements.txt``
    then ``pip install -c constraints.txt --no-deps ptychi==2.2.0``).

    pty-chi imports ``torchvision.transforms.GaussianBlur`` at module level (ptychi/utils.py) and uses
    it only in a helper that makes random test images; reconstruction never calls it. The torchvision
    wheel reachable here is a CUDA build that fails to import beside our CPU torch (and installing it
    could replace torch), so unless a working torchvision is importable we put a stub module in
    ``sys.modules`` whose ``GaussianBlur`` raises if anything ever calls it.
    """
    try:
        import torchvision.transforms  # noqa: F401
    except Exception:  # missing, or the CUDA build failing beside the CPU torch
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]

        class GaussianBlur:  # pragma: no cover - never called by reconstruction
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                raise RuntimeError("torchvision stub (benchmarks/realistic.py): GaussianBlur is not available")

        tv = types.ModuleType("torchvision")
        tr = types.ModuleType("torchvision.transforms")
        tr.GaussianBlur = GaussianBlur  # type: ignore[attr-defined]
        tv.transforms = tr  # type: ignore[attr-defined]
        sys.modules["torchvision"] = tv
        sys.modules["torchvision.transforms"] = tr
    import ptychi

    return ptychi


class PtychiRun:
    """pty-chi LSQML on one scan with the true probe and true positions (fixed), object from ones.

    ``batch_size`` and ``momentum`` (``momentum_acceleration_gain``) are the settings the benchmarks sweep.

    Conventions (checked by :func:`ptychi_forward_check`): pty-chi's data are intensities with the DC
    term at the corner (``fft_shift=True`` moves our centred patterns there) and its far field is an
    unnormalised ``fft2``; our counts are ``(s A)^2`` with ``A = |fftshift(fft2(P O, norm='ortho'))|``
    and ``s = sim_intensity_scale``. So the data are ``(diffraction * s)^2`` and the probe is
    ``probeGuess * s / N`` (``(n_opr_modes, n_modes, N, N) = (1, K, N, N)``, K incoherent modes of a
    (K, N, N) probeGuess; ``probe_optimizable`` refines them, orthogonalised by pty-chi's default). pty-chi puts a patch's
    top-left at ``pos + origin - (N-1)/2`` with ``origin = round(H/2) - 0.5``; ours is at
    ``pos - N//2``: so pty-chi positions are ``ours - round(H/2)`` with the object buffer on the
    ground truth's (H, W) grid, and its object array is directly comparable with the truth.
    """

    def __init__(self, scan: dict[str, np.ndarray], index: np.ndarray, object_shape: Sequence[int], *,
                 batch_size: int = 96, seed: int = 0, noise_model: str = "gaussian",
                 probe_optimizable: bool = False, configure: Callable[[Any], None] | None = None,
                 initial_object: np.ndarray | None = None, momentum: float = 0.0) -> None:
        import torch

        ptychi = import_ptychi()
        from ptychi.api import enums
        from ptychi.api.options.lsqml import LSQMLOptions

        torch.set_default_device("cpu")
        h, w = int(object_shape[0]), int(object_shape[1])
        n = int(scan["probeGuess"].shape[-1])  # probeGuess (N, N) or (K, N, N) incoherent modes
        s = float(scan["sim_intensity_scale"])
        data = (scan["diffraction"][index].astype(np.float64) * s) ** 2
        probe = (scan["probeGuess"].astype(np.complex128) * s / n).astype(np.complex64).reshape(1, -1, n, n)
        obj = np.ones((1, h, w), np.complex64) if initial_object is None else initial_object.astype(np.complex64)[None]
        opts = LSQMLOptions()
        opts.data_options.data = data.astype(np.float32)
        opts.data_options.fft_shift = True
        opts.object_options.initial_guess = obj
        opts.object_options.optimizable = True
        opts.object_options.remove_object_probe_ambiguity.enabled = False
        # pty-chi's own default origin (the buffer centre, 'SUPPORT'), stated explicitly: our positions
        # are not zero-centred (a half scan), which makes the 'SUPPORT' mode warn
        opts.object_options.determine_position_origin_coords_by = enums.ObjectPosOriginCoordsMethods.SPECIFIED
        opts.object_options.position_origin_coords = np.array([round(h / 2) - 0.5, round(w / 2) - 0.5])
        opts.probe_options.initial_guess = probe
        opts.probe_options.optimizable = bool(probe_optimizable)  # modes orthogonalised by pty-chi's default
        opts.probe_position_options.position_x_px = scan["xcoords"][index] - round(w / 2)
        opts.probe_position_options.position_y_px = scan["ycoords"][index] - round(h / 2)
        opts.probe_position_options.optimizable = False
        opts.reconstructor_options.batch_size = int(batch_size)
        opts.reconstructor_options.num_epochs = 1
        opts.reconstructor_options.default_device = enums.Devices.CPU
        opts.reconstructor_options.random_seed = int(seed)
        opts.reconstructor_options.rescale_probe_intensity_in_first_epoch = False
        # LSQML's momentum acceleration of the object update (0 = off, pty-chi's default)
        opts.reconstructor_options.momentum_acceleration_gain = float(momentum)
        opts.reconstructor_options.noise_model = {"gaussian": enums.NoiseModels.GAUSSIAN,
                                                  "poisson": enums.NoiseModels.POISSON}[noise_model]
        if configure is not None:  # a benchmark's own settings on top of these (e.g. multi-mode options)
            configure(opts)
        self.ptychi = ptychi
        from ptychi.api.task import PtychographyTask

        self.task = PtychographyTask(opts)
        self.iterations = 0
        self.seconds = 0.0

    def run(self, iterations: int = 1) -> None:
        """Run ``iterations`` more LSQML epochs; wall time accumulates in ``self.seconds``."""
        t = time.perf_counter()
        self.task.run(n_epochs=int(iterations))
        self.seconds += time.perf_counter() - t
        self.iterations += int(iterations)

    def object(self) -> np.ndarray:
        """Current (H, W) complex64 object on the ground truth's grid."""
        return self.task.get_data_to_cpu("object", as_numpy=True)[0]


def _counts(scan: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Noise-free counts ``(s * far_field_amplitude(P * Y))^2`` of positions ``idx`` (ptycho.physics)."""
    from ptycho.physics import far_field_amplitude

    s = float(scan["sim_intensity_scale"])
    return (s * far_field_amplitude(scan["Y"][idx].astype(np.complex128) * scan["probeGuess"][None])) ** 2


def _ptychi_rel_err(scan: dict[str, np.ndarray], idx: np.ndarray) -> float:
    """||pty-chi intensities (true object) - our noise-free counts|| / ||ours|| over positions ``idx``."""
    import torch

    run = PtychiRun(scan, idx, scan["objectGuess"].shape, initial_object=scan["objectGuess"])
    with torch.no_grad():
        pred = run.task.reconstructor.forward_model.forward(torch.arange(len(idx))).cpu().numpy()
    pred = np.fft.fftshift(pred.astype(np.float64), axes=(-2, -1))  # pty-chi predicts with DC at the corner
    ours = _counts(scan, idx)
    return float(np.linalg.norm(pred - ours) / np.linalg.norm(ours))


def ptychi_forward_check(scan: dict[str, np.ndarray], index: np.ndarray, count: int = 64) -> dict[str, float]:
    """pty-chi's forward model with the TRUE object, probe and positions against our counts.

    For the first ``count`` positions of ``index``, pty-chi's predicted intensities (object buffer =
    the true object) are compared with our noise-free counts ``(s * far_field_amplitude(P * Y))^2``
    (``ptycho.physics``, what the simulation computed before the Poisson draw). Returns relative
    errors ``||pred - ours|| / ||ours||``:

    * ``integer_positions``: positions rounded to whole pixels and ``Y`` re-cut there -- tests the
      conventions (intensity scale, FFT norm, fftshift, origin); a slip gives an error of order 1;
    * ``scan_positions``: the scan's own sub-pixel positions. pty-chi's LSQML applies the sub-pixel
      part of a position as a Fourier shift of the *probe* (``apply_subpixel_shifts_on_probe``) while
      our simulator shifts the *object*; with discrete (periodic) shifts these agree only for
      band-limited probe and object, so this figure measures that model difference;
    * ``smooth_probe_scan_positions``: the same as ``scan_positions`` with a Gaussian probe (sigma 6 px)
      in place of the scan's probe: small when the conventions are right, so the ``scan_positions``
      figure comes from the probe's fine structure, not from a sign or origin slip;
    * ``poisson_noise``: the same norm of (noisy counts - noise-free counts), for scale.
    """
    from ptycho.physics import extract_patches

    idx = np.asarray(index)[:count]
    n = int(scan["probeGuess"].shape[0])
    exact = dict(scan)
    exact["xcoords"] = np.floor(scan["xcoords"] + 0.5)
    exact["ycoords"] = np.floor(scan["ycoords"] + 0.5)
    exact["Y"] = scan["Y"].copy()
    exact["Y"][idx] = extract_patches(scan["objectGuess"], np.stack([exact["xcoords"][idx], exact["ycoords"][idx]], 1), n)
    yy, xx = np.mgrid[:n, :n] - n // 2
    smooth = dict(scan)
    smooth["probeGuess"] = (np.exp(-(xx**2 + yy**2) / (2 * 6.0**2)) * np.abs(scan["probeGuess"]).max()).astype(np.complex64)
    ours = _counts(scan, idx)
    noisy = (float(scan["sim_intensity_scale"]) * scan["diffraction"][idx].astype(np.float64)) ** 2
    return {"integer_positions": _ptychi_rel_err(exact, idx),
            "scan_positions": _ptychi_rel_err(scan, idx),
            "smooth_probe_scan_positions": _ptychi_rel_err(smooth, idx),
            "poisson_noise": float(np.linalg.norm(noisy - ours) / np.linalg.norm(ours)),
            "positions": int(len(idx))}
