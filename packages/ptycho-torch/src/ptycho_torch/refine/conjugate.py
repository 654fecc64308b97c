"""Preconditioned nonlinear conjugate directions for full-batch passes (specs/refinement.md §5).

Mini-batch steps make fast early progress but leave the slowly converging, low-spatial-frequency modes of the
object (a smooth phase bump moves the data only through its gradient, so its curvature falls as k^2): there
successive preconditioned gradients point in nearly the same directions and steepest descent zigzags. Once a
batch holds the whole scan, the solver takes Polak-Ribiere (PR+) conjugate directions instead,

    d_t = -z_t + beta_t d_(t-1),  beta_t = max(0, Re<z_t, g_t - g_(t-1)> / Re<z_(t-1), g_(t-1)>),

with ``g`` the gradient and ``z`` the preconditioned gradient (object and, when refined, probe as one vector), and
an exact line search along ``d`` (the Gaussian-amplitude NLL, whose gradient ``g`` is, so that the directions
are conjugate for one objective).
"""

from __future__ import annotations

import torch

__all__ = ["ConjugateDirections", "CG_MAX_STEP"]

#: Largest step length of a conjugate step (the preconditioned full-batch steps measured 2.7-4.4).
CG_MAX_STEP = 16.0


def _dot(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return float(sum((x.conj() * y).real.sum() for x, y in zip(a, b, strict=True)))


class ConjugateDirections:
    """PR+ memory across full-batch passes: the previous gradient, preconditioned gradient and direction."""

    def __init__(self) -> None:
        self._prev: tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]] | None = None

    def reset(self) -> None:
        """Forget the previous direction (the next step is steepest descent)."""
        self._prev = None

    def transform(self, block: int, fn) -> None:
        """Apply ``fn`` to block ``block`` of the remembered gradient, preconditioned gradient and direction (a
        change of variables of that block, e.g. a unitary mix of probe modes: PR+ then continues in the new
        variables)."""
        if self._prev is not None and len(self._prev[0]) > block:
            self._prev = tuple([*(x[:block]), fn(x[block]), *(x[block + 1:])] for x in self._prev)  # type: ignore[assignment]

    def direction(self, grads: list[torch.Tensor], precond: list[torch.Tensor]) -> list[torch.Tensor]:
        """Directions for the blocks ``grads`` (object[, probe]) given their preconditioned gradients."""
        d = [-z for z in precond]
        if self._prev is not None and len(self._prev[0]) == len(grads):
            g0, z0, d0 = self._prev
            denom = _dot(z0, g0)
            if denom > 0:
                beta = max(0.0, _dot(precond, [g - h for g, h in zip(grads, g0, strict=True)]) / denom)
                d = [x + beta * y for x, y in zip(d, d0, strict=True)]
        self._prev = (grads, precond, d)
        return d
