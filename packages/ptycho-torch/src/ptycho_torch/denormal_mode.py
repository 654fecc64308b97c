"""The thread's denormal float32 mode: read it, flush within a block, restore it (specs/torch-training.md §4).

Plain torch (no Lightning), so the refinement solver can use it without importing the training stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["denormal_mode_restored", "denormals_flushed", "flush_denormals_enabled"]


def flush_denormals_enabled() -> bool:
    """Whether this thread flushes denormal float32 values to zero (x86 FTZ/DAZ, ``torch.set_flush_denormal``)."""
    return float(torch.tensor([1e-39], dtype=torch.float32).mul(2.0)[0]) == 0.0


@contextmanager
def denormals_flushed(device: Any) -> Iterator[None]:
    """Denormal float32 values (below 1.2e-38) read and written as zero while the block runs on the CPU; the
    previous mode is restored after (specs/torch-training.md §4).

    The deep layers' tiny gradients and Adam's second moments (their squares) underflow into denormals, which
    x86 cores process many times slower than normal numbers: unflushed CPU training steps were seen
    intermittently ~2.5x slower (benchmarks/RESULTS.md, "Side by side"). A zero in place of a value below
    1.2e-38 changes nothing that Adam's eps (1e-8) does not already swamp. Other devices are left alone.
    """
    with denormal_mode_restored():
        if torch.device(device).type == "cpu":
            torch.set_flush_denormal(True)
        yield


@contextmanager
def denormal_mode_restored() -> Iterator[None]:
    """Restores this thread's denormal mode when the block ends."""
    before = flush_denormals_enabled()
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
