"""Mixed-state (partially coherent) probes: K orthogonal incoherent modes built from one probe
(specs/simulation.md §7).

A partially coherent beam is a sum of mutually incoherent modes whose intensities add on the detector
(specs/physics.md §12.1). The simulated modes are the primary probe ``P`` times low-order polynomials of
the position, ``P``, ``x P``, ``y P``, ``x^2 P``, ``x y P``, ``y^2 P``, ... (Hermite-Gaussian-like: for a
Gaussian ``P`` the first ones are exactly the Hermite-Gaussian modes), with ``x``, ``y`` measured from the
probe's intensity centroid in units of its RMS radius, orthonormalised by Gram-Schmidt in that order
(complex inner product over the N x N pixels) and given the powers ``p_k`` (fractions summing to 1) of the
total power, which is the primary probe's: ``sum_k ||P_k||^2 = ||P||^2``. Mode 0 is then ``sqrt(p_0) P``.

Arrays: probe (N, N) complex; modes (K, N, N) complex64.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MODE_POWER_RATIO", "default_mode_powers", "check_mode_powers", "make_probe_modes"]

#: Power ratio between consecutive modes of the default split (p_{k+1} = 0.3 p_k).
MODE_POWER_RATIO = 0.3


def default_mode_powers(k: int) -> np.ndarray:
    """Default power fractions of K modes: geometric, ``p_k ∝ 0.3^k``, summing to 1 (K = 3: 0.719 / 0.216 / 0.065)."""
    w = MODE_POWER_RATIO ** np.arange(int(k), dtype=np.float64)
    return w / w.sum()


def check_mode_powers(k: object, powers: object | None, func: str) -> np.ndarray:
    """Validated power fractions (K,) float64 summing to 1: ``powers`` normalised, or :func:`default_mode_powers`."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= 32:
        raise ValueError(f"{func}: probe_modes: expected an integer between 1 and 32, found {k!r}")
    if powers is None:
        return default_mode_powers(int(k))
    p = np.asarray(powers, dtype=np.float64).reshape(-1)
    if p.shape != (int(k),) or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise ValueError(f"{func}: mode_powers: expected {int(k)} finite positive numbers (one per mode), "
                         f"found {np.asarray(powers).tolist()!r}")
    return p / p.sum()


def _monomials(count: int):
    """Exponents (a, b) of x^a y^b by total degree: (1,0), (0,1), (2,0), (1,1), (0,2), (3,0), ..."""
    degree = 1
    while True:
        for b in range(degree + 1):
            yield degree - b, b
            count -= 1
            if count <= 0:
                return
        degree += 1


def make_probe_modes(probe: np.ndarray, k: int, powers: object | None = None) -> np.ndarray:
    """K orthogonal modes (K, N, N) complex64 of total power ``||probe||^2`` and power fractions ``powers``.

    Args:
        probe: (N, N) complex primary probe (non-zero).
        k: number of modes, 1..32 (k = 1 returns the probe itself as a (1, N, N) stack).
        powers: K positive numbers, normalised to fractions; None: :func:`default_mode_powers`.

    Returns:
        (K, N, N) complex64; ``<P_i, P_j> = 0`` for i != j (to float32 round-off) and
        ``||P_k||^2 = p_k ||probe||^2``.
    """
    func = "make_probe_modes"
    p = np.asarray(probe, dtype=np.complex128)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        raise ValueError(f"{func}: probe: expected an (N, N) probe, found shape {p.shape}")
    frac = check_mode_powers(k, powers, func)
    total = float(np.vdot(p, p).real)
    if not total > 0:
        raise ValueError(f"{func}: probe: expected a non-zero probe, found all zeros")
    n = p.shape[0]
    inten = np.abs(p) ** 2 / total
    yy, xx = np.mgrid[:n, :n].astype(np.float64)
    cy, cx = float((inten * yy).sum()), float((inten * xx).sum())
    radius = float(np.sqrt((inten * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum())) or 1.0
    x, y = (xx - cx) / radius, (yy - cy) / radius
    basis = [p / np.sqrt(total)]
    for a, b in _monomials(4 * int(k) + 8):
        if len(basis) == int(k):
            break
        v = p * x**a * y**b
        for u in basis:  # Gram-Schmidt, twice for round-off (the monomials are far from orthogonal)
            v = v - np.vdot(u, v) * u
        for u in basis:
            v = v - np.vdot(u, v) * u
        norm = float(np.sqrt(np.vdot(v, v).real))
        if norm > 1e-8 * np.sqrt(total):
            basis.append(v / norm)
    if len(basis) < int(k):
        raise ValueError(f"{func}: probe: expected a probe with room for {int(k)} independent modes, found "
                         f"{len(basis)} (the probe covers too few pixels)")
    modes = np.stack([np.sqrt(f * total) * u for f, u in zip(frac, basis, strict=True)])
    return modes.astype(np.complex64)
