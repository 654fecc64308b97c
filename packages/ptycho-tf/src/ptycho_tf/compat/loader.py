"""``ptycho.loader``: the grouped-data container under its legacy name (specs/tf-backend.md §6).

The container is :mod:`ptycho_tf.data`'s (the same classes); the functions here take ``nphotons`` and
``gridsize`` as :mod:`ptycho_tf.data` does, and read a value the caller leaves out from the legacy
``ptycho.params`` mirror (the ptychodus call pattern: ``ptycho.loader.load(lambda: d, probe, which=None,
create_split=False)`` after ``update_legacy_dict``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ptycho import params
from ptycho_tf import data
from ptycho_tf.data import ObjectFrameOffsets, PtychoDataContainer, PtychoDataset

__all__ = ["PtychoDataContainer", "PtychoDataset", "ObjectFrameOffsets", "load", "from_raw_data_without_pc"]

#: the values a legacy caller may leave out, and their defaults when the mirror has none
DEFAULT_NPHOTONS = 1e9
DEFAULT_GRIDSIZE = 1


def load(cb: Callable[[], Any], probeGuess, which: str | None = None, create_split: bool = False, *,
         nphotons: float | None = None) -> PtychoDataContainer:
    """:func:`ptycho_tf.data.load` with ``nphotons`` None read from ``params`` (default 1e9)."""
    photons = params.get("nphotons", DEFAULT_NPHOTONS) if nphotons is None else nphotons
    return data.load(cb, probeGuess, which, create_split, nphotons=float(photons))


def from_raw_data_without_pc(xcoords, ycoords, diff3d, probeGuess, scan_index, objectGuess=None, N=None, K=7,
                             nsamples=1, *, gridsize: int | None = None,
                             nphotons: float | None = None) -> PtychoDataContainer:
    """``PtychoDataContainer.from_raw_data_without_pc`` with ``gridsize`` / ``nphotons`` None read from
    ``params`` (defaults 1 and 1e9)."""
    gs = params.get("gridsize", DEFAULT_GRIDSIZE) if gridsize is None else gridsize
    photons = params.get("nphotons", DEFAULT_NPHOTONS) if nphotons is None else nphotons
    return PtychoDataContainer.from_raw_data_without_pc(xcoords, ycoords, diff3d, probeGuess, scan_index, objectGuess,
                                                        N, K, nsamples, gridsize=int(gs), nphotons=float(photons))
