"""benchmarks/side_by_side.py without the original installed: the error path (exit 2, one line), the argument
defaults and the report tables built from recorded measurements. Runs in a few seconds; imports no torch."""

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

import side_by_side as S  # noqa: E402

SCRIPT = str(HERE / "side_by_side.py")


def _info(which, gs, params=2_331_772):
    return {"which": which, "gridsize": gs, "params_net": params, "flops_train": 77.3e9, "flops_infer": 25.8e9,
            "params_net_original_defaults": 2_347_830 if which == "original" else None}


def _rec(which, gs, rnd, op, times=None, rate=None):
    return {"which": which, "gridsize": gs, "round": rnd, "op": op, "times": times, "rate": rate}


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
    for bad in (["--repeats", "0"], ["--groups", "8"], ["--warmup-steps", "0"]):
        with pytest.raises(SystemExit):
            S.parse_args(bad)
    assert S._batches_of(4, 6) == [0, 1, 2, 3, 0, 1]


def test_summary_and_tables():
    # gridsize 1, two rounds: ours twice as fast in round 0, three times in round 1 (a slower machine)
    recs = [
        _rec("ours", 1, 0, "train", [0.5, 0.5, 0.6]), _rec("original", 1, 0, "train", [1.0, 1.0, 1.1]),
        _rec("original", 1, 1, "train", [3.0, 3.0, 3.0]), _rec("ours", 1, 1, "train", [1.0, 1.0, 1.0]),
        _rec("ours", 1, 0, "infer", [0.1, 0.1]), _rec("original", 1, 0, "infer", [0.1, 0.1]),
        _rec("ours", 1, 0, "predict", [0.2, 0.2]),
        _rec("ours", 1, 0, "matmul", rate=100e9), _rec("original", 1, 0, "matmul", rate=50e9),
        # gridsize 2: the networks differ, no fit measured
        _rec("ours", 2, 0, "train", [0.5]), _rec("original", 2, 0, "train", [2.0]),
    ]
    infos = [_info("ours", 1), _info("original", 1), _info("ours", 2, 2_340_208), _info("original", 2, 2_336_854)]
    rows = S.summarize(recs, infos)
    assert [r["gridsize"] for r in rows] == [1, 2]
    r1 = rows[0]
    assert r1["ratio_train"] == pytest.approx(2.5) and r1["range_train"] == pytest.approx((2.0, 3.0))
    assert r1["ours_train"] == pytest.approx(16 / 0.8)  # median batch of all six: (0.6 + 1.0) / 2
    assert r1["ours_train_best"] == pytest.approx(32.0)
    assert r1["ratio_infer"] == pytest.approx(1.0) and r1["ratio_fit"] is None
    assert r1["orig_predict"] is None and r1["ours_predict"] == pytest.approx(80.0)
    assert r1["mm"] == pytest.approx(75e9)
    assert rows[1]["ours_train"] == pytest.approx(64 / 0.5)  # gridsize 2: 16 groups x 4 patterns per batch
    text = S.build_tables(rows)
    assert "| 1 | 2,331,772 | 2,331,772 |" in text
    assert "**2.50x** (2.00-3.00)" in text
    assert "| 20.0 (32.0) |" in text  # ours train at gs=1: median (best) patterns/s
    assert "n/a" in text  # no fit measurements
    assert "NOTE gs=2: the networks differ in size" in text and "NOTE gs=1" not in text
    assert "2,347,830 network parameters" in text
