"""``ptycho evaluate``: load a reconstruction and its ground truth, put them on one grid, score, plot.

Normative text: specs/cli.md §5. The stitched reconstruction covers only the scanned part of the object
and is centred on the scan's mean position, so before any metric it is *placed* on the ground truth:

1. Coverage: the window is the largest rectangle of pixels that are covered (stitching leaves exact zeros
   where no patch landed) and, when the scan's positions and the canvas origin are known, inside the scanned
   region (``ptycho.metrics.scanned_mask``: a refinement canvas holds values outside it that no measurement
   constrained). SSIM, PSNR and FRC are all computed on this one window, so they describe the same pixels.
2. Placement: if the reconstruction file records ``origin_xy`` (object coordinates (x, y) of its pixel
   (0, 0), written by ``ptycho infer``/``demo``), the ground-truth window starts at the rounded origin;
   otherwise the window maximising the normalised cross-correlation of the amplitudes is searched
   (``skimage.feature.match_template``).
3. Metrics: ``ptycho.metrics.evaluate`` on the two windows: sub-pixel registration (default on;
   ``--no-register`` skips it), 2-pixel border crop, amplitude scaled by one global factor, phase plane-
   or mean-aligned; MAE, MSE, PSNR, SSIM, MS-SSIM, FRC (specs/metrics.md). The comparison figure shows
   the same registered, cropped pair.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ptycho_cli.errors import UserError

__all__ = [
    "load_reconstruction",
    "load_ground_truth",
    "load_scan_positions",
    "covered_box",
    "place_on_ground_truth",
    "evaluate_files",
    "evaluate_arrays",
    "figure_title",
    "REGISTRATION_BORDER",
]

#: Pixels cropped from every side after registration (``ptycho.metrics.evaluate`` border_crop).
REGISTRATION_BORDER = 2


def _read_any(path: str | os.PathLike[str], what: str) -> dict[str, np.ndarray]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{what} {p}: expected an existing .npz or .npy file, found {'a directory' if p.is_dir() else 'no such file'}")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any read failure is the file's fault
            raise UserError(f"{what} {p}: expected a readable .npy array, found {type(exc).__name__}: {exc}") from None
        return {"__array__": arr}
    from ptycho.data_contract import read_npz

    return read_npz(p)


def _complex_2d(arr: Any, what: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2 or min(a.shape) < 8:
        raise UserError(f"{what}: expected a 2-D image of at least 8x8 pixels, found shape {a.shape}")
    if a.dtype.kind not in "iufc":
        raise UserError(f"{what}: expected numbers, found dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise UserError(f"{what}: expected finite values, found NaN or inf")
    return a.astype(np.complex128)


def load_reconstruction(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a reconstruction -> (complex (H, W) complex128, origin_xy (2,) float64 or None).

    Accepted: ``.npy`` complex 2-D; ``.npz`` with ``reconstruction`` (or ``stitched_obj``/``obj``) complex
    2-D (``object`` as written by ``python -m ptycho_torch.inference``), or ``amplitude`` + ``phase`` (radians) 2-D; optional ``origin_xy`` [x, y] in object pixels.
    """
    arrays = _read_any(path, "reconstruction")
    where = f"reconstruction {path}"
    for key in ("__array__", "reconstruction", "object", "stitched_obj", "obj"):
        if key in arrays:
            img = _complex_2d(arrays[key], where if key == "__array__" else f"{where}: key '{key}'")
            break
    else:
        if "amplitude" in arrays and "phase" in arrays:
            amp = _complex_2d(arrays["amplitude"], f"{where}: key 'amplitude'").real
            ph = _complex_2d(arrays["phase"], f"{where}: key 'phase'").real
            if amp.shape != ph.shape:
                raise UserError(f"{where}: key 'phase': expected the amplitude's shape {amp.shape}, found {ph.shape}")
            img = amp * np.exp(1j * ph)
        else:
            raise UserError(
                f"{where}: expected key 'reconstruction' (complex) or 'amplitude'+'phase', found keys {sorted(arrays)}"
            )
    origin = None
    if "origin_xy" in arrays:
        o = np.asarray(arrays["origin_xy"], dtype=np.float64).reshape(-1)
        if o.shape != (2,) or not np.all(np.isfinite(o)):
            raise UserError(f"{where}: key 'origin_xy': expected 2 finite numbers [x, y], found {arrays['origin_xy']!r}")
        origin = o
    return img, origin


def load_ground_truth(path: str | os.PathLike[str]) -> np.ndarray:
    """Read the ground-truth object -> complex (H, W) complex128.

    Accepted: ``.npy`` 2-D; ``.npz`` with ``objectGuess`` (a scan written by ``ptycho simulate``) or
    ``ground_truth`` / ``object``.
    """
    arrays = _read_any(path, "ground truth")
    for key in ("__array__", "objectGuess", "ground_truth", "object"):
        if key in arrays:
            label = f"ground truth {path}" + ("" if key == "__array__" else f": key '{key}'")
            return _complex_2d(arrays[key], label)
    raise UserError(f"ground truth {path}: expected key 'objectGuess' (or 'ground_truth'), found keys {sorted(arrays)}")


def load_scan_positions(path: str | os.PathLike[str]) -> np.ndarray | None:
    """(K, 2) scan positions [x, y] of a ground-truth file that is a scan (``xcoords`` and ``ycoords``, as
    ``ptycho simulate`` writes); None for a bare object."""
    arrays = _read_any(path, "ground truth")
    if "xcoords" not in arrays or "ycoords" not in arrays:
        return None
    xs, ys = np.asarray(arrays["xcoords"], np.float64).reshape(-1), np.asarray(arrays["ycoords"], np.float64).reshape(-1)
    if xs.shape != ys.shape or not xs.size or not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise UserError(f"ground truth {path}: keys 'xcoords', 'ycoords': expected equal-length finite positions, "
                        f"found shapes {xs.shape} and {ys.shape}")
    return np.stack([xs, ys], axis=1)


def covered_box(image: np.ndarray) -> tuple[int, int, int, int]:
    """Largest axis-aligned rectangle with no uncovered (exactly zero) pixel -> (r0, r1, c0, c1), half-open.

    Classic maximal-rectangle search (per-row histogram of covered run lengths + monotonic stack),
    O(H*W). Ties keep the first rectangle found scanning rows top-down. Raises UserError if no pixel is
    covered.
    """
    covered = np.asarray(image) != 0
    h, w = covered.shape
    heights = np.zeros(w + 1, dtype=np.int64)  # sentinel column of height 0
    best = (0, 0, 0, 0, 0)  # area, r0, r1, c0, c1
    for r in range(h):
        heights[:w] = np.where(covered[r], heights[:w] + 1, 0)
        stack: list[int] = []
        for c in range(w + 1):
            while stack and heights[stack[-1]] >= heights[c]:
                top = stack.pop()
                height = int(heights[top])
                left = stack[-1] + 1 if stack else 0
                area = height * (c - left)
                if area > best[0]:
                    best = (area, r - height + 1, r + 1, left, c)
            stack.append(c)
    if best[0] == 0:
        raise UserError("reconstruction: expected a covered (non-zero) region, found an all-zero image")
    return best[1], best[2], best[3], best[4]


def place_on_ground_truth(recon: np.ndarray, gt: np.ndarray, origin_xy: np.ndarray | None = None,
                          positions: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Cut matching windows of reconstruction and ground truth (module docstring, steps 1-2).

    Args:
        recon: (h, w) complex reconstruction canvas.
        gt: (H, W) complex ground-truth object, H >= h', W >= w' after coverage trimming.
        origin_xy: object coordinates [x, y] of ``recon[0, 0]``, or None to search.
        positions: (K, 2) scan positions [x, y] (object pixels) or None; with ``origin_xy`` the window stays
            inside the scanned region.
    Returns:
        (recon window, gt window) complex128 of equal shape, and info: 'box' (r0, r1, c0, c1) in the
        reconstruction, 'gt_offset' (row, col) of the window in the ground truth, 'placement'
        ('origin' or 'search'), 'scanned_region' (whether the window was limited to it).
    """
    covered = np.asarray(recon) != 0
    limited = positions is not None and origin_xy is not None
    if limited:
        from ptycho.metrics import scanned_mask

        covered &= scanned_mask(positions, covered.shape, origin_xy)
    r0, r1, c0, c1 = covered_box(covered)
    win = recon[r0:r1, c0:c1]
    h, w = win.shape
    H, W = gt.shape
    if h > H or w > W:
        raise UserError(f"reconstruction: expected a covered region no larger than the ground truth {gt.shape}, found {win.shape}")
    if origin_xy is not None:
        gr = int(round(float(origin_xy[1]) + r0))
        gc = int(round(float(origin_xy[0]) + c0))
        # clip the window to the object (a canvas may reach past the object's edge)
        top, left = max(0, -gr), max(0, -gc)
        bottom, right = max(0, gr + h - H), max(0, gc + w - W)
        if top + bottom >= h or left + right >= w:
            raise UserError(f"reconstruction: origin_xy {list(origin_xy)} places it outside the ground truth {gt.shape}")
        win = win[top:h - bottom, left:w - right]
        gr, gc = gr + top, gc + left
        h, w = win.shape
        placement = "origin"
    else:
        from skimage.feature import match_template

        score = match_template(np.abs(gt), np.abs(win))
        gr, gc = (int(v) for v in np.unravel_index(int(np.argmax(score)), score.shape))
        placement = "search"
    target = gt[gr:gr + h, gc:gc + w]
    if min(win.shape) < 7 + 2 * REGISTRATION_BORDER:
        raise UserError(f"reconstruction: expected a covered region of at least {7 + 2 * REGISTRATION_BORDER} pixels "
                        f"per side, found {win.shape}")
    info = {"box": [r0, r1, c0, c1], "gt_offset": [gr, gc], "placement": placement, "scanned_region": limited}
    return np.asarray(win, np.complex128), np.asarray(target, np.complex128), info


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if np.isfinite(v) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def evaluate_arrays(recon: np.ndarray, gt: np.ndarray, origin_xy: np.ndarray | None = None, *,
                    register: bool = True, phase_align: str = "plane",
                    positions: np.ndarray | None = None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Place, align and score (``positions``: the scan's (K, 2) [x, y], to keep the window in the scanned
    region; see :func:`place_on_ground_truth`).

    Returns:
        (JSON-ready metrics dict of ``ptycho.metrics.evaluate`` plus 'placement', the registered and
        border-cropped reconstruction window, the matching ground-truth window), windows complex128.
    """
    from ptycho.metrics import crop_border, evaluate, fourier_shift

    win, target, info = place_on_ground_truth(recon, gt, origin_xy, positions)
    result = evaluate(win, target, phase_align=phase_align, register=register, border_crop=REGISTRATION_BORDER)
    metrics = _jsonable(dict(result))
    metrics["placement"] = info
    shift = result.get("registration_shift", [0.0, 0.0])
    shown = fourier_shift(win, (float(shift[0]), float(shift[1]))) if register else win
    return metrics, crop_border(shown, REGISTRATION_BORDER), crop_border(target, REGISTRATION_BORDER)


def figure_title(reconstruction: str | os.PathLike[str]) -> str:
    """What the comparison figure of ``reconstruction`` shows, from the output convention of ``ptycho infer``
    (specs/cli.md §4): ``network_object.npz`` is the network alone; a ``reconstructed_object.npz`` with one beside
    it is the refined final answer; anything else is named by its file."""
    path = Path(reconstruction)
    if path.name == "network_object.npz":
        return f"The network alone ({path.parent.name}/{path.name}) vs ground truth"
    if path.name == "reconstructed_object.npz" and (path.parent / "network_object.npz").is_file():
        return f"The network + refinement, the final answer ({path.parent.name}/{path.name}) vs ground truth"
    return f"{path.parent.name}/{path.name} vs ground truth" if path.parent.name else f"{path.name} vs ground truth"


def evaluate_files(reconstruction: str | os.PathLike[str], ground_truth: str | os.PathLike[str],
                   output_dir: str | os.PathLike[str], *, register: bool = True,
                   phase_align: str = "plane") -> dict[str, Any]:
    """The whole ``ptycho evaluate``: writes ``metrics.json`` and ``comparison.png`` in ``output_dir``.

    Returns the metrics dict (also written); 'files' names the outputs.
    """
    from ptycho.atomic_io import save_json_atomic
    from ptycho_cli.figures import plot_comparison

    recon, origin = load_reconstruction(reconstruction)
    gt = load_ground_truth(ground_truth)
    metrics, win, target = evaluate_arrays(recon, gt, origin, register=register, phase_align=phase_align,
                                           positions=load_scan_positions(ground_truth))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics["inputs"] = {"reconstruction": str(reconstruction), "ground_truth": str(ground_truth)}
    figure = out / "comparison.png"
    plot_comparison(win, target, figure, frc_curve=metrics.get("frc_curve"), metrics=metrics,
                    title=figure_title(reconstruction))
    metrics["files"] = {"metrics": str(out / "metrics.json"), "comparison": str(figure)}
    save_json_atomic(out / "metrics.json", metrics)
    return metrics
