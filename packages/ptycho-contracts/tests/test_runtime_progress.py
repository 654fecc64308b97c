"""ptycho.runtime.progress: the counted-loop display, a redrawn line on a terminal and plain lines in a pipe
(specs/cli.md §4, specs/torch-cli.md §3)."""

from __future__ import annotations

import io

from ptycho.runtime.progress import StepProgress


def test_step_display_on_a_terminal_redraws_one_line_and_in_a_pipe_prints_lines() -> None:
    term = io.StringIO()
    with StepProgress(3, "refining: pass", stream=term, terminal=True) as shown:
        for nll in (3.0, 2.0, 1.0):
            shown.step(nll=nll)
    text = term.getvalue()
    # redrawn in place (carriage return, erase to the end of the line), one newline when it ends
    assert text.startswith("\rrefining: pass 1/3  nll 3  elapsed 0:00  eta ") and text.count("\n") == 1
    assert "\rrefining: pass 3/3  nll 1  elapsed 0:00  eta 0:00\x1b[K\n" in text
    pipe = io.StringIO()
    with StepProgress(None, "predicting: batch", stream=pipe, terminal=False, min_interval_s=3600) as shown:
        for _ in range(3):
            shown.total = 3
            shown.step()
    # a line at most once an hour here: the first and the last only
    assert pipe.getvalue().splitlines() == ["predicting: batch 1/3  elapsed 0:00  eta 0:00",
                                            "predicting: batch 3/3  elapsed 0:00  eta 0:00"]
    silent = io.StringIO()
    with StepProgress(2, "x", stream=silent, enabled=False) as shown:
        shown.step()
    assert silent.getvalue() == "" and shown.done == 1


def test_a_stream_without_a_terminal_gets_plain_lines() -> None:
    """A StringIO has no file descriptor: the display picks the pipe mode by itself."""
    pipe = io.StringIO()
    with StepProgress(2, "predicting: batch", stream=pipe) as shown:
        shown.step()
        shown.step()
    assert "\r" not in pipe.getvalue() and shown.lines == pipe.getvalue().splitlines()
    assert [line.split("  ")[0] for line in shown.lines] == ["predicting: batch 1/2", "predicting: batch 2/2"]
