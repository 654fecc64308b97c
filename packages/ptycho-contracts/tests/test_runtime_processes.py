"""ptycho.runtime.processes: only the first process of a distributed run writes outputs (specs/scaling.md §1)."""

from __future__ import annotations

import pytest

from ptycho.runtime.processes import RANK_VARIABLES, is_main_process


@pytest.fixture
def no_ranks(monkeypatch):
    for name in RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_plain_process_is_the_main_one(no_ranks):
    assert is_main_process()


@pytest.mark.parametrize("name", RANK_VARIABLES)
@pytest.mark.parametrize(("value", "main"), [("0", True), ("", True), (" 0 ", True), ("1", False), ("3", False),
                                             ("x", True)])
def test_each_launchers_rank_variable_decides(no_ranks, name, value, main):
    no_ranks.setenv(name, value)
    assert is_main_process() is main
