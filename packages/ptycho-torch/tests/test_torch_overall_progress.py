"""specs/torch-workflow.md §3: the progress bar shows the run as a whole (epochs done/total, elapsed, ETA)."""

from __future__ import annotations

import io
import time

import pytest

from ptycho_torch.workflows.progress import (
    EpochLines,
    OverallProgress,
    clock,
    progress_callbacks,
    short_metrics,
)


def _started(cb: OverallProgress, seconds_ago: float) -> OverallProgress:
    cb._start = time.monotonic() - seconds_ago
    return cb


def test_clock_formats_minutes_and_hours():
    assert clock(0) == "0:00" and clock(75.4) == "1:15" and clock(3 * 3600 + 61) == "3:01:01"


def test_eta_is_the_remaining_fraction_of_the_elapsed_time():
    """A quarter of the batches done after 10 s: 30 s left; the epoch count shows completed epochs."""
    cb = _started(OverallProgress(max_epochs=4), 10.0)
    fields = cb.estimate(epoch=1, batches_done=0, batches_per_epoch=8)  # epoch 1 just started: 1/4 done
    assert fields["epochs"] == "1/4"
    assert fields["elapsed"] == "0:10" and fields["eta"] == "0:30"
    assert cb.estimate(epoch=1, batches_done=8, batches_per_epoch=8)["epochs"] == "2/4"


def test_budget_caps_the_eta_and_a_budget_only_run_shows_the_count_done():
    """nepochs None (train until max_time): epochs shows the count done and the ETA is the budget left."""
    cb = _started(OverallProgress(max_epochs=None, budget_s=60.0), 20.0)
    fields = cb.estimate(epoch=3, batches_done=2, batches_per_epoch=4)
    assert fields["epochs"] == "3" and fields["eta"] == "0:40"
    small = _started(OverallProgress(max_epochs=2, budget_s=600.0), 30.0)
    assert small.estimate(epoch=1, batches_done=4, batches_per_epoch=4) == {"epochs": "2/2", "elapsed": "0:30",
                                                                            "eta": "0:00"}
    with pytest.raises(ValueError, match="max_epochs"):
        OverallProgress(max_epochs=None, budget_s=None)


def test_the_display_keeps_loss_validation_loss_and_the_run_fields_only():
    """No v_num, no duplicated step/epoch copies of the loss (issue: a 250-character bar)."""
    raw = {"v_num": 3, "poisson_train_loss_step": -12.5, "poisson_train_loss_epoch": -11.0,
           "poisson_val_loss": -10.25, "epochs": "2/5", "elapsed": "0:10", "eta": "0:15", "left_s": 4}
    assert short_metrics(raw) == {"loss": -12.5, "val": -10.25, "epochs": "2/5", "elapsed": "0:10", "eta": "0:15"}


def test_a_pipe_gets_one_line_per_epoch_with_loss_elapsed_and_budget_left():
    overall = _started(OverallProgress(max_epochs=None, budget_s=180.0), 42.0)
    lines = EpochLines(overall, io.StringIO())
    text = lines.line(2, {"v_num": 0, "poisson_train_loss_step": -1.0, "poisson_train_loss_epoch": -1234.5678,
                          "poisson_val_loss": -1200.0})
    assert text == "epoch 3  loss -1234.6  val -1200  elapsed 0:42  eta 2:18"
    capped = EpochLines(_started(OverallProgress(max_epochs=20, budget_s=None), 10.0))
    assert capped.line(4, {"mae_train_loss_epoch": 0.5}) == "epoch 5/20  loss 0.5  elapsed 0:10  eta 0:30"
    assert [type(c).__name__ for c in progress_callbacks(3, None, terminal=False)] == ["OverallProgress", "EpochLines"]
    assert [type(c).__name__ for c in progress_callbacks(3, None, terminal=True)] == ["OverallProgress",
                                                                                    "RankSafeProgressBar"]


def test_eta_unknown_before_any_batch():
    assert OverallProgress(max_epochs=3).estimate(0, 0, 5)["eta"] == "?"


def test_a_pseudo_terminal_without_a_size_gets_lines_not_a_bar(monkeypatch):
    """A TTY reporting 0 rows (script, some CI consoles) draws no tqdm bar at all: it counts as a pipe."""
    import fcntl
    import os
    import pty
    import struct
    import sys
    import termios

    from ptycho_torch.workflows.progress import stdout_is_terminal

    master, slave = pty.openpty()
    try:
        with os.fdopen(os.dup(slave), "w") as tty:
            monkeypatch.setattr(sys, "stdout", tty)
            for rows, cols, expected in ((0, 0, False), (0, 120, False), (40, 120, True)):
                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                assert stdout_is_terminal() is expected, (rows, cols)
            monkeypatch.setattr(sys, "stdout", io.StringIO())
            assert stdout_is_terminal() is False
    finally:
        os.close(master)
        os.close(slave)
