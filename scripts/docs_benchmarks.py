"""The benchmark plots of docs/reference/benchmarks.md, drawn at build time from ``benchmarks/RESULTS.md``.

The committed record is the single source: its Markdown tables are parsed here and plotted into
``docs/generated/benchmarks/`` (git-ignored), so the figures cannot drift from the numbers. A table that is
missing or no longer has the expected columns raises :class:`BenchmarkParseError` with one line naming the
section, which fails the build (no plot is silently dropped).

Figures (file -> source section):

* ``quality.png``: amplitude and phase SSIM against wall seconds per method, from "Reconstruction quality, full
  run with the product recipe" (points) and "Refinement on the realistic scan's unseen half" run A (one line
  per start, one point per pass);
* ``throughput.png``: training and inference FLOP rate as a share of the matmul rate per gridsize, from
  "PyTorch throughput";
* ``scale.png``: peak RSS (GiB) against the number of patterns for inference and training, with the stack size,
  from "Scale: HDF5 scans read on demand".
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
OUT = ROOT / "docs" / "generated" / "benchmarks"

#: figure file -> (section heading prefix, alt text / caption)
FIGURES = {
    "quality.png": "SSIM against wall time per method (realistic Siemens scan, unseen half)",
    "throughput.png": "PyTorch training and inference FLOP rate as a share of the matmul rate",
    "scale.png": "Peak RSS against the number of patterns (HDF5 read on demand, streamed inference)",
}
QUALITY = "Reconstruction quality, full run with the product recipe"
REFINEMENT = "Refinement on the realistic scan's unseen half"
THROUGHPUT = "PyTorch throughput"
SCALE = "Scale: HDF5 scans read on demand"

__all__ = ["BenchmarkParseError", "FIGURES", "section_tables", "build_benchmark_figures"]


class BenchmarkParseError(ValueError):
    """A section of benchmarks/RESULTS.md lacks the table a figure is drawn from (message: one line)."""


def section_tables(text: str, heading: str) -> list[list[list[str]]]:
    """The Markdown tables of the ``##`` section whose title starts with ``heading``.

    Returns a list of tables, each a list of rows (header first, the ``|---|`` line dropped), each row a list
    of stripped cell strings with ``**`` emphasis removed. Raises :class:`BenchmarkParseError` when the
    section is missing or holds no table.
    """
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("## ") and ln[3:].startswith(heading)), None)
    if start is None:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}' not found")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in lines[start + 1:end] + [""]:
        if line.startswith("|"):
            cells = [c.strip().replace("**", "") for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    if not tables:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}' holds no table")
    return tables


def _table(text: str, heading: str, first_header: str) -> list[list[str]]:
    for table in section_tables(text, heading):
        if table[0][0] == first_header:
            return table
    raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}' has no table whose first column is "
                              f"'{first_header}'")


def _number(cell: str, heading: str) -> float:
    try:
        return float(cell.replace(",", "").replace("−", "-"))
    except ValueError:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}': expected a number, found '{cell}'") from None


def _column(table: list[list[str]], name: str, heading: str) -> int:
    if name not in table[0]:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}': expected a column '{name}', found "
                                  f"{table[0]}")
    return table[0].index(name)


def quality_points(text: str) -> list[tuple[str, float, float, float]]:
    """(method, wall s, amplitude SSIM, phase SSIM) for every timed row of the product-recipe run."""
    table = _table(text, QUALITY, "method")
    wall, amp, phase = (_column(table, c, QUALITY) for c in ("wall s", "amp SSIM", "phase SSIM"))
    rows = [(r[0], r[wall], r[amp], r[phase]) for r in table[1:] if r[wall] not in ("–", "-", "")]
    if not rows:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{QUALITY}': no row with a wall time")
    return [(m, _number(w, QUALITY), _number(a, QUALITY), _number(p, QUALITY)) for m, w, a, p in rows]


def refinement_curves(text: str) -> dict[str, list[tuple[float, float, float]]]:
    """Run A of the refinement benchmark: start -> [(seconds, amplitude SSIM, phase SSIM) per pass]."""
    table = _table(text, REFINEMENT, "pass")
    cell = re.compile(r"^\s*([-−\d.]+)\s*/\s*([-−\d.]+)\s*\(([\d.]+)\)\s*$")
    curves: dict[str, list[tuple[float, float, float]]] = {}
    for row in table[1:]:
        points = []
        for value in row[1:]:
            if not value:
                continue
            m = cell.match(value)
            if not m:
                raise BenchmarkParseError(f"{RESULTS.name}: section '{REFINEMENT}': expected 'amp / phase (s)', "
                                          f"found '{value}'")
            points.append((_number(m.group(3), REFINEMENT), _number(m.group(1), REFINEMENT),
                           _number(m.group(2), REFINEMENT)))
        if points:
            curves[row[0]] = points
    if not curves:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{REFINEMENT}': the pass table has no rows")
    return curves


def throughput_shares(text: str) -> list[tuple[str, float, float]]:
    """(gridsize, training share, inference share) of the float32 matmul rate."""
    table = _table(text, THROUGHPUT, "gs")
    train, infer = _column(table, "train/mm", THROUGHPUT), _column(table, "infer/mm", THROUGHPUT)
    return [(r[0], _number(r[train], THROUGHPUT), _number(r[infer], THROUGHPUT)) for r in table[1:]]


def scale_rows(text: str) -> list[tuple[float, float, float | None, float | None]]:
    """(patterns, stack GiB, inference peak RSS GiB or None, training peak RSS GiB or None)."""
    table = _table(text, SCALE, "patterns")
    cols = [_column(table, c, SCALE) for c in ("stack GiB", "infer peak RSS GiB", "train peak RSS GiB")]

    def maybe(cell: str) -> float | None:
        return None if cell == "not run" else _number(cell, SCALE)

    return [(_number(r[0], SCALE), _number(r[cols[0]], SCALE), maybe(r[cols[1]]), maybe(r[cols[2]]))
            for r in table[1:]]


def _quality_figure(text: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    points, curves = quality_points(text), refinement_curves(text)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2), sharey=True)
    for k, (ax, label) in enumerate(zip(axes, ("amplitude SSIM", "phase SSIM"), strict=True)):
        for name, curve in curves.items():
            ax.plot([c[0] for c in curve], [c[1 + k] for c in curve], "o-", ms=3, label=f"{name} (issue 15, run A)")
        for method, wall, amp, phase in points:
            ax.plot(wall, (amp, phase)[k], "s", ms=7, label=f"{method} (product recipe)")
        ax.set_xscale("log")
        ax.set_xlabel("wall seconds (shared 2-core CPU, under load)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SSIM on the unseen half (higher is better)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.22, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _throughput_figure(text: str, path: Path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    rows = throughput_shares(text)
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.bar(x - 0.2, [r[1] for r in rows], 0.4, label="training")
    ax.bar(x + 0.2, [r[2] for r in rows], 0.4, label="inference")
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="float32 matmul rate")
    ax.set_xticks(x, [f"gridsize {r[0]}" for r in rows])
    ax.set_ylabel("FLOP rate / matmul rate")
    ax.set_ylim(0, 1.1)
    ax.set_title("PyTorch on 2 CPU cores (N = 64, batch 16)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _scale_figure(text: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    rows = scale_rows(text)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot([r[0] for r in rows], [r[1] for r in rows], "k--", label="diffraction stack on disk")
    for idx, label in ((2, "inference peak RSS"), (3, "training peak RSS")):
        done = [r for r in rows if r[idx] is not None]
        ax.plot([r[0] for r in done], [r[idx] for r in done], "o-", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("patterns in the scan")
    ax.set_ylabel("GiB")
    ax.set_title("Memory does not grow with the scan")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_benchmark_figures(out_dir: Path = OUT, results: Path = RESULTS) -> list[Path]:
    """Parse ``results`` and write the figures of :data:`FIGURES` into ``out_dir``; return their paths.

    All tables are parsed before anything is drawn, so a parse error leaves no partial set behind.
    """
    import matplotlib

    matplotlib.use("Agg")
    text = results.read_text(encoding="utf-8")
    quality_points(text), refinement_curves(text), throughput_shares(text), scale_rows(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    makers = {"quality.png": _quality_figure, "throughput.png": _throughput_figure, "scale.png": _scale_figure}
    paths = []
    for name in FIGURES:
        makers[name](text, out_dir / name)
        paths.append(out_dir / name)
    return paths
