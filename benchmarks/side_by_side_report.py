"""The report of ``side_by_side.py``: per-gridsize summaries (patterns/s, ratios) and the markdown tables."""

from __future__ import annotations

import statistics

BATCH = 16  # patterns per step, as side_by_side.BATCH

OPS = ("train", "fit", "infer", "predict")


def pattern_rate(gs: int, seconds: float | None) -> float | None:
    return None if seconds is None else BATCH * gs * gs / seconds


def times_of(records: list[dict], which: str, gs: int, op: str, rnd: int | None = None) -> list[float]:
    return [t for r in records if r["which"] == which and r["gridsize"] == gs and r["op"] == op
            and (rnd is None or r["round"] == rnd) for t in (r.get("times") or [])]


def summarize(records: list[dict], infos: list[dict]) -> list[dict]:
    """One row per gridsize: per side and measurement the median and the best batch (patterns/s); the ratio
    ours/original of each round's adjacent measurements (median over the rounds, and their range)."""
    rows = []
    for gs in sorted({r["gridsize"] for r in records}):
        info = {i["which"]: i for i in infos if i["gridsize"] == gs}
        if set(info) != {"ours", "original"}:
            continue
        row: dict = {"gridsize": gs, "rounds": len({r["round"] for r in records if r["gridsize"] == gs})}
        for op in OPS:
            for side, which in (("ours", "ours"), ("orig", "original")):
                t = times_of(records, which, gs, op)
                row[f"{side}_{op}"] = pattern_rate(gs, statistics.median(t)) if t else None
                row[f"{side}_{op}_best"] = pattern_rate(gs, min(t)) if t else None
            per = []
            for rnd in sorted({r["round"] for r in records if r["gridsize"] == gs}):
                a, b = times_of(records, "ours", gs, op, rnd), times_of(records, "original", gs, op, rnd)
                if a and b:
                    per.append(statistics.median(b) / statistics.median(a))
            row[f"ratio_{op}"] = statistics.median(per) if per else None
            row[f"range_{op}"] = (min(per), max(per)) if per else None
        for side, which in (("ours", "ours"), ("orig", "original")):
            row[f"{side}_params"] = info[which]["params_net"]
            row[f"{side}_flops_train"] = info[which]["flops_train"]
            row[f"{side}_flops_infer"] = info[which]["flops_infer"]
            rates = [r["rate"] for r in records if r["which"] == which and r["gridsize"] == gs and r["op"] == "matmul"]
            row[f"{side}_mm"] = statistics.median(rates) if rates else None
        row["orig_params_defaults"] = info["original"].get("params_net_original_defaults")
        rates = [r["rate"] for r in records if r["gridsize"] == gs and r["op"] == "matmul"]
        row["mm"] = statistics.median(rates) if rates else None
        rows.append(row)
    return rows


def _f(v, fmt: str = ".1f") -> str:
    return "n/a" if v is None else format(v, fmt)


def _ratio_cell(r: dict, op: str) -> str:
    """'**median of the per-round ratios**x (their range)'."""
    if r[f"ratio_{op}"] is None:
        return "n/a"
    lo, hi = r[f"range_{op}"]
    return f"**{r[f'ratio_{op}']:.2f}x** ({lo:.2f}-{hi:.2f})"


def _cell(r: dict, side: str, op: str) -> str:
    """'median (best)' patterns/s."""
    if r[f"{side}_{op}"] is None:
        return "n/a"
    return f"{_f(r[f'{side}_{op}'])} ({_f(r[f'{side}_{op}_best'])})"


def build_tables(rows: list[dict]) -> str:
    """The printed report (markdown tables) of :func:`summarize`'s rows."""
    out = [
        ("| gs | params ours | params original | train GFLOP/batch ours / orig | infer GFLOP/batch ours / orig | "
         "matmul GFLOP/s |"),
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['gridsize']} | {r['ours_params']:,} | {r['orig_params']:,} | "
            f"{r['ours_flops_train'] / 1e9:.1f} / {r['orig_flops_train'] / 1e9:.1f} | "
            f"{r['ours_flops_infer'] / 1e9:.1f} / {r['orig_flops_infer'] / 1e9:.1f} | {_f(r['mm'] and r['mm'] / 1e9)} |")
    out += [
        "",
        "patterns/s: median batch (best batch); ratio ours/original: **median over the rounds** of the ratio of "
        "the round's adjacent measurements (range over the rounds)",
        "",
        ("| gs | ours train | original train | ratio | ours fit | original fit | ratio | "
         "ours infer | original infer | ratio | ours predict_step |"),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['gridsize']} | {_cell(r, 'ours', 'train')} | {_cell(r, 'orig', 'train')} | {_ratio_cell(r, 'train')} | "
            f"{_cell(r, 'ours', 'fit')} | {_cell(r, 'orig', 'fit')} | {_ratio_cell(r, 'fit')} | "
            f"{_cell(r, 'ours', 'infer')} | {_cell(r, 'orig', 'infer')} | {_ratio_cell(r, 'infer')} | "
            f"{_cell(r, 'ours', 'predict')} |")
    notes = []
    for r in rows:
        if r["ours_params"] != r["orig_params"]:
            notes.append(f"NOTE gs={r['gridsize']}: the networks differ in size ({r['ours_params']:,} against "
                         f"{r['orig_params']:,} parameters); the ratios compare different networks")
        if r.get("orig_params_defaults") is not None and r["orig_params_defaults"] != r["orig_params"]:
            notes.append(f"gs={r['gridsize']}: the original with its own ModelConfig defaults (CBAM encoder, 8 border "
                         f"channels, 1 amplitude channel) has {r['orig_params_defaults']:,} network parameters")
        for side, name in (("ours", "ours"), ("orig", "original")):
            tr, mm = r[f"{side}_train"], r[f"{side}_mm"]
            if tr is not None and mm:
                rate = r[f"{side}_flops_train"] * tr / (BATCH * r["gridsize"] ** 2)
                notes.append(f"gs={r['gridsize']} {name}: median bare training batch at {rate / 1e9:.1f} GFLOP/s = "
                             f"{rate / mm:.2f} of the matmul rate measured after its training batches")
    return "\n".join(out + [""] + notes)
