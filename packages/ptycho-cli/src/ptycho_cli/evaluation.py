"""``ptycho evaluate``: load a reconstruction and its ground truth, put them on one grid, score, plot.

Normative text: specs/cli.md §5. This module is the command's own part: reading the files (one-line
``UserError`` naming file, key, expected and found), writing ``metrics.json`` and ``comparison.png``. The
placement on the ground truth's grid and the scoring are library code, ``ptycho.metrics.placement``
(coverage window, origin or template-match placement, ``ptycho.metrics.evaluate``); its ValueErrors are
reported by the command like any user error (one line, exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.metrics.placement import evaluate_arrays
from ptycho_cli.errors import UserError

__all__ = [
    "load_reconstruction",
    "load_ground_truth",
    "load_scan_positions",
    "evaluate_files",
    "figure_title",
]


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
