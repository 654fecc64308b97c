"""Explanatory figures for the documentation, drawn from the project's own physics code.

``coordinate_convention_figure`` shows the coordinate convention of specs/physics.md: a simulated object,
three scan positions (x = column, y = row, object pixels) with the N×N patch ``ptycho.physics.extract_patches``
cuts around each, and the extracted patches themselves with their centre index (N/2, N/2) marked.
"""

from __future__ import annotations

import os

import numpy as np

from ptycho.physics import extract_patches
from ptycho.simulation import make_object


def coordinate_convention_figure(path: str | os.PathLike[str], N: int = 32, size: int = 112) -> None:
    """Write the coordinate-convention figure (PNG) to ``path`` atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from ptycho_cli.figures import save_figure

    obj = make_object("siemens", size, np.random.default_rng(0))
    positions = np.array([[30.0, 40.0], [70.0, 40.0], [52.0, 78.0]])  # rows [x, y]
    patches = extract_patches(obj, positions, N)

    fig = plt.figure(figsize=(9.0, 4.2), layout="constrained")
    grid = fig.add_gridspec(2, 4)
    ax = fig.add_subplot(grid[:, :2])
    ax.imshow(np.abs(obj), cmap="gray", origin="upper")
    ax.set_title("object amplitude, object-pixel frame")
    ax.set_xlabel("x = column (pixels) →")
    ax.set_ylabel("← y = row (pixels)")
    colours = ["tab:red", "tab:orange", "tab:cyan"]
    for k, ((x, y), colour) in enumerate(zip(positions, colours, strict=True)):
        ax.add_patch(Rectangle((x - N / 2 - 0.5, y - N / 2 - 0.5), N, N, fill=False, ec=colour, lw=2))
        ax.plot([x], [y], "+", color=colour, ms=12, mew=2)
        ax.annotate(f"({x:.0f}, {y:.0f})", (x, y), xytext=(4, -6), textcoords="offset points", color=colour)
        sub = fig.add_subplot(grid[k // 2, 2 + k % 2])
        sub.imshow(np.abs(patches[k]), cmap="gray", origin="upper")
        sub.plot([N / 2], [N / 2], "+", color=colour, ms=12, mew=2)
        sub.set_title(f"patch {k}: centre index (N/2, N/2)", fontsize=8)
        sub.set_xticks([0, N // 2, N - 1])
        sub.set_yticks([0, N // 2, N - 1])
    save_figure(fig, path)
    plt.close(fig)
