"""Simulated ptychography datasets obeying the NPZ data contract (specs/simulation.md §3-§4).

Pipeline for one call (all randomness from ``np.random.default_rng(seed)``, drawn in this order:
object textures, scan positions, Poisson noise):

1. object O = make_object(object_kind, object_size) (complex64);
2. positions (x, y) = scan_positions(scan, n_positions, object_size, N);
3. probe P = normalize_probe(probe or default_probe(N), probe_scale);
4. ground-truth patches Y = extract_patches(O, [x, y], N);
5. exit waves psi = P * Y; far-field amplitudes A = far_field_amplitude(psi);
6. photon scale s = dataset_intensity_scale(psi, nphotons) so that the expected counts (s*A)^2
   total nphotons per pattern on average (Parseval);
7. counts: noisy amplitude sqrt(Poisson((s*A)^2)); stored ``diffraction = noisy / s`` (float32).

With ``probe_modes = K > 1`` the normalised probe becomes K orthogonal incoherent modes of the same total
power (:func:`ptycho.simulation.modes.make_probe_modes`), step 5 runs once per mode with the chosen
measurement model and the amplitudes add in intensity, ``A = sqrt(sum_k A_k^2)`` (specs/physics.md §12.1);
``probeGuess`` is then the (K, N, N) mode stack.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ptycho.atomic_io import save_npz_atomic
from ptycho.data_contract import validate_arrays
from ptycho.physics import (
    dataset_intensity_scale,
    default_probe,
    extract_patches,
    far_field_amplitude,
    normalize_probe,
    poisson_sample,
)
from ptycho.physics.checks import check_positive_int

from .models import (
    DEFAULT_OVERSAMPLE,
    MEASUREMENT_MODELS,
    band_limit,
    fine_object,
    finegrid_amplitudes,
    probe_shift_amplitudes,
    quantise_positions,
)
from .modes import check_mode_powers, make_probe_modes
from .objects import OBJECT_KINDS, make_object
from .probes import PROBE_KINDS, make_probe
from .scans import SCAN_KINDS, scan_bounds, scan_positions

__all__ = ["simulate", "write_simulation", "default_object_size"]


def default_object_size(N: int) -> int:
    """Default object side: int(3.5 * N) pixels (224 for N=64), the size of the lines workflow's object."""
    return int(3.5 * N)


def simulate(
    object_kind: str = "lines",
    N: int = 64,
    n_positions: int = 512,
    scan: str = "fermat",
    nphotons: float = 1e9,
    seed: int = 0,
    probe: np.ndarray | None = None,
    object_size: int | None = None,
    probe_scale: float = 4.0,
    step: float | None = None,
    default_probe_scale: float = 0.7,
    probe_kind: str = "disk",
    jitter: float = 0.0,
    interpolation: str = "bilinear",
    oversample: int = DEFAULT_OVERSAMPLE,
    probe_modes: int = 1,
    mode_powers: object | None = None,
) -> dict[str, np.ndarray]:
    """Simulate a ptychography scan; return the contract arrays (specs/simulation.md §3).

    Args:
        object_kind: 'lines', 'grf' or 'siemens' (see :func:`make_object`).
        N: diffraction pattern / probe side in pixels.
        n_positions: number of scan points M.
        scan: 'fermat', 'grid' or 'random' (see :func:`scan_positions`).
        nphotons: expected photons per pattern (mean over the scan) before noise.
        seed: integer seed of ``np.random.default_rng``; same seed -> bit-identical arrays.
        probe: optional (N, N) probe; default ``make_probe(probe_kind, N)`` ('disk' is
            :func:`default_probe` (N, default_probe_scale)).
            Either way it is normalised with ``normalize_probe(probe, probe_scale)``.
        object_size: object side in pixels (default :func:`default_object_size` (N)).
        probe_scale: probe normalisation constant (> 0).
        step: scan pitch for 'grid' / spiral constant for 'fermat' (None = fill the object).
        default_probe_scale: width parameter of the default ('disk') probe.
        probe_kind: 'disk', 'fresnel' or 'zoneplate' (:func:`make_probe`); ignored when ``probe`` is given.
        jitter: standard deviation (px) of Gaussian noise added to the scan positions (drawn after
            them, clipped to the scan bounds); 0 draws nothing.
        interpolation: the measurement model of a sub-pixel position (:mod:`.models`,
            specs/simulation.md §6): 'finegrid' (neutral: object, probe and exit wave on an
            ``oversample``-times finer grid, positions whole fine pixels, the detector keeps the
            central band; what ``ptycho simulate`` makes by default), 'fourier' (object patches
            shifted with a Fourier ramp), 'probe' (integer object windows, the probe shifted with a
            Fourier ramp) or 'bilinear' (bilinearly interpolated patches, the training chain's own).
        oversample: fine pixels per object pixel of the 'finegrid' model (integer >= 1; ignored by the
            other models). Its positions are rounded to multiples of 1/oversample px.
        probe_modes: K incoherent probe modes (1..32; specs/simulation.md §7): the normalised probe is split
            into K orthogonal modes of the same total power (:func:`make_probe_modes`) and the patterns are
            their summed intensities. 1 (default): one coherent probe, exactly as before.
        mode_powers: K positive power fractions of the modes (normalised to sum 1); None: geometric
            ``p_k ∝ 0.3^k`` (K = 3: 0.719 / 0.216 / 0.065).

    Returns:
        dict of numpy arrays (no object arrays):
        ``diffraction`` (M, N, N) float32 amplitudes with counts = (diffraction * sim_intensity_scale)^2;
        ``xcoords``, ``ycoords``, ``xcoords_start``, ``ycoords_start`` (M,) float64 (x = column,
        y = row, object pixels; start = true positions); ``probeGuess`` (N, N) complex64 ((K, N, N) with
        K modes);
        ``objectGuess`` (S, S) complex64; ``scan_index`` (M,) int64 zeros; ``Y`` (M, N, N)
        complex64 ground-truth object patches (not illuminated); metadata 0-d arrays
        ``nphotons`` float64, ``seed`` int64, ``object_kind`` str, ``scan_kind`` str,
        ``probe_scale`` float64, ``sim_intensity_scale`` float64; and ``_metadata``, a 0-d str
        array of JSON text ``{"physics_parameters": {"nphotons", "probe_scale",
        "sim_intensity_scale"}, "simulation": {"generator", "seed", "object_kind", "scan_kind",
        "N", "n_positions", "object_size", "step"}}``.
    """
    func = "simulate"
    if object_kind not in OBJECT_KINDS:
        raise ValueError(f"{func}: object_kind: expected one of {OBJECT_KINDS}, found {object_kind!r}")
    if scan not in SCAN_KINDS:
        raise ValueError(f"{func}: scan: expected one of {SCAN_KINDS}, found {scan!r}")
    check_positive_int(N, "N", func, minimum=4)
    check_positive_int(seed, "seed", func, minimum=0)
    if not np.isfinite(nphotons) or nphotons <= 0:
        raise ValueError(f"{func}: nphotons: expected a finite positive number, found {nphotons!r}")
    if probe_kind not in PROBE_KINDS:
        raise ValueError(f"{func}: probe_kind: expected one of {PROBE_KINDS}, found {probe_kind!r}")
    if interpolation not in MEASUREMENT_MODELS:
        raise ValueError(f"{func}: interpolation: expected one of {MEASUREMENT_MODELS}, found {interpolation!r}")
    check_positive_int(oversample, "oversample", func)
    if not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"{func}: jitter: expected a finite number >= 0 (px), found {jitter!r}")
    powers = check_mode_powers(probe_modes, mode_powers, func)
    size = default_object_size(int(N)) if object_size is None else object_size
    check_positive_int(size, "object_size", func, minimum=int(N))
    n = int(N)
    rng = np.random.default_rng(int(seed))

    obj = make_object(object_kind, int(size), rng)
    x, y = scan_positions(scan, n_positions, int(size), n, rng, step=step)
    if jitter > 0:
        lo, hi = scan_bounds(int(size), n)
        x = np.clip(x + rng.normal(0.0, float(jitter), x.shape), lo, hi)
        y = np.clip(y + rng.normal(0.0, float(jitter), y.shape), lo, hi)

    if probe is not None:
        base_probe = np.asarray(probe)
    elif probe_kind == "disk":
        base_probe = default_probe(n, default_probe_scale)
    else:
        base_probe = make_probe(probe_kind, n)
    if base_probe.shape != (n, n):
        raise ValueError(f"{func}: probe: expected shape ({n}, {n}), found shape {base_probe.shape}")
    probe_c = normalize_probe(base_probe.astype(np.complex64), probe_scale)

    positions = np.stack([x, y], axis=1)
    modes = make_probe_modes(probe_c, int(probe_modes), powers) if int(probe_modes) > 1 else probe_c[None]
    if interpolation == "finegrid":
        positions = quantise_positions(positions, int(oversample))
        x, y = positions[:, 0].copy(), positions[:, 1].copy()
        fine = fine_object(obj, object_kind, int(oversample))
        obj = band_limit(fine, int(oversample)).astype(np.complex64)  # the truth: the fine object's band
        patches = extract_patches(obj, positions, n, "fourier")
        per_mode = [finegrid_amplitudes(fine, p, positions, n, int(oversample)) for p in modes]
    elif interpolation == "probe":
        patches = extract_patches(obj, positions, n, "fourier")
        per_mode = [probe_shift_amplitudes(obj, p, positions, n) for p in modes]
    else:
        patches = extract_patches(obj, positions, n, interpolation)  # (M, N, N) complex64
        exit_waves = [patches.astype(np.complex128) * p.astype(np.complex128)[None] for p in modes]
        per_mode = [far_field_amplitude(w) for w in exit_waves]  # float64
    # the modes' intensities add (specs/physics.md §12.1); one mode keeps its amplitude exactly
    amplitude = per_mode[0] if len(per_mode) == 1 else np.sqrt(sum(a * a for a in per_mode))
    # Parseval: the mean pattern power of the amplitudes is the exit waves'
    one_wave = interpolation in ("bilinear", "fourier") and len(per_mode) == 1
    scale = dataset_intensity_scale(exit_waves[0] if one_wave else amplitude, nphotons)
    noisy = poisson_sample(scale * amplitude, rng)  # sqrt(counts), float64
    diffraction = (noisy / scale).astype(np.float32)

    return {
        "diffraction": diffraction,
        "xcoords": x.astype(np.float64),
        "ycoords": y.astype(np.float64),
        "xcoords_start": x.astype(np.float64).copy(),
        "ycoords_start": y.astype(np.float64).copy(),
        "probeGuess": (probe_c if int(probe_modes) == 1 else modes).astype(np.complex64),
        "objectGuess": obj,
        "scan_index": np.zeros(x.shape[0], dtype=np.int64),
        "Y": patches.astype(np.complex64),
        "nphotons": np.array(float(nphotons), dtype=np.float64),
        "seed": np.array(int(seed), dtype=np.int64),
        "object_kind": np.array(object_kind),
        "scan_kind": np.array(scan),
        "probe_scale": np.array(float(probe_scale), dtype=np.float64),
        "sim_intensity_scale": np.array(scale, dtype=np.float64),
        "_metadata": np.array(
            json.dumps(
                {
                    "physics_parameters": {
                        "nphotons": float(nphotons),
                        "probe_scale": float(probe_scale),
                        "sim_intensity_scale": float(scale),
                    },
                    "simulation": {
                        "generator": "ptycho.simulation.simulate",
                        "seed": int(seed),
                        "object_kind": object_kind,
                        "scan_kind": scan,
                        "N": n,
                        "n_positions": int(x.shape[0]),
                        "object_size": int(size),
                        "step": None if step is None else float(step),
                        "probe_kind": probe_kind if probe is None else "given",
                        "jitter": float(jitter),
                        "interpolation": interpolation,
                        **({"oversample": int(oversample)} if interpolation == "finegrid" else {}),
                        **({"probe_modes": int(probe_modes), "mode_powers": [float(v) for v in powers]}
                           if int(probe_modes) > 1 else {}),
                    },
                },
                sort_keys=True,
                allow_nan=False,
            )
        ),
    }


def write_simulation(path: str | os.PathLike[str], **kwargs: object) -> Path:
    """Simulate with ``simulate(**kwargs)`` and write the arrays as an NPZ at ``path`` atomically.

    The arrays are checked with ``ptycho.data_contract.validate_arrays`` before anything is written
    (so N must be one of the contract's sizes 64/128/256; a ContractError leaves no file), then
    written with ``ptycho.atomic_io.save_npz_atomic`` (temporary file in the same folder,
    ``os.replace``): a reader never sees a partial file. The file is readable with
    ``np.load(path, allow_pickle=False)``. Returns ``pathlib.Path(path)`` (no suffix added).
    """
    arrays = simulate(**kwargs)  # type: ignore[arg-type]
    target = Path(path)
    validate_arrays(arrays, source=str(target))
    save_npz_atomic(target, **arrays)
    return target
