"""The simulated scan files the ``ptycho refine``, teacher and train command tests read (specs/cli.md)."""

from __future__ import annotations

from pathlib import Path

from ptycho.simulation import write_simulation

__all__ = ["write_siemens_scan"]


def write_siemens_scan(path: Path, n_positions: int, **kw) -> Path:
    """Write ``path``: a Siemens star (N 64, 128 px object, zone-plate probe, band-limited sub-pixel shifts, 1e6
    photons, seed 2) scanned at ``n_positions`` positions; ``kw`` adds simulation keywords (``jitter``,
    ``probe_modes``, ...). Returns ``path``."""
    write_simulation(path, object_kind="siemens", N=64, n_positions=n_positions, object_size=128,
                     probe_kind="zoneplate", interpolation="fourier", nphotons=1e6, seed=2, **kw)
    return path
