"""Typed results of the PyTorch workflow (specs/torch-workflow.md §7) that still answer the seed guide's keys.

:class:`TrainingResults` (``train_cdi_model_torch`` / ``run_cdi_example_torch``) and
:class:`ReconstructionResults` (``reassemble_cdi_image_torch``) are dataclasses whose fields are the seed
guide's dict keys, and mutable mappings over those fields: ``results['history']`` and ``results.history`` are
the same value, ``results.get(...)``, ``in``, ``update`` and ``dict(results)`` work as on the dicts they
replace. A field that is always set is always a key; an optional field (default None) is a key only once it is
set, as the key appeared in the dict only then. Keys that are not fields (added by a caller) are kept in
``extra``.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ReconstructionResults", "TrainingResults"]


class _FieldMapping(MutableMapping[str, Any]):
    """Mapping protocol over a dataclass's fields (fields listed in ``_OPTIONAL`` only when not None)."""

    _OPTIONAL: frozenset[str] = frozenset()
    extra: dict[str, Any]

    def _field_names(self) -> list[str]:
        return [f.name for f in fields(self) if f.name != "extra"]  # type: ignore[arg-type]

    def _present(self, name: str) -> bool:
        return name not in self._OPTIONAL or getattr(self, name) is not None

    def __getitem__(self, key: str) -> Any:
        if key in self._field_names() and self._present(key):
            return getattr(self, key)
        if key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self._field_names():
            setattr(self, key, value)
        else:
            self.extra[key] = value

    def __delitem__(self, key: str) -> None:
        if key in self._OPTIONAL and getattr(self, key) is not None:
            setattr(self, key, None)
        elif key in self.extra:
            del self.extra[key]
        else:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from (name for name in self._field_names() if self._present(name))
        yield from self.extra

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(eq=False)
class ReconstructionResults(_FieldMapping):
    """What stitching one scan gives: ``obj_tensor_full`` (n, N, N, 1) complex64 patches, ``global_offsets``
    (n, 1, 2, 1) float64 after the flips, ``recon_amp`` / ``recon_phase`` (H, W) float32, ``stitched_obj``
    (H, W) complex64 and the ``test_container`` that was predicted. ``obj_tensor_full`` is None (and not a
    key) for a scan stitched batch by batch from disk (specs/scaling.md §3)."""

    _OPTIONAL = frozenset({"obj_tensor_full"})

    obj_tensor_full: np.ndarray | None
    global_offsets: np.ndarray
    recon_amp: np.ndarray
    recon_phase: np.ndarray
    stitched_obj: np.ndarray
    test_container: Any
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class TrainingResults(_FieldMapping):
    """What a training run gives (always keys): ``history`` ({'train_loss', 'val_loss'}, one float per epoch),
    ``models`` ('lightning_module', 'diffraction_to_obj'), ``train_container``, ``test_container`` (or None),
    ``intensity_scale``, ``probe``, ``trainer``, ``checkpoint_path`` (or None), ``seed``, ``module_kwargs``.
    Keys once set: ``bundle_path`` and ``backend`` (``run_cdi_example_torch``), and with stitching those of
    :class:`ReconstructionResults`."""

    _OPTIONAL = frozenset({"bundle_path", "backend", "obj_tensor_full", "global_offsets", "recon_amp",
                           "recon_phase", "stitched_obj"})

    history: dict[str, list[float]]
    models: dict[str, Any]
    train_container: Any
    test_container: Any
    intensity_scale: float
    probe: Any
    trainer: Any
    checkpoint_path: Path | None
    seed: int
    module_kwargs: dict[str, Any]
    bundle_path: Path | None = None
    backend: str | None = None
    obj_tensor_full: np.ndarray | None = None
    global_offsets: np.ndarray | None = None
    recon_amp: np.ndarray | None = None
    recon_phase: np.ndarray | None = None
    stitched_obj: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)
