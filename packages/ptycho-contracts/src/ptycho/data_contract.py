"""The raw NPZ data contract: read a scan file safely and check it, one clear line per problem.

Normative text: specs/data-contract.md. A raw dataset is a set of named arrays (usually an ``.npz``):

| key | shape | dtype out | required | meaning |
|---|---|---|---|---|
| ``diffraction`` | (M, N, N) | float32 | yes | amplitudes sqrt(counts); alias ``diff3d``; counts (integers) are converted with a warning |
| ``xcoords`` | (M,) | float64 | yes | scan x = column, object pixels |
| ``ycoords`` | (M,) | float64 | yes | scan y = row, object pixels |
| ``probeGuess`` | (N, N) or (K, N, N) | complex64 | yes | probe on the object pixel grid; (1, N, N) squeezed; K >= 2 incoherent modes (mixed state), kept |
| ``xcoords_start`` | (M,) | float64 | no | nominal x (default: ``xcoords``); pairs with y |
| ``ycoords_start`` | (M,) | float64 | no | nominal y (default: ``ycoords``) |
| ``scan_index`` | (M,) | int64 | no | scan id per position (default zeros) |
| ``objectGuess`` | (H, W) | complex64 | no | full object, H, W >= N |
| ``Y`` | (M, N, N) | complex64 | no | ground-truth patch per position |
| ``label_amp`` | (M, N, N) | float32 | no | ground-truth amplitude (pairs with label_phase) |
| ``label_phase`` | (M, N, N) | float32 | no | ground-truth phase, radians |
| ``norm_Y_I`` | () | float64 | no | scalar label normalisation |
| ``_metadata`` | () | str | no | JSON object text (never a pickled object) |

N must be 64, 128 or 256. Errors are :class:`ContractError` (a ``ValueError``) with the message
``"<file>: key '<key>': expected <...>, found <...>"`` (file-level problems omit the key part).
Files are read with ``allow_pickle=False`` semantics: an object array is refused by inspecting the
``.npy`` header before any byte of its payload is decoded, so a pickle payload never runs.
"""

from __future__ import annotations

import json
import math
import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ptycho.contract_errors import ContractError
from ptycho.scan_hdf5 import is_hdf5, read_scan_hdf5

__all__ = [
    "ALLOWED_N",
    "MAX_EXPANSION",
    "MAX_PROBE_MODES",
    "MIN_BUDGET_BYTES",
    "ContractError",
    "DiffractionCountsWarning",
    "read_npz",
    "read_scan",
    "validate_arrays",
    "validate_npz",
]

#: Pattern sizes the models support (specs/data-contract.md §3).
ALLOWED_N = (64, 128, 256)
#: Most incoherent probe modes a scan may hold (specs/data-contract.md §2.2); peers use 1-12.
MAX_PROBE_MODES = 32
#: Decoded bytes allowed per byte of file (specs/data-contract.md §6). Deflate can reach ~1030:1
#: on constant data; real scans compress far less, so 256 refuses bombs without refusing data.
MAX_EXPANSION = 256
#: Files whose declared content is below this many bytes are never refused for their ratio.
MIN_BUDGET_BYTES = 64 * 2**20

_OPTIONAL_PER_POSITION = ("xcoords_start", "ycoords_start", "scan_index")


class DiffractionCountsWarning(UserWarning):
    """Diffraction given as detector counts was converted to amplitudes sqrt(counts) (specs/data-contract.md §2.2)."""


# --------------------------------------------------------------------------------------------
# Reading (§6)
# --------------------------------------------------------------------------------------------


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or "no details"
    return f"{type(exc).__name__} ({text[:160]})"


def read_npz(
    path: str | os.PathLike[str],
    max_expansion: float = MAX_EXPANSION,
    min_budget_bytes: int = MIN_BUDGET_BYTES,
) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file without pickle and with a bound on decoded size.

    Args:
        path: the file.
        max_expansion: most decoded bytes allowed per byte of file, summed over all members.
        min_budget_bytes: files declaring less than this in total are always allowed.

    Returns:
        ``{key: ndarray}`` for every ``<key>.npy`` member (other members are ignored).

    Raises:
        ContractError: missing/unreadable file, empty file, not a zip, truncated or corrupted
            member, a member whose ``.npy`` header disagrees with the zip directory, an object
            (pickled) array, or total declared size above the budget. The check of headers and
            sizes happens before any array is allocated.
    """
    source = str(path)
    p = Path(path)
    if not p.is_file():
        found = "a directory" if p.is_dir() else "no such file"
        raise ContractError(source, None, "a readable .npz file", found)
    size = p.stat().st_size
    if size == 0:
        raise ContractError(source, None, "a non-empty .npz file", "an empty file (0 bytes)")
    try:
        zf = zipfile.ZipFile(p)
    except zipfile.BadZipFile as exc:
        raise ContractError(source, None, "an .npz (zip) archive", f"not a zip archive or truncated: {_describe(exc)}") from None
    except OSError as exc:
        raise ContractError(source, None, "a readable .npz file", _describe(exc)) from None
    with zf:
        members = [info for info in zf.infolist() if info.filename.endswith(".npy")]
        if not members:
            raise ContractError(source, None, "at least one .npy array in the archive", "none")
        budget = max(float(min_budget_bytes), float(max_expansion) * size)
        declared_total = 0
        plans: list[tuple[zipfile.ZipInfo, str]] = []
        for info in members:
            key = info.filename[: -len(".npy")]
            try:
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise ValueError(f"unsupported .npy format version {version}")
                    header_len = fh.tell()
            except Exception as exc:  # noqa: BLE001 - any failure is a contract failure of this file
                raise ContractError(source, key, "a valid .npy member header", _describe(exc)) from None
            if dtype.hasobject:
                raise ContractError(
                    source, key, "a numeric or string array (loaded with allow_pickle=False)",
                    f"an object array (dtype {dtype}) that needs pickle; refused without unpickling",
                )
            declared = math.prod(int(d) for d in shape) * dtype.itemsize
            if header_len + declared != info.file_size:
                raise ContractError(
                    source, key, f"{declared} payload bytes for shape {tuple(shape)} {dtype}",
                    f"{info.file_size - header_len} bytes in the archive (inconsistent or truncated member)",
                )
            declared_total += declared
            if declared_total > budget:
                raise ContractError(
                    source, key,
                    f"decoded size at most {int(budget)} bytes ({max_expansion:g} x the {size}-byte file)",
                    f"at least {declared_total} bytes declared (refused before allocating)",
                )
            plans.append((info, key))
        arrays: dict[str, np.ndarray] = {}
        for info, key in plans:
            try:
                with zf.open(info) as fh:
                    arrays[key] = np.lib.format.read_array(fh, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001
                raise ContractError(source, key, "a readable array", f"a damaged member: {_describe(exc)}") from None
    return arrays


# --------------------------------------------------------------------------------------------
# Validation (§2-§5)
# --------------------------------------------------------------------------------------------


def _dtype_name(arr: np.ndarray) -> str:
    return str(arr.dtype)


def _numeric(source: str, key: str, value: Any, *, allow_complex: bool) -> np.ndarray:
    """Return ``value`` as an ndarray of a numeric dtype, refusing strings, objects, bools."""
    arr = np.asarray(value)
    kind = arr.dtype.kind
    allowed = "iuf" + ("c" if allow_complex else "")
    if kind not in allowed:
        what = "real numbers" if not allow_complex else "numbers"
        if kind == "c":
            found = f"complex dtype {_dtype_name(arr)}"
        else:
            found = f"dtype {_dtype_name(arr)}"
        raise ContractError(source, key, what, found)
    if kind in "fc" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ContractError(source, key, "finite values", f"{bad} NaN or inf value(s)")
    return arr


def _one_d(source: str, key: str, value: Any, m: int | None) -> np.ndarray:
    arr = _numeric(source, key, value, allow_complex=False)
    if arr.ndim != 1:
        raise ContractError(source, key, "a 1-D array of positions (M,)", f"shape {arr.shape}")
    if m is not None and arr.shape[0] != m:
        raise ContractError(source, key, f"length {m} (one per diffraction pattern)", f"length {arr.shape[0]}")
    return arr


def _blame_positions(source: str, nx: int, ny: int, diffraction: Any) -> None:
    """Raise for ``xcoords``/``ycoords`` of different lengths, naming the one that disagrees with the number of
    diffraction patterns (axis 0, or axis 2 in the legacy layout); ``ycoords`` when that cannot decide."""
    shape = () if diffraction is None else tuple(getattr(diffraction, "shape", None) or np.shape(diffraction))
    counts = {shape[0], shape[2]} if len(shape) >= 3 else set()
    if ny in counts and nx not in counts:
        raise ContractError(source, "xcoords", f"length {ny} (one per diffraction pattern)", f"length {nx}")
    raise ContractError(source, "ycoords", f"length {nx} (one per diffraction pattern, as xcoords)", f"length {ny}")


def _diffraction(source: str, key: str, value: Any, m: int) -> Any:
    if callable(getattr(value, "check", None)):  # a stack read on demand (ptycho.scan_hdf5.LazyDiffraction)
        return value.check(source, key, m, ALLOWED_N)
    arr = _numeric(source, key, value, allow_complex=False)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise ContractError(source, key, "a 3-D stack (M, N, N) of amplitudes", f"shape {arr.shape}")
    if arr.shape[0] != m and arr.shape[-1] == m:
        arr = np.transpose(arr, (2, 0, 1))  # legacy (H, W, M) layout (§2.3)
    if arr.shape[0] != m:
        raise ContractError(
            source, key, f"{m} patterns (len(xcoords)) on axis 0 (or axis 2 in the legacy layout)", f"shape {arr.shape}"
        )
    if arr.shape[1] != arr.shape[2]:
        raise ContractError(source, key, "square patterns (M, N, N)", f"shape {arr.shape}")
    n = arr.shape[1]
    if n not in ALLOWED_N:
        raise ContractError(source, key, f"pattern size N in {set(ALLOWED_N)}", f"N = {n} (shape {arr.shape})")
    if _are_counts(arr):
        if float(arr.min()) < 0:
            raise ContractError(source, key, "non-negative detector counts", f"minimum {float(arr.min()):.6g}")
        warnings.warn(f"{source}: key '{key}': integer detector counts ({arr.dtype}, max {float(arr.max()):.6g}) "
                      "converted to amplitudes sqrt(counts); store float32 amplitudes to silence this",
                      DiffractionCountsWarning, stacklevel=4)
        arr = np.sqrt(arr.astype(np.float64))
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise ContractError(source, key, "amplitudes that fit in float32", "values that overflow float32")
    if out.size and float(out.min()) < 0:
        raise ContractError(source, key, "non-negative amplitudes sqrt(counts)", f"minimum {float(out.min()):.6g}")
    return out


def _are_counts(arr: np.ndarray) -> bool:
    """Detector counts rather than amplitudes: an integer dtype, or floats that are all whole numbers with a
    maximum of at least 2 (amplitudes sqrt(counts) of a real scan are never all whole numbers; up to 1 the
    two readings agree)."""
    if arr.size == 0 or arr.dtype.kind in "iu":
        return arr.size > 0
    peak = 0.0
    for i in range(0, arr.shape[0], 64):  # bounded memory; amplitudes fail on the first chunk
        chunk = arr[i : i + 64]
        if not np.array_equal(chunk, np.rint(chunk)):
            return False
        peak = max(peak, float(chunk.max()))
    return peak >= 2.0


def _probe(source: str, value: Any, n: int) -> np.ndarray:
    """(N, N) complex64 probe, or (K, N, N) complex64 for K >= 2 incoherent modes; a one-mode stack (1, N, N)
    (ptychodus's probe export) is squeezed to (N, N). Every mode must carry some power."""
    probe = _numeric(source, "probeGuess", value, allow_complex=True)
    if probe.ndim == 3 and probe.shape[0] == 1:
        probe = probe[0]
    if probe.ndim not in (2, 3) or probe.shape[-2:] != (n, n) or (probe.ndim == 3 and probe.shape[0] < 1):
        raise ContractError(source, "probeGuess", f"shape ({n}, {n}) like the patterns, or (K, {n}, {n}) for K "
                            "incoherent probe modes", f"shape {probe.shape}")
    if probe.ndim == 3 and probe.shape[0] > MAX_PROBE_MODES:
        raise ContractError(source, "probeGuess", f"at most {MAX_PROBE_MODES} probe modes",
                            f"{probe.shape[0]} modes, shape {probe.shape}")
    if not np.any(probe):
        raise ContractError(source, "probeGuess", "a probe with non-zero values", "all zeros")
    if probe.ndim == 3:
        empty = [k for k in range(probe.shape[0]) if not np.any(probe[k])]
        if empty:
            raise ContractError(source, "probeGuess", "every probe mode with non-zero values",
                                f"mode {empty[0]} all zeros (of {probe.shape[0]} modes)")
    return np.ascontiguousarray(probe, dtype=np.complex64)


def _patch_stack(source: str, key: str, value: Any, m: int, n: int, *, complex_ok: bool) -> np.ndarray:
    arr = _numeric(source, key, value, allow_complex=complex_ok)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3 or arr.shape[1:] != (n, n):
        raise ContractError(source, key, f"shape ({m}, {n}, {n}) (or with a trailing 1)", f"shape {arr.shape}")
    if arr.shape[0] != m:
        raise ContractError(source, key, f"length {m} on axis 0 (one per diffraction pattern)", f"length {arr.shape[0]}")
    return arr


def _metadata(source: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    arr = np.asarray(value)
    if arr.shape != () or arr.dtype.kind not in "US":
        raise ContractError(source, "_metadata", "a 0-d string array holding a JSON object", f"shape {arr.shape} dtype {arr.dtype}")
    text = arr.item()
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(source, "_metadata", "JSON text", f"invalid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(parsed, dict):
        raise ContractError(source, "_metadata", "a JSON object", f"JSON {type(parsed).__name__}")
    return parsed


def validate_arrays(arrays: Mapping[str, Any], source: str = "<arrays>") -> dict[str, Any]:
    """Check a set of raw arrays against the contract and return them in canonical form.

    Args:
        arrays: mapping of contract keys (module table) to array-likes; unknown keys are ignored.
        source: label used in error messages (the file path when reading a file).

    Returns:
        dict with ``diffraction`` (M,N,N) float32 (legacy (H,W,M) transposed, trailing singleton
        squeezed, integer/float64 cast), ``xcoords``/``ycoords``/``xcoords_start``/``ycoords_start``
        (M,) float64 (start defaults to a copy of the coords), ``scan_index`` (M,) int64 (default
        zeros), ``probeGuess`` (N,N) complex64 or (K,N,N) complex64 for K >= 2 modes, ``objectGuess`` (H,W) complex64 or None, ``Y``
        (M,N,N) complex64 or None (built as label_amp·exp(i·label_phase) when only labels are
        given), ``label_amp``/``label_phase`` (M,N,N) float32 or None, ``norm_Y_I`` float or None,
        ``metadata`` dict or None, ``N`` int, ``M`` int.

    Raises:
        ContractError: see specs/data-contract.md §5 for the full list.
    """
    source = str(source)
    if not isinstance(arrays, Mapping):
        raise ContractError(source, None, "a mapping of named arrays", type(arrays).__name__)
    present = {k for k, v in arrays.items() if v is not None}

    def need(key: str) -> Any:
        if key not in present:
            keys = ", ".join(sorted(present)) or "none"
            raise ContractError(source, key, "the key to be present", f"missing (keys present: {keys})")
        return arrays[key]

    # positions first: their length M defines every per-position array
    x = _one_d(source, "xcoords", need("xcoords"), None)
    m = int(x.shape[0])
    if m == 0:
        raise ContractError(source, "xcoords", "at least 1 scan position", "0 positions")
    y = _one_d(source, "ycoords", need("ycoords"), None)
    if y.shape[0] != m:
        _blame_positions(source, m, int(y.shape[0]), arrays.get("diffraction", arrays.get("diff3d")))

    if "diffraction" in present:
        dkey = "diffraction"
    elif "diff3d" in present:
        dkey = "diff3d"
    else:
        keys = ", ".join(sorted(present)) or "none"
        raise ContractError(source, "diffraction", "the key 'diffraction' (or its alias 'diff3d')", f"missing (keys present: {keys})")
    diff = _diffraction(source, dkey, arrays[dkey], m)
    n = int(diff.shape[1])

    starts = [k for k in ("xcoords_start", "ycoords_start") if k in present]
    if len(starts) == 1:
        other = "ycoords_start" if starts[0] == "xcoords_start" else "xcoords_start"
        raise ContractError(source, other, f"to be present together with '{starts[0]}'", "missing")
    if starts:
        xs = _one_d(source, "xcoords_start", arrays["xcoords_start"], m).astype(np.float64)
        ys = _one_d(source, "ycoords_start", arrays["ycoords_start"], m).astype(np.float64)
    else:
        xs, ys = x.astype(np.float64, copy=True), y.astype(np.float64, copy=True)

    if "scan_index" in present:
        si = _one_d(source, "scan_index", arrays["scan_index"], m)
        if si.dtype.kind == "f" and not np.all(si == np.round(si)):
            raise ContractError(source, "scan_index", "integer scan ids", "non-integer values")
        scan_index = si.astype(np.int64)
    else:
        scan_index = np.zeros(m, dtype=np.int64)

    probe = _probe(source, need("probeGuess"), n)

    obj = None
    if "objectGuess" in present:
        o = _numeric(source, "objectGuess", arrays["objectGuess"], allow_complex=True)
        if o.ndim != 2:
            raise ContractError(source, "objectGuess", "a 2-D object (H, W)", f"shape {o.shape}")
        if o.shape[0] < n or o.shape[1] < n:
            raise ContractError(source, "objectGuess", f"an object at least as large as the probe ({n}, {n})", f"shape {o.shape}")
        obj = np.ascontiguousarray(o, dtype=np.complex64)

    labels: dict[str, np.ndarray | None] = {"label_amp": None, "label_phase": None}
    lab_present = [k for k in labels if k in present]
    if len(lab_present) == 1:
        other = "label_phase" if lab_present[0] == "label_amp" else "label_amp"
        raise ContractError(source, other, f"to be present together with '{lab_present[0]}'", "missing")
    for k in lab_present:
        labels[k] = np.ascontiguousarray(_patch_stack(source, k, arrays[k], m, n, complex_ok=False), dtype=np.float32)
    if labels["label_amp"] is not None and float(labels["label_amp"].min()) < 0:
        raise ContractError(source, "label_amp", "non-negative amplitudes", f"minimum {float(labels['label_amp'].min()):.6g}")

    yy = None
    if "Y" in present:
        yy = np.ascontiguousarray(_patch_stack(source, "Y", arrays["Y"], m, n, complex_ok=True), dtype=np.complex64)
    elif labels["label_amp"] is not None and labels["label_phase"] is not None:
        yy = (labels["label_amp"] * np.exp(1j * labels["label_phase"])).astype(np.complex64)

    norm = None
    if "norm_Y_I" in present:
        nv = _numeric(source, "norm_Y_I", arrays["norm_Y_I"], allow_complex=False)
        if nv.size != 1:
            raise ContractError(source, "norm_Y_I", "a scalar", f"shape {nv.shape}")
        norm = float(nv.reshape(()))

    meta = _metadata(source, arrays["_metadata"]) if "_metadata" in present else None

    return {
        "diffraction": diff,
        "xcoords": np.ascontiguousarray(x, dtype=np.float64),
        "ycoords": np.ascontiguousarray(y, dtype=np.float64),
        "xcoords_start": np.ascontiguousarray(xs),
        "ycoords_start": np.ascontiguousarray(ys),
        "scan_index": scan_index,
        "probeGuess": probe,
        "objectGuess": obj,
        "Y": yy,
        "label_amp": labels["label_amp"],
        "label_phase": labels["label_phase"],
        "norm_Y_I": norm,
        "metadata": meta,
        "N": n,
        "M": m,
    }


def read_scan(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw arrays of a scan file: an HDF5 file (recognised by its signature; ``diffraction`` stays on
    disk, :func:`ptycho.scan_hdf5.read_scan_hdf5`, specs/scaling.md §2) or an NPZ (:func:`read_npz`)."""
    return read_scan_hdf5(path) if is_hdf5(path) else read_npz(path)


def validate_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a scan file safely (:func:`read_scan`: NPZ or HDF5) and validate it; return the canonical arrays.

    Same verdict as ``RawData.from_file(path)`` without building the object. Raises ContractError.
    """
    return validate_arrays(read_scan(path), source=str(path))
