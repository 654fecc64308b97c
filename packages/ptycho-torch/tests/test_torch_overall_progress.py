"""specs/torch-workflow.md §3: the progress bar shows the run as a whole (epochs done/total, elapsed, ETA)."""

from __future__ import annotations

import time

from ptycho_torch.workflows.progress import UNREACHABLE_EPOCHS, OverallProgress, clock


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


def test_budget_caps_the_eta_and_hides_an_unreachable_epoch_cap():
    cb = _started(OverallProgress(max_epochs=UNREACHABLE_EPOCHS * 100, budget_s=60.0), 20.0)
    fields = cb.estimate(epoch=3, batches_done=2, batches_per_epoch=4)
    assert fields["epochs"] == "3" and fields["eta"] == "0:40"
    small = _started(OverallProgress(max_epochs=2, budget_s=600.0), 30.0)
    assert small.estimate(epoch=1, batches_done=4, batches_per_epoch=4) == {"epochs": "2/2", "elapsed": "0:30",
                                                                            "eta": "0:00"}


def test_eta_unknown_before_any_batch():
    assert OverallProgress(max_epochs=3).estimate(0, 0, 5)["eta"] == "?"
