"""Files of a refinement run (specs/refinement.md §7): object in the layout of plain inference, probe,
positions, convergence log (JSON + CSV) and figure. Every file is written atomically; if any write fails,
the files this call wrote are removed before the error propagates (no half-written output set).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_refinement", "OBJECT_NPZ", "LOG_JSON", "LOG_CSV", "FIGURE", "PROBE_NPZ", "POSITIONS_NPZ"]

OBJECT_NPZ = "reconstructed_object.npz"
LOG_JSON = "refine_log.json"
LOG_CSV = "refine_log.csv"
FIGURE = "refine_convergence.png"
PROBE_NPZ = "refined_probe.npz"
POSITIONS_NPZ = "refined_positions.npz"


def _convergence_png(history: list[dict[str, float]], initial: float, path: Path, units: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    from ptycho.atomic_io import atomic_write

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    its = [0] + [row["iteration"] for row in history]
    ax.plot(its, [initial] + [row["nll"] for row in history], "o-", ms=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"NLL per element ({units})")
    ax.set_title("Refinement convergence")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())


def write_refinement(out_dir: str | Path, result: Any, scan: dict[str, Any], options: Any,
                     network_log: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the files of :class:`ptycho_torch.refine.RefineResult` ``result`` into ``out_dir``; returns their paths.

    ``network_log`` (``--refine-target network|both``): the network fine-tuning's target, options, NLLs and
    history, stored under the key 'network' of the JSON log (the CSV and figure are the object passes').
    """
    from ptycho.atomic_io import save_json_atomic, save_npz_atomic, save_text_atomic
    from ptycho_torch.export import save_reconstruction_pngs
    from ptycho_torch.refine.start import output_object

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    obj, placed = output_object(result.object, result.origin_xy, scan["positions"])
    units = "counts" if scan.get("scale_known") else "amplitude^2 (scan scale unknown)"
    log = {"options": dataclasses.asdict(options), "initial_nll": result.initial_nll, "final_nll": result.final_nll,
           "start_scale": float(result.start_scale), "nll_units": units, "history": result.history}
    if network_log is not None:
        log["network"] = network_log
    csv = "iteration,nll,time_s,change\n" + "".join(
        f"{r['iteration']},{r['nll']!r},{r['time_s']!r},{r.get('change', float('nan'))!r}\n" for r in result.history)
    written: list[Path] = []
    try:
        npz = out / OBJECT_NPZ
        save_npz_atomic(npz, object=obj, amplitude=np.abs(obj).astype(np.float32),
                        phase=np.angle(obj).astype(np.float32), origin_xy=np.asarray(placed, dtype=np.float64))
        written.append(npz)
        written += list(save_reconstruction_pngs(np.abs(obj), np.angle(obj), out))
        if options.refine_probe:
            save_npz_atomic(out / PROBE_NPZ, probe=result.probe.astype(np.complex64))
            written.append(out / PROBE_NPZ)
        if options.refine_positions:
            save_npz_atomic(out / POSITIONS_NPZ, xcoords=result.positions[:, 0], ycoords=result.positions[:, 1],
                            xcoords_start=scan["positions"][:, 0], ycoords_start=scan["positions"][:, 1])
            written.append(out / POSITIONS_NPZ)
        save_json_atomic(out / LOG_JSON, log)
        written.append(out / LOG_JSON)
        save_text_atomic(out / LOG_CSV, csv)
        written.append(out / LOG_CSV)
        _convergence_png(result.history, result.initial_nll, out / FIGURE, units)
        written.append(out / FIGURE)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return {p.name: p for p in written}
