"""benchmarks/side_by_side.py without the original installed: the error path (exit 2, one line), the argument
defaults and the report tables built from recorded cases. Runs in a few seconds; imports no torch."""

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

import side_by_side as S  # noqa: E402

SCRIPT = str(HERE / "side_by_side.py")


def _case(which, gs, train_s, infer_s, fit_s=None, params=2_331_772, mm=100e9):
    """A case record as the subprocesses print it: each per-batch list is [median/2, median, 2*median]."""
    times = {"train_step_s": train_s, "infer_batch_s": infer_s, "fit_step_s": fit_s,
             "predict_batch_s": infer_s * 1.2 if which == "ours" else None}
    rec = {"which": which, "gridsize": gs, "params_net": params, "flops_train": 77.3e9, "flops_infer": 25.8e9,
           "matmul_flop_rate": mm, "params_net_original_defaults": 2_347_830 if which == "original" else None}
    for k, v in times.items():
        rec[k] = v
        rec[f"{k}_all"] = None if v is None else [v / 2, v, 2 * v]
    return rec


@pytest.mark.parametrize("extra", [[], ["--original-path", "/nonexistent"],
                                   ["--original-python", "/nonexistent/python", "--original-path", "/nonexistent"]])
def test_without_the_original_exits_2_with_one_line(extra):
    proc = subprocess.run([sys.executable, SCRIPT, *extra], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "another environment" in lines[0] and "--original-python" in lines[0]


def test_arguments_and_defaults():
    a = S.parse_args(["--original-python", "p", "--original-path", "q"])
    assert (a.repeats, a.groups, a.timed_batches, a.n_filters_scale, a.gridsizes) == (3, 64, 3, 2, [1, 2])
    assert a.warmup_steps == 8 and a.case is None and not a.no_fit and not a.flush_denormal and a.json is None
    with pytest.raises(SystemExit):
        S.parse_args(["--repeats", "0"])
    assert S._batches_of(4, 6) == [0, 1, 2, 3, 0, 1]


def test_summary_and_tables():
    cases = [
        _case("ours", 1, 0.5, 0.15, 0.52), _case("original", 1, 1.5, 0.6, 1.7),
        _case("original", 1, 1.2, 0.5, 1.6), _case("ours", 1, 0.4, 0.1, 0.45),
        _case("ours", 2, 0.5, 0.15), _case("original", 2, 2.0, 0.6, params=2_336_854),
    ]
    rows = S.summarize(cases)
    assert [r["gridsize"] for r in rows] == [1, 2]
    r1 = rows[0]
    # medians of patterns/s: ours 16/0.45 (0.4, 0.5), original 16/1.35
    assert r1["ours_train"] == pytest.approx((16 / 0.5 + 16 / 0.4) / 2)
    assert r1["ratio_train"] == pytest.approx(r1["ours_train"] / r1["orig_train"])
    lo, hi = r1["range_train"]  # per-repeat pairs in order: (0.5 vs 1.5), (0.4 vs 1.2) -> both 3x
    assert lo == pytest.approx(3.0) and hi == pytest.approx(3.0)
    # best batches: ours 0.4/2, original 1.2/2 -> 16/0.2 and 16/0.6 patterns/s
    assert r1["ours_train_best"] == pytest.approx(80.0) and r1["ratio_train_best"] == pytest.approx(3.0)
    assert rows[1]["ours_train"] == pytest.approx(64 / 0.5)  # gridsize 2: 16 groups x 4 patterns per batch
    assert rows[1]["ratio_fit"] is None and rows[1]["orig_predict"] is None
    text = S.build_tables(rows)
    assert "| 1 | 2,331,772 | 2,331,772 |" in text
    assert "**3.00x** / 3.00x (3.00-3.00)" in text
    assert "| 80.0 / 36.0 |" in text  # ours train at gs=1: best / median patterns/s
    assert "n/a" in text  # the missing fit measurement at gridsize 2
    assert "NOTE gs=2: the networks differ in size" in text
    assert "NOTE gs=1" not in text
    assert "2,347,830 network parameters" in text
