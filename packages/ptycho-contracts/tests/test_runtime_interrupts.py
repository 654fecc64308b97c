"""ptycho.runtime.interrupts: SIGTERM and SIGINT become an interrupt naming the signal, and the one line and exit
status of specs/cli.md §1 / specs/reliability.md §8."""

from __future__ import annotations

import os
import signal
import time

import pytest

from ptycho.runtime.interrupts import (
    Interrupted,
    handler,
    interrupt_cause,
    note_signal,
    received_signal,
    signals_raise,
)


def test_interrupt_cause_lines():
    assert interrupt_cause(KeyboardInterrupt()) == ("interrupted (Ctrl-C)", 130)
    assert interrupt_cause(Interrupted("SIGINT")) == ("interrupted (Ctrl-C)", 130)
    assert interrupt_cause(Interrupted("SIGTERM")) == ("interrupted by signal SIGTERM", 143)


@pytest.mark.parametrize(("sig", "name", "status"), [(signal.SIGTERM, "SIGTERM", 143), (signal.SIGINT, "SIGINT", 130)])
def test_a_signal_inside_the_block_raises_interrupted_and_the_handlers_are_restored(sig, name, status):
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    cleaned = []
    with pytest.raises(Interrupted) as info:
        with signals_raise():
            assert signal.getsignal(sig) is handler()
            try:
                os.kill(os.getpid(), sig)
                time.sleep(5)  # the handler raises at once; without it the block would not end here
            finally:
                cleaned.append(True)  # finally clauses run, as for Ctrl-C
    assert cleaned == [True]
    assert info.value.signal_name == name and isinstance(info.value, KeyboardInterrupt)
    assert interrupt_cause(info.value)[1] == status
    assert received_signal() == name  # the command line can still tell after a library swallowed the interrupt
    assert {s: signal.getsignal(s) for s in before} == before


def test_the_first_signal_noted_is_kept_and_a_new_block_forgets_it():
    with signals_raise():
        note_signal("SIGTERM")
        note_signal("SIGINT")
        assert received_signal() == "SIGTERM"
    with signals_raise():
        assert received_signal() is None
