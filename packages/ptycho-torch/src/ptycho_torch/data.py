"""Grouped data for the PyTorch backend: container, batch dicts, deterministic DataLoaders.

Normative text: specs/torch-workflow.md §2-§3. Layout is channel-last, exactly the grouped dict of
``ptycho.raw_data.RawData.generate_grouped_data`` (specs/data-contract.md):

    X                (n, N, N, C) float32   normalised diffraction amplitudes, mean_b Σ X² = (N/2)²
    coords_relative  (n, 1, 2, C) float32   −(position − group mean), object pixels, rows [x; y]
    global_offsets   (n, 1, 2, 1) float64   group mean position [x; y] (stitching)
    nn_indices       (n, C)       int64     scan-point index of each channel
    probe            (N, N)       complex64 probe normalised by ptycho.physics.normalize_probe ((K, N, N) modes)
    intensity_scale  float                  s = sqrt(nphotons)/(N/2); model input is s·X

All tensors are kept contiguous in memory, so a batch is one fancy-index per tensor: the DataLoader
hands the dataset a list of indices (``batch_size=None`` + a ``BatchSampler``), never a list of
per-sample dicts to collate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ptycho.config.config import effective_seed
from ptycho.physics import intensity_scale as physics_intensity_scale
from ptycho.sampling import epoch_order
from ptycho_torch.lazy_data import LazyGroupedStack


class IndexMismatchError(RuntimeError):
    """The indices recorded by ``load_data(..., subsample_seed=...)`` differ from the ones grouped here."""


def _to_numpy(name: str, value: Any) -> np.ndarray:
    if value is None:
        raise ValueError(f"grouped data: required key {name!r} is missing")
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def _check_shape(name: str, arr: np.ndarray, expected: tuple[int | None, ...]) -> None:
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape, strict=False))
    if not ok:
        want = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"grouped data key {name!r}: expected shape {want}, found {arr.shape}")


@dataclass
class PtychoDataContainerTorch:
    """Grouped, normalised scan data as contiguous torch tensors (see module docstring for layouts).

    ``X`` is a :class:`~ptycho_torch.lazy_data.LazyGroupedStack` for a scan whose diffraction stays on disk
    (an HDF5 scan): :meth:`batch` then reads only the batch's patterns (specs/scaling.md §2)."""

    X: torch.Tensor | LazyGroupedStack
    coords_relative: torch.Tensor
    global_offsets: torch.Tensor
    nn_indices: torch.Tensor
    probe: torch.Tensor
    intensity_scale: float
    Y: torch.Tensor | None = None
    sample_indices: np.ndarray | None = None
    object_guess: np.ndarray | None = None
    #: (n, N, N, C) complex64 each member's patch of the scan's refined object (specs/network.md §8.3), set by
    #: :func:`ptycho_torch.generators.refined_input.attach_refined_estimate`; None otherwise
    estimate: torch.Tensor | None = None
    #: the :class:`~ptycho_torch.generators.refined_input.RefinedEstimate` the estimate was cut from (its whole
    #: canvas in the network's frame), or None
    refined: Any = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_grouped(
        cls,
        grouped: dict[str, Any],
        probe: Any,
        *,
        N: int,
        gridsize: int,
        intensity_scale: float,
        probe_scale: float,
        sample_indices: np.ndarray | None = None,
    ) -> PtychoDataContainerTorch:
        """Build from a ``generate_grouped_data`` dict; validates every shape against (N, gridsize).

        ``probe`` (N, N) complex is normalised with ``ptycho.physics.normalize_probe(probe, probe_scale)``.
        """
        from ptycho.physics import normalize_probe

        C = gridsize * gridsize
        lazy = isinstance(grouped.get("X_full"), LazyGroupedStack)  # a scan read batch by batch
        X = grouped["X_full"] if lazy else _to_numpy("X_full", grouped.get("X_full"))
        n = X.shape[0] if X.ndim else 0
        _check_shape("X_full", X, (None, N, N, C))
        rel = _to_numpy("coords_relative", grouped.get("coords_relative"))
        _check_shape("coords_relative", rel, (n, 1, 2, C))
        off = _to_numpy("coords_offsets", grouped.get("coords_offsets"))
        _check_shape("coords_offsets", off, (n, 1, 2, 1))
        nn = _to_numpy("nn_indices", grouped.get("nn_indices"))
        _check_shape("nn_indices", nn, (n, C))
        if n == 0:
            raise ValueError("grouped data: expected at least one group, found 0")
        if not lazy and not np.all(np.isfinite(X)):  # an on-disk stack was checked by the contract
            raise ValueError("grouped data key 'X_full': expected finite amplitudes, found NaN/inf")
        p = np.asarray(probe)
        if p.shape != (N, N) and (p.ndim != 3 or p.shape[1:] != (N, N)):
            raise ValueError(f"probeGuess: expected shape ({N}, {N}) or (K, {N}, {N}) modes, found {p.shape}")
        p_norm = np.asarray(normalize_probe(p.astype(np.complex64), probe_scale), dtype=np.complex64)
        Y = grouped.get("Y")
        Y_t = None
        if Y is not None:
            Yn = _to_numpy("Y", Y)
            _check_shape("Y", Yn, (n, N, N, C))
            Y_t = torch.from_numpy(np.ascontiguousarray(Yn.astype(np.complex64)))
        return cls(
            X=X if lazy else torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
            coords_relative=torch.from_numpy(np.ascontiguousarray(rel, dtype=np.float32)),
            global_offsets=torch.from_numpy(np.ascontiguousarray(off, dtype=np.float64)),
            nn_indices=torch.from_numpy(np.ascontiguousarray(nn, dtype=np.int64)),
            probe=torch.from_numpy(np.ascontiguousarray(p_norm)),
            intensity_scale=float(intensity_scale),
            Y=Y_t,
            sample_indices=None if sample_indices is None else np.asarray(sample_indices),
            object_guess=grouped.get("objectGuess"),
        )

    @classmethod
    def from_raw_data(
        cls,
        raw: Any,
        config: Any,
        *,
        n_groups: int | None = None,
        intensity_scale: float | None = None,
    ) -> PtychoDataContainerTorch:
        """Group a ``ptycho.raw_data.RawData`` with the settings of a canonical config.

        Args:
            raw: RawData (xcoords, ycoords, diff3d, probeGuess; optional sample_indices).
            config: TrainingConfig or InferenceConfig: model.N, model.gridsize, model.probe_scale,
                n_groups, neighbor_count, subsample_seed, sequential_sampling (training only), nphotons.
            n_groups: overrides ``config.n_groups`` (None there means every scan point).
            intensity_scale: overrides the closed form sqrt(config.nphotons)/(N/2) (inference passes the
                bundle's value).

        Raises:
            IndexMismatchError: ``raw.sample_indices`` (recorded by load_data) disagree with the config's
                subsample_seed, the grouped data or the persisted index file (see :func:`check_sample_indices`).
        """
        model = config.model
        N, gs = int(model.N), int(model.gridsize)
        shape = tuple(raw.diff3d.shape)  # an on-disk stack is not read here
        if len(shape) != 3 or shape[1:] != (N, N):
            raise ValueError(f"RawData.diff3d: expected shape (M, {N}, {N}) for config N={N}, found {shape}")
        nsamples = n_groups if n_groups is not None else getattr(config, "n_groups", None)
        if nsamples is None:
            nsamples = shape[0]
        grouped = raw.generate_grouped_data(
            N,
            K=int(config.neighbor_count),
            nsamples=int(nsamples),
            seed=effective_seed(config),
            sequential_sampling=bool(getattr(config, "sequential_sampling", False)),
            gridsize=gs,
            enable_oversampling=bool(getattr(config, "enable_oversampling", False)),
            neighbor_pool_size=getattr(config, "neighbor_pool_size", None),
            materialize=False,
        )
        if grouped["X_full"] is None:  # the diffraction stays on disk (specs/scaling.md §2)
            grouped["X_full"] = LazyGroupedStack(raw.diff3d, grouped["nn_indices"], grouped["X_full_norm"])
        recorded = getattr(raw, "sample_indices", None)
        if recorded is not None:
            check_sample_indices(raw, config, grouped.get("sample_indices"))
        if intensity_scale is None:
            intensity_scale = physics_intensity_scale(config.nphotons, N)
        return cls.from_grouped(
            grouped,
            raw.probeGuess,
            N=N,
            gridsize=gs,
            intensity_scale=intensity_scale,
            probe_scale=float(model.probe_scale),
            sample_indices=recorded,
        )

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def N(self) -> int:
        return int(self.X.shape[1])

    @property
    def channels(self) -> int:
        return int(self.X.shape[-1])

    @property
    def coords_offsets(self) -> torch.Tensor:
        """Alias of ``global_offsets`` (grouped-dict name)."""
        return self.global_offsets

    def batch(self, index: torch.Tensor | Sequence[int]) -> dict[str, torch.Tensor]:
        """Batch dict for the given group indices (specs/torch-workflow.md §3)."""
        idx = torch.as_tensor(index, dtype=torch.int64)
        out = {"X": self.X[idx], "coords_relative": self.coords_relative[idx], "index": idx}
        if self.Y is not None:
            Y = self.Y[idx]
            out["label_amp"] = Y.abs().to(torch.float32)
            out["label_phase"] = Y.angle().to(torch.float32)
        if self.estimate is not None:
            out["estimate"] = self.estimate[idx]
        return out


def check_sample_indices(raw: Any, config: Any, echoed: Any = None) -> None:
    """Assert that the subsample recorded by ``load_data(..., subsample_seed=X)`` is the one used here.

    Checks (specs/torch-workflow.md §2), each failure an :class:`IndexMismatchError` showing both sides:
    the config's ``subsample_seed`` (when set) equals the recorded ``raw.subsample_seed``; the recorded
    indices have one entry per scan point of ``raw``; the grouped data echo the same indices; and the
    indices persisted as ``<config.output_dir>/tmp/subsample_seed{X}_indices.txt`` (when that file exists)
    are the same list.
    """
    rec = np.asarray(raw.sample_indices).ravel()
    raw_seed = getattr(raw, "subsample_seed", None)
    cfg_seed = getattr(config, "subsample_seed", None)
    if cfg_seed is not None and raw_seed is not None and int(cfg_seed) != int(raw_seed):
        raise IndexMismatchError(
            f"subsample index mismatch: RawData.sample_indices {_abbrev(rec)} were drawn by load_data with "
            f"subsample_seed={raw_seed} but config.subsample_seed={cfg_seed}; use the same subsample_seed"
        )
    n_points = len(np.asarray(raw.xcoords))
    if rec.size != n_points:
        raise IndexMismatchError(
            f"subsample index mismatch: RawData.sample_indices has {rec.size} entries {_abbrev(rec)} but the "
            f"scan has {n_points} positions"
        )
    if echoed is not None:
        ech = np.asarray(echoed).ravel()
        if ech.shape != rec.shape or not np.array_equal(ech, rec):
            raise IndexMismatchError(
                f"subsample index mismatch: RawData.sample_indices {_abbrev(rec)} but the grouped data use {_abbrev(ech)}"
            )
    out_dir = getattr(config, "output_dir", None)
    if out_dir is not None and raw_seed is not None:
        from pathlib import Path

        persisted = Path(out_dir) / "tmp" / f"subsample_seed{int(raw_seed)}_indices.txt"
        if persisted.is_file():
            saved = np.array([int(t) for t in persisted.read_text().split()], dtype=np.int64)
            if saved.shape != rec.shape or not np.array_equal(saved, rec):
                raise IndexMismatchError(
                    f"subsample index mismatch: {persisted} lists {_abbrev(saved)} but RawData.sample_indices is "
                    f"{_abbrev(rec)}; use the same subsample_seed"
                )


def _abbrev(a: np.ndarray, k: int = 8) -> str:
    head = ", ".join(str(int(v)) for v in a[:k])
    return f"[{head}{', ...' if a.size > k else ''}] (n={a.size})"


class GroupedBatchDataset(Dataset):
    """Dataset whose items are whole batches: ``ds[list_of_indices] -> batch dict`` (no collate)."""

    def __init__(self, container: PtychoDataContainerTorch):
        self.container = container

    def __len__(self) -> int:
        return len(self.container)

    def __getitem__(self, index: Sequence[int]) -> dict[str, torch.Tensor]:
        return self.container.batch(index)


class EpochBatchSampler(Sampler):
    """Batches of group indices whose order is a pure function of (seed, epoch) - resumable mid-epoch.

    Epoch ``e`` yields ``ptycho.sampling.epoch_order(n, seed, e)`` (the order the TensorFlow trainer uses too) cut into
    batches of ``batch_size`` (the last one shorter unless ``drop_last``); without ``shuffle`` the order is
    ``0..n-1`` every epoch. There is no hidden generator state: Lightning calls :meth:`set_epoch` before
    every epoch (and a resumed run calls :meth:`resume_at`), so a run restarted from a checkpoint sees
    exactly the batches an uninterrupted run would have seen (specs/reliability.md §1).

    Distributed runs (specs/scaling.md §1): after :meth:`set_shard` (rank r of W processes) ``batch_size`` is
    the *global* batch. Every rank computes the same epoch order and the same global batches and takes the
    strided share ``global_batch[r::W]``; DDP's gradient average over ranks of equal shares is then the
    gradient of the global batch's mean loss, as in one process with the same ``batch_size``. A global batch
    whose length is not a multiple of W (only the last one of an epoch can be) is cut to the largest
    multiple, so every rank takes the same number of equal steps; ``batch_size`` itself must be a multiple
    of W (ValueError otherwise).

    Attributes:
        epoch: epoch whose order the next iteration yields.
        rank, world_size: this process's share (0 and 1 outside a distributed run).
    """

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, seed: int = 42, drop_last: bool = False):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, found {batch_size!r}")
        self.n, self.batch_size, self.shuffle = int(n), batch_size, bool(shuffle)
        self.seed, self.drop_last = int(seed), bool(drop_last)
        self.epoch = 0
        self.rank, self.world_size = 0, 1
        self._skip: tuple[int, int] | None = None  # (epoch, batches already done in that epoch)

    def set_shard(self, rank: int, world_size: int) -> None:
        """Serve the share of process ``rank`` of ``world_size`` (called by the trainer before fitting)."""
        if not (isinstance(world_size, int) and world_size >= 1 and isinstance(rank, int) and 0 <= rank < world_size):
            raise ValueError(f"set_shard: expected 0 <= rank < world_size, found rank={rank!r} world_size={world_size!r}")
        if self.batch_size % world_size:
            raise ValueError(f"batch_size: expected a multiple of the {world_size} training processes (the global "
                             f"batch is shared equally), found {self.batch_size}")
        self.rank, self.world_size = rank, world_size

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration yields (called by Lightning each epoch)."""
        self.epoch = int(epoch)

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """Make the next iteration of ``epoch`` start after its first ``batches_done`` batches."""
        if batches_done < 0 or batches_done > len(self):
            raise ValueError(f"resume_at: batches_done: expected 0..{len(self)}, found {batches_done}")
        self.epoch = int(epoch)
        self._skip = (int(epoch), int(batches_done))

    def order(self, epoch: int) -> torch.Tensor:
        """(n,) int64 sample order of ``epoch``."""
        if not self.shuffle:
            return torch.arange(self.n, dtype=torch.int64)
        return torch.from_numpy(epoch_order(self.n, self.seed, epoch))

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        # a short last batch is kept unless drop_last, or unless it cannot give every process one pattern
        return full + int(rest >= self.world_size and not self.drop_last)

    def __iter__(self):
        epoch = self.epoch
        start = 0
        if self._skip is not None and self._skip[0] == epoch:
            start = self._skip[1]
        self._skip = None
        order = self.order(epoch).tolist()
        W, r = self.world_size, self.rank
        for b in range(start, len(self)):
            batch = order[b * self.batch_size:(b + 1) * self.batch_size]
            if W == 1:
                yield batch
            else:
                yield batch[:len(batch) - len(batch) % W][r::W]


def build_dataloader(
    container: PtychoDataContainerTorch,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 42,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> DataLoader:
    """DataLoader over batch dicts whose sampler is an :class:`EpochBatchSampler` (``loader.sampler``).

    The order of epoch ``e`` depends only on (container length, batch_size, shuffle, seed, e): two loaders
    built alike yield identical batch sequences, and a resumed run replays the remaining batches of an
    interrupted epoch exactly.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, found {batch_size!r}")
    sampler = EpochBatchSampler(len(container), batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    return DataLoader(
        GroupedBatchDataset(container),
        sampler=sampler,
        batch_size=None,
        num_workers=int(num_workers),
        persistent_workers=bool(num_workers),
        pin_memory=bool(pin_memory),  # page-locked batches for asynchronous copies to a GPU
    )


def create_ptycho_data_container(
    data: Any, config: Any, *, intensity_scale: float | None = None, n_groups: int | None = None
) -> PtychoDataContainerTorch:
    """RawData -> grouped container (config.n_groups unless ``n_groups`` is given, neighbor_count,
    subsample_seed, ...); containers pass through."""
    if isinstance(data, PtychoDataContainerTorch):
        return data
    if hasattr(data, "generate_grouped_data") and hasattr(data, "diff3d"):
        return PtychoDataContainerTorch.from_raw_data(data, config, intensity_scale=intensity_scale, n_groups=n_groups)
    raise TypeError(
        f"data: expected ptycho.raw_data.RawData or PtychoDataContainerTorch, found {type(data).__name__}"
    )


__all__ = [
    "create_ptycho_data_container",
    "EpochBatchSampler",
    "GroupedBatchDataset",
    "IndexMismatchError",
    "PtychoDataContainerTorch",
    "build_dataloader",
    "check_sample_indices",
]
