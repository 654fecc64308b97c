"""Helpers shared by the gallery scripts (not an example itself: the gallery runs ``examples/[0-9]*.py``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ptycho_cli.main import main as ptycho


def run(*argv: str) -> None:
    """Run one `ptycho` command in-process, exactly as on the command line; stop on failure."""
    code = ptycho(list(argv))
    if code != 0:
        raise SystemExit(f"ptycho {' '.join(argv)} failed with exit code {code}")


def amplitude_phase_panels(panels: list[tuple[str, np.ndarray]], path: Path) -> None:
    """One column per (title, complex image): amplitude on top (gray), phase below (viridis, rad)."""
    fig, axes = plt.subplots(2, len(panels), figsize=(3.4 * len(panels), 6.6), constrained_layout=True,
                             squeeze=False)
    for col, (label, image) in enumerate(panels):
        axes[0, col].imshow(np.abs(image), cmap="gray")
        axes[1, col].imshow(np.angle(image), cmap="viridis")
        axes[0, col].set_title(label, fontsize=10)
        for ax in axes[:, col]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("amplitude")
    axes[1, 0].set_ylabel("phase (rad)")
    fig.savefig(path, dpi=90)
    plt.close(fig)
