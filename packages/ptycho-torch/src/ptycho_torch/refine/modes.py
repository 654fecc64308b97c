"""Mixed-state (multi-mode) probes in refinement (specs/refinement.md §10).

A probe of K incoherent modes is a (K, N, N) tensor; the shifted probes of a batch are (B, K, N, N), each
pattern's exit waves ``psi_{k,m} = P_{k,m} W_k`` (B, K, N, N) and its predicted amplitude
``A_k = sqrt(sum_m |Psi_{k,m}|^2)`` (specs/physics.md §12.1). A single (N, N) probe keeps its own code path
(every helper here returns the one-mode computation unchanged for it), so one-mode runs are bit-identical to
those before modes existed.

Orthogonalisation: the predicted intensities depend on the modes only through ``sum_m P_m P_m^H``, which a unitary
K x K mix ``P' = T P`` leaves unchanged. After a probe update the modes are replaced by the eigenvectors of their
Gram matrix ``G = P P^H`` (K x K, over the N x N pixels), strongest first, as pty-chi and ptypy do: the modes are
then orthogonal and sorted by power, and the NLL is unchanged to round-off.
"""

from __future__ import annotations

import numpy as np
import torch

from ptycho.simulation.modes import make_probe_modes
from ptycho_torch.physics.diffraction import mode_sum_amplitude

__all__ = ["exit_waves", "amplitude", "sum_modes", "orthogonalise_modes", "initial_modes"]


def exit_waves(probes: torch.Tensor, windows: torch.Tensor) -> torch.Tensor:
    """``P_k W_k``: probes (B, N, N) with windows (B, N, N), or mode probes (B, K, N, N) -> (B, K, N, N)."""
    return probes * windows if probes.dim() == windows.dim() else probes * windows[:, None]


def amplitude(psi_hat: torch.Tensor) -> torch.Tensor:
    """Predicted amplitude (B, N, N): ``|Psi|`` of (B, N, N) far fields, ``sqrt(sum_m |Psi_m|^2)`` of (B, K, N, N)
    (a guarded root, ``ptycho_torch.physics.mode_sum_amplitude``: gradient 0 at a zero prediction, like ``|z|``)."""
    return torch.abs(psi_hat) if psi_hat.dim() == 3 else mode_sum_amplitude(psi_hat, 1)


def sum_modes(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``t`` summed over its mode axis (1) when it has one more axis than ``like``; else ``t`` itself."""
    return t.sum(1) if t.dim() == like.dim() + 1 else t


@torch.no_grad()
def orthogonalise_modes(probe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Orthogonal modes of the same mixed state, strongest first.

    Args:
        probe: (K, N, N) complex modes.
    Returns:
        (modes (K, N, N) = T probe, T (K, K) unitary): the rows of T are the eigenvectors (conjugated) of the
        Gram matrix ``G = P P^H`` (P the (K, N^2) mode matrix) in order of decreasing eigenvalue, so
        ``<P'_i, P'_j> = 0`` for i != j and ``||P'_0||^2 >= ||P'_1||^2 >= ...``. Computed in float64.
    """
    k = probe.shape[0]
    flat = probe.reshape(k, -1).to(torch.complex128)
    gram = flat @ flat.conj().T
    _, vecs = torch.linalg.eigh(gram)  # ascending eigenvalues
    t = vecs.flip(-1).conj().T  # (K, K): rows = eigenvectors^H, strongest first
    return (t @ flat).to(probe.dtype).reshape(probe.shape), t.to(probe.dtype)


def initial_modes(probe: np.ndarray, k: int, powers: object | None = None) -> np.ndarray:
    """A K-mode start from one (N, N) probe: ``ptycho.simulation.make_probe_modes`` (orthogonal Hermite-like modes
    of the probe's total power; default powers geometric, ratio 0.3), (K, N, N) complex64. A (K, N, N) probe
    is returned as it is."""
    p = np.asarray(probe)
    if p.ndim == 3:
        return p.astype(np.complex64)
    return make_probe_modes(p, int(k), powers)
