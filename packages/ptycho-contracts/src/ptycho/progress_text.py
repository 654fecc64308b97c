"""The text of the training progress display, shared by both backends (specs/torch-workflow.md §3,
specs/tf-backend.md §4): ``M:SS`` clocks and the one line per finished epoch printed when stdout is not a terminal,
``epoch 3/20  loss -1234.6  val -1200  elapsed 0:42  eta 2:18``, and the same kind of line for counted steps
(inference batches, refinement passes), ``predicting: batch 3/10  elapsed 0:02  eta 0:05``. Framework-free."""

from __future__ import annotations

import math

__all__ = ["clock", "epoch_line", "run_eta", "step_eta", "step_line"]


def clock(seconds: float) -> str:
    """``seconds`` as ``M:SS`` (``H:MM:SS`` from one hour)."""
    total = int(round(max(0.0, seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def run_eta(fraction_done: float, elapsed_s: float, max_epochs: int | None, budget_s: float | None) -> float:
    """Seconds left in the run: the epoch-based estimate ``elapsed · (1 - f) / f`` (``f`` = ``fraction_done`` of
    ``max_epochs``; none without an epoch limit), capped by what is left of the budget ``budget_s``; ``inf`` when
    neither can say."""
    eta = math.inf
    if max_epochs is not None and fraction_done > 0:
        eta = elapsed_s * (1.0 - fraction_done) / fraction_done
    if budget_s is not None:
        eta = min(eta, max(0.0, budget_s - elapsed_s))
    return eta


def _number(value: float) -> str:
    return f"{value:.5g}"


def epoch_line(done: int, max_epochs: int | None, loss: float | None, val_loss: float | None, elapsed_s: float,
               eta_s: float) -> str:
    """One finished epoch: ``epoch <done>[/<max_epochs>]  loss <x>  val <y>  elapsed M:SS  eta M:SS`` (``loss`` /
    ``val`` left out when None, ``eta ?`` when unknown)."""
    parts = [f"epoch {done}" + ("" if max_epochs is None else f"/{max_epochs}")]
    parts += [f"{name} {_number(float(v))}" for name, v in (("loss", loss), ("val", val_loss)) if v is not None]
    parts += [f"elapsed {clock(elapsed_s)}", f"eta {'?' if math.isinf(eta_s) else clock(eta_s)}"]
    return "  ".join(parts)


def step_eta(done: int, total: int | None, elapsed_s: float) -> float:
    """Seconds left after ``done`` of ``total`` equal steps took ``elapsed_s``: ``elapsed · (total - done) / done``;
    ``inf`` when ``total`` is None or nothing is done yet."""
    if total is None or done <= 0:
        return math.inf
    return elapsed_s * max(0, int(total) - int(done)) / int(done)


def step_line(desc: str, done: int, total: int | None, values: dict[str, float], elapsed_s: float) -> str:
    """One finished step of a counted loop: ``<desc> <done>[/<total>]  <name> <value>...  elapsed M:SS  eta M:SS``
    (values with 4 significant digits; ``eta ?`` without a total; the ETA is :func:`step_eta`)."""
    count = f"{done}" if total is None else f"{done}/{total}"
    shown = "".join(f"  {k} {float(v):.4g}" for k, v in values.items())
    eta = step_eta(done, total, elapsed_s)
    return f"{desc} {count}{shown}  elapsed {clock(elapsed_s)}  eta {'?' if math.isinf(eta) else clock(eta)}"
