"""Detector counts given to the ``ptycho`` command: converted, with one 'note' line (specs/cli.md §2,
specs/data-contract.md §2.2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptycho_cli.main import main


def test_counts_notice_is_one_line(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(20.0, (4, 64, 64)).astype(np.uint16)
    path = tmp_path / "counts.npz"
    np.savez(path, diffraction=counts, xcoords=rng.uniform(40, 80, 4), ycoords=rng.uniform(40, 80, 4),
             probeGuess=np.ones((64, 64), np.complex64))
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"{path}: OK (4 positions, N=64)"
    assert err.strip().splitlines() == [
        f"ptycho validate: note: {path}: key 'diffraction': integer detector counts (uint16, max {counts.max()}) "
        "converted to amplitudes sqrt(counts); store float32 amplitudes to silence this"]
