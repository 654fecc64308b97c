"""Legacy probe API (``ptycho.probe``) used by ptychodus (specs/tf-backend.md §6).

The probe lives in the legacy ``ptycho.params.cfg['probe']`` as an (N, N, 1) complex64 array, or (K, N, N, 1)
for K incoherent modes (specs/tf-backend.md §2.1), normalised with ``ptycho.physics.normalize_probe`` (mean
|mask * P| = 1 / probe_scale; modes share one factor). Models read it when they are built; the model's own copy is
the trainable ``physics/probe`` weight.
"""

from __future__ import annotations

import numpy as np

from ptycho import params, physics

__all__ = ["get_probe_mask", "get_default_probe", "set_probe", "set_probe_guess", "set_default_probe",
           "get_probe"]


def get_probe_mask(N: int) -> np.ndarray:
    """(N, N, 1) float32 disk mask (r < N//4 around the grid centre)."""
    return physics.probe_mask(int(N))[..., None]


def get_default_probe(N: int, fmt: str = "tf") -> np.ndarray:
    """The default disk probe (``ptycho.physics.default_probe``, width ``params default_probe_scale``).

    fmt 'np': (N, N) complex64; fmt 'tf': (N, N, 1) complex64 (channel-last, as the legacy API).
    """
    if fmt not in ("tf", "np"):
        raise ValueError(f"get_default_probe: fmt: expected 'tf' or 'np', found {fmt!r}")
    p = physics.default_probe(int(N), float(params.get("default_probe_scale", 0.7)))
    return p if fmt == "np" else p[..., None]


def set_probe(probe) -> None:
    """Normalise ``probe`` ((N, N) or (N, N, 1) complex, or (K, N, N) incoherent modes, a (1, N, N) stack squeezed)
    with ``params probe_scale`` and store it in ``params.cfg['probe']`` as (N, N, 1) / (K, N, N, 1) complex64."""
    p = np.asarray(probe)
    if p.ndim == 3 and p.shape[-1] == 1 and p.shape[0] == p.shape[1]:
        p = p[..., 0]
    if p.ndim == 3 and p.shape[0] == 1:
        p = p[0]
    if p.ndim not in (2, 3) or p.shape[-1] != p.shape[-2]:
        raise ValueError(f"set_probe: expected a probe of shape (N, N), (N, N, 1) or (K, N, N) modes, found {p.shape}")
    norm = physics.normalize_probe(p.astype(np.complex64), float(params.get("probe_scale", 4.0)))
    params.cfg["probe"] = np.asarray(norm, np.complex64)[..., None]


def set_probe_guess(X_train=None, probe_guess=None) -> None:
    """Set the probe from ``probe_guess`` (N, N) complex or (K, N, N) modes; without one, use the default disk probe of
    the size of ``X_train`` (B, N, N, C) or of ``params N``. (No probe is estimated from the
    diffraction data; the default probe is the documented fallback.)"""
    if probe_guess is not None:
        set_probe(probe_guess)
        return
    n = int(np.asarray(X_train).shape[1]) if X_train is not None else int(params.get("N"))
    set_probe(get_default_probe(n, fmt="np"))


def set_default_probe() -> None:
    """Store the normalised default probe of size ``params N``."""
    set_probe(get_default_probe(int(params.get("N")), fmt="np"))


def get_probe(N: int | None = None) -> np.ndarray:
    """The current normalised probe (N, N) complex64 (or (K, N, N) modes) from params, or the normalised default
    probe when params holds none of size N."""
    n = int(params.get("N")) if N is None else int(N)
    p = params.cfg.get("probe")
    if p is not None:
        p = np.asarray(p)
        p = p[..., 0] if p.ndim in (3, 4) and p.shape[-1] == 1 else p
        if p.shape[-2:] == (n, n) and p.ndim in (2, 3):
            return p.astype(np.complex64)
    return np.asarray(physics.normalize_probe(get_default_probe(n, "np"), float(params.get("probe_scale", 4.0))),
                      np.complex64)
