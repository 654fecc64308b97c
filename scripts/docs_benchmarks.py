"""The benchmark plots of docs/reference/benchmarks.md, drawn at build time from ``benchmarks/RESULTS.md``.

The committed record is the single source: its Markdown tables are parsed here and plotted into
``docs/generated/benchmarks/`` (git-ignored), so the figures cannot drift from the numbers. A table that is
missing or no longer has the expected columns raises :class:`BenchmarkParseError` with one line naming the
section, which fails the build (no plot is silently dropped).

Figures (file -> source section):

* ``refinement_speed.png``: seconds each solver needs to reach pty-chi's best reconstruction on the three neutral
  scans (idle machine), from "Refinement against pty-chi on neutral scans";
* ``network_scans.png``: amplitude and phase SSIM of the network alone, the network followed by 10 refinement
  passes, and pty-chi on the three benchmark scans, from "The network on the three benchmark scans".
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
OUT = ROOT / "docs" / "generated" / "benchmarks"

#: figure file -> alt text / caption
FIGURES = {
    "refinement_speed.png": "Seconds to reach pty-chi's best reconstruction, refinement against pty-chi",
    "network_scans.png": "SSIM of the network alone, after 10 refinement passes, and pty-chi, per scan",
}
NEUTRAL = "Refinement against pty-chi on neutral scans"
NETWORK = "The network on the three benchmark scans"
MULTIMODE = "Mixed-state probes"

__all__ = ["BenchmarkParseError", "FIGURES", "section_tables", "build_benchmark_figures", "neutral_speed",
           "network_rows", "multimode_rows"]


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


def _table(text: str, heading: str, first_header: str, columns: tuple[str, ...] = ()) -> list[list[str]]:
    """The section's table whose first column is ``first_header`` and which has every one of ``columns``."""
    for table in section_tables(text, heading):
        if table[0][0] == first_header and all(c in table[0] for c in columns):
            return table
    raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}' has no table whose first column is "
                              f"'{first_header}' with columns {list(columns)}")


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


_PAIR = re.compile(r"([-−]?\d*\.\d+|[-−]?\d+)\s*/\s*([-−]?\d*\.\d+|[-−]?\d+)")


def _pairs(cell: str, heading: str, count: int = 1) -> list[tuple[float, float]]:
    """The first ``count`` 'amplitude / phase' pairs of a cell (``0.784 / 0.895 vs 0.843 / 0.889``)."""
    found = _PAIR.findall(cell)
    if len(found) < count:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}': expected {count} 'amp / phase' pair(s), "
                                  f"found '{cell}'")
    return [(_number(a, heading), _number(p, heading)) for a, p in found[:count]]


def _lead_number(cell: str, heading: str) -> float:
    m = re.match(r"\s*([-−]?[\d.]+)", cell)
    if not m:
        raise BenchmarkParseError(f"{RESULTS.name}: section '{heading}': expected a number, found '{cell}'")
    return _number(m.group(1), heading)


def neutral_speed(text: str) -> list[tuple[str, tuple[float, float], float, float, tuple[float, float]]]:
    """The idle-machine table of the neutral-scan comparison: (scan, pty-chi's best amp/phase SSIM, pty-chi's
    seconds to it, our seconds to it, our final amp/phase SSIM) per scan."""
    cols = ("anchor amp / phase SSIM", "pty-chi s to it", "ours:default s (ratio)", "ours:default end (passes, s)")
    table = _table(text, NEUTRAL, "scan", cols)
    idx = [_column(table, c, NEUTRAL) for c in cols]
    return [(r[0], _pairs(r[idx[0]], NEUTRAL)[0], _lead_number(r[idx[1]], NEUTRAL), _lead_number(r[idx[2]], NEUTRAL),
             _pairs(r[idx[3]], NEUTRAL)[0]) for r in table[1:]]


def network_rows(text: str) -> list[tuple[str, tuple[float, float], tuple[float, float], tuple[float, float]]]:
    """The network on the benchmark scans: (scan, network alone, 10 refinement passes from the network, pty-chi
    20 iterations), each an (amplitude, phase) SSIM pair."""
    cols = ("network alone (`ptycho infer`)", "refine 10 passes from network / from flat", "pty-chi 20 it")
    table = _table(text, NETWORK, "scan (object / probe / pattern)", cols)
    idx = [_column(table, c, NETWORK) for c in cols]
    return [(r[0], _pairs(r[idx[0]], NETWORK)[0], _pairs(r[idx[1]], NETWORK)[0], _pairs(r[idx[2]], NETWORK)[0])
            for r in table[1:]]


def multimode_rows(text: str) -> dict[str, tuple[float, float, float]]:
    """The mixed-state probe table: run -> (amplitude SSIM, phase SSIM, seconds)."""
    table = _table(text, MULTIMODE, "run", ("amp SSIM", "phase SSIM", "seconds"))
    idx = [_column(table, c, MULTIMODE) for c in ("amp SSIM", "phase SSIM", "seconds")]
    return {r[0]: tuple(_number(r[i], MULTIMODE) for i in idx) for r in table[1:]}  # type: ignore[misc]


def _short(scan: str) -> str:
    return scan.split("/")[0].strip().replace(" (grf)", "").replace("natural image", "natural")


def _speed_figure(text: str, path: Path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    rows = neutral_speed(text)
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(5.6, 2.8))
    ax.barh(y + 0.2, [r[2] for r in rows], 0.4, label="pty-chi (LSQML)", color="tab:gray")
    ax.barh(y - 0.2, [r[3] for r in rows], 0.4, label="ours (ptycho refine)", color="tab:blue")
    ax.set_yticks(y, [_short(r[0]) for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("seconds to reach pty-chi's best (2 idle CPU cores, 1 thread)")
    ratios = [r[2] / r[3] for r in rows]
    ax.set_title(f"Refinement reaches pty-chi's best {min(ratios):.0f}-{max(ratios):.0f}x sooner", fontsize=10)
    ax.set_xlim(0, 1.5 * max(r[2] for r in rows))  # room on the right for the legend
    ax.legend(fontsize=8, loc="center right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _network_figure(text: str, path: Path) -> None:
    import matplotlib.pyplot as plt
    import numpy as np

    rows = network_rows(text)
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(5.6, 2.8), sharey=True)
    series = (("network alone", 1, "tab:orange"), ("+ 10 refinement passes", 2, "tab:blue"),
              ("pty-chi, 20 iterations", 3, "tab:gray"))
    for k, (ax, title) in enumerate(zip(axes, ("amplitude SSIM", "phase SSIM"), strict=True)):
        for j, (label, col, color) in enumerate(series):
            ax.bar(x + (j - 1) * 0.27, [r[col][k] for r in rows], 0.27, label=label, color=color)
        ax.set_xticks(x, [_short(r[0]) for r in rows], fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.axhline(0, color="k", lw=0.6)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(-0.1, 1.0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_benchmark_figures(out_dir: Path = OUT, results: Path = RESULTS) -> list[Path]:
    """Parse ``results`` and write the figures of :data:`FIGURES` into ``out_dir``; return their paths.

    All tables are parsed before anything is drawn, so a parse error leaves no partial set behind.
    """
    import matplotlib

    matplotlib.use("Agg")
    text = results.read_text(encoding="utf-8")
    neutral_speed(text), network_rows(text), multimode_rows(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    makers = {"refinement_speed.png": _speed_figure, "network_scans.png": _network_figure}
    paths = []
    for name in FIGURES:
        makers[name](text, out_dir / name)
        paths.append(out_dir / name)
    for stale in out_dir.glob("*.png"):
        if stale.name not in FIGURES:
            stale.unlink()
    return paths
