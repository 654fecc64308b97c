"""Per-sample cache of the projected generator's physics estimate (specs/network.md §8.1).

The estimate ``O_K = projected_input(x, probe, K, coords_relative)`` (:mod:`ptycho_torch.generators.projected`)
does not depend on the network's weights: with the probe and the intensity scale fixed and the batches read from
a fixed container, every epoch recomputes the same numbers (at gridsize 2, K = 20, N = 64 on one CPU thread, ~28 %
of a training step; benchmarks/projected_share.py). :class:`EstimateCache` keeps each training sample's estimate
after the first time it is computed (so the filling happens inside the training run and its budget) and hands it
back in later epochs.

Each sample's estimate is computed on its own (see :meth:`EstimateCache.estimates`), so it does not depend on
the batch that first held it, and a resumed run trains bitwise like an uninterrupted one.

Key: the sample's row ``index`` in its container (the batch's ``'index'``), checked against a fingerprint of the
sample's network input ``x`` (B, N, N, C) and offsets (B, 1, 2, C): float64 sums, plain and position-weighted, of
each. A sample whose fingerprint differs from the stored one (another container with the same row numbers, a
rescaled input, an augmented pattern) is recomputed and stored anew; so is every sample when the probe differs from
the one the cache was filled with (the cache is then emptied). Memory: C·N·N complex64 = 8·C·N² bytes per sample
(128 KiB at N = 64, gridsize 2) plus a 32-byte fingerprint; at most ``limit_bytes`` (default
:data:`DEFAULT_LIMIT_BYTES`), beyond which further samples are computed per step as without a cache.

The Lightning module holds one cache as explicit state (``PtychoPINN_Lightning.estimate_cache``), only when
nothing the estimate depends on is trained (:func:`cache_allowed`), and consults it in training mode only.
"""

from __future__ import annotations

from typing import Any

import torch

from ptycho_torch.generators.projected import projected_input

__all__ = ["DEFAULT_LIMIT_BYTES", "EstimateCache", "cache_allowed"]

#: default memory bound of one cache: 1 GiB (~8,000 samples at N = 64, gridsize 2)
DEFAULT_LIMIT_BYTES = 1 << 30


def cache_allowed(model_config: Any, training_config: Any) -> bool:
    """Whether the estimate is fixed during training: projected input (``input_projections`` > 0) with neither
    the probe nor the intensity scale trainable (the estimate reads both). The data pipeline applies no
    augmentation to ``X`` (ptycho_torch.data: a batch is rows of the container), and the fingerprint check of
    :meth:`EstimateCache.estimates` recomputes any sample whose input changed all the same."""
    return (int(getattr(model_config, "input_projections", 0) or 0) > 0
            and not bool(getattr(training_config, "probe_trainable", False))
            and not bool(getattr(training_config, "intensity_scale_trainable", False)))


def _fingerprints(x: torch.Tensor, coords: torch.Tensor | None) -> torch.Tensor:
    """(B, 4) float64 on the CPU: sum and position-weighted sum of each sample's x (B, N, N, C) and offsets."""
    xf = x.detach().to(torch.float64).reshape(x.shape[0], -1)
    w = torch.arange(1, xf.shape[1] + 1, dtype=torch.float64, device=xf.device) / xf.shape[1]
    cols = [xf.sum(1), (xf * w).sum(1)]
    if coords is None:
        cols += [torch.zeros_like(cols[0])] * 2
    else:
        cf = coords.detach().to(torch.float64).reshape(coords.shape[0], -1)
        wc = torch.arange(1, cf.shape[1] + 1, dtype=torch.float64, device=cf.device)
        cols += [cf.sum(1), (cf * wc).sum(1)]
    return torch.stack(cols, 1).cpu()


class EstimateCache:
    """Estimates ``O_K`` (C, N, N) complex64 by sample index, bounded to ``limit_bytes``.

    Counters ``hits`` / ``misses`` (samples served from / computed into or past the cache) say how much it saved.
    """

    def __init__(self, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        if int(limit_bytes) < 0:
            raise ValueError(f"EstimateCache: limit_bytes: expected an integer >= 0, found {limit_bytes!r}")
        self.limit_bytes = int(limit_bytes)
        self._rows: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # index -> (fingerprint (4,), O_K (C, N, N))
        self._probe: torch.Tensor | None = None
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        """Forget every stored estimate (the counters are kept)."""
        self._rows.clear()
        self._probe, self.nbytes = None, 0

    def estimates(self, x: torch.Tensor, probe: torch.Tensor, iterations: int, coords_relative: torch.Tensor | None,
                  index: torch.Tensor) -> torch.Tensor:
        """``projected_input`` of each sample of ``x`` (B, C, N, N) complex64, taken from the cache when stored
        under its ``index`` (B,) with the same fingerprint and probe, the others computed and stored while the
        memory bound allows. A missing sample is computed on its own (its group canvas sized by its own offsets),
        not with the batch it came in: the joint computation sizes one canvas for the whole batch, so its numbers
        depend on the batch's other samples, and a stored estimate must be the same whichever batch first held
        the sample (a resumed run refills the cache in another order and must train bitwise like an
        uninterrupted one)."""
        idx = [int(i) for i in index.reshape(-1).tolist()]
        if len(idx) != x.shape[0]:
            raise ValueError(f"EstimateCache: index: expected {x.shape[0]} sample indices, found {len(idx)}")
        probe = probe.detach()
        if (self._probe is None or self._probe.shape != probe.shape or self._probe.device != probe.device
                or not torch.equal(self._probe, probe)):  # another probe, or the module moved to another device
            self.clear()
            self._probe = probe.clone()
        prints = _fingerprints(x, coords_relative)
        rows: list[torch.Tensor | None] = []
        for i, p in zip(idx, prints, strict=True):
            got = self._rows.get(i)
            rows.append(got[1] if got is not None and torch.equal(got[0], p) else None)
        missing = [j for j, r in enumerate(rows) if r is None]
        self.hits += len(idx) - len(missing)
        self.misses += len(missing)
        for j in missing:  # one sample at a time: its estimate must not depend on the batch that first held it
            coords = None if coords_relative is None else coords_relative[j:j + 1]
            fresh = projected_input(x[j:j + 1], probe, iterations, coords)[0]
            rows[j] = fresh
            self._store(idx[j], prints[j], fresh)
        return torch.stack(rows, 0)  # type: ignore[arg-type]

    def _store(self, i: int, fingerprint: torch.Tensor, est: torch.Tensor) -> None:
        old = self._rows.pop(i, None)
        if old is not None:
            self.nbytes -= old[1].numel() * old[1].element_size()
        size = est.numel() * est.element_size()
        if self.nbytes + size > self.limit_bytes:
            return
        self._rows[i] = (fingerprint, est.clone())  # its own storage, not a view of the batch's tensor
        self.nbytes += size
