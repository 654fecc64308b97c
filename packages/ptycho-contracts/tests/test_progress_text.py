"""ptycho.progress_text: the progress line both backends print (specs/torch-workflow.md §3), against closed forms."""

from __future__ import annotations

import math

from ptycho.progress_text import clock, epoch_line, run_eta, step_eta, step_line


def test_clock_and_eta():
    assert clock(0) == "0:00" and clock(75.4) == "1:15" and clock(3 * 3600 + 61) == "3:01:01"
    assert run_eta(0.25, 10.0, 4, None) == 30.0  # a quarter done after 10 s: 30 s left
    assert run_eta(0.25, 10.0, 4, 20.0) == 10.0  # capped by the budget left
    assert run_eta(0.0, 5.0, None, 60.0) == 55.0  # no epoch limit: the budget left
    assert math.isinf(run_eta(0.0, 5.0, 4, None))


def test_epoch_line():
    assert epoch_line(3, 20, -1234.5678, -1200.0, 42.0, 138.0) == (
        "epoch 3/20  loss -1234.6  val -1200  elapsed 0:42  eta 2:18")
    assert epoch_line(7, None, 0.5, None, 61.0, math.inf) == "epoch 7  loss 0.5  elapsed 1:01  eta ?"


def test_step_line_and_eta():
    assert step_eta(2, 8, 10.0) == 30.0  # 2 of 8 steps in 10 s: 6 more at 5 s each
    assert math.isinf(step_eta(0, 8, 1.0)) and math.isinf(step_eta(3, None, 1.0))
    assert step_line("refining: pass", 3, 10, {"nll": 123456.7}, 12.0) == (
        "refining: pass 3/10  nll 1.235e+05  elapsed 0:12  eta 0:28")
    assert step_line("predicting: batch", 4, None, {}, 61.0) == "predicting: batch 4  elapsed 1:01  eta ?"
