"""The run options the benchmark scripts share, spelled one way: ``--threads`` (torch CPU threads), ``--seed`` and,
where a script simulates its scan, ``--positions``."""

from __future__ import annotations

import argparse


def add_run_options(parser: argparse.ArgumentParser, *, threads: int = 2, seed: int | None = 0,
                    positions: int | None = None) -> None:
    """Add ``--threads`` (default ``threads``), ``--seed`` (unless ``seed`` is None) and ``--positions`` (when
    ``positions`` is given) to ``parser``."""
    if positions is not None:
        parser.add_argument("--positions", type=int, default=positions,
                            help=f"scan positions simulated (default {positions})")
    parser.add_argument("--threads", type=int, default=threads, help=f"torch CPU threads (default {threads})")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed, help=f"simulation and weight seed (default {seed})")
