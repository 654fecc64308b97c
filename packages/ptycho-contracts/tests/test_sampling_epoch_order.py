"""ptycho.sampling.epoch_order: the shared epoch order of both trainers (specs/grouping.md §8)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptycho.sampling import epoch_order


@given(n=st.integers(0, 300), seed=st.integers(-(2**40), 2**40), epoch=st.integers(0, 10_000))
def test_is_a_reproducible_permutation(n, seed, epoch):
    order = epoch_order(n, seed, epoch)
    assert order.dtype == np.int64 and order.shape == (n,)
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    np.testing.assert_array_equal(order, epoch_order(n, seed, epoch))


def test_closed_form_and_dependence_on_seed_and_epoch():
    np.testing.assert_array_equal(epoch_order(50, 42, 3), np.random.default_rng([42, 3]).permutation(50))
    np.testing.assert_array_equal(epoch_order(50, 42 + 2**32, 3), epoch_order(50, 42, 3))  # seed mod 2**32
    orders = {tuple(epoch_order(50, s, e)) for s in (0, 1) for e in (0, 1, 2)}
    assert len(orders) == 6


@pytest.mark.parametrize(("n", "epoch"), [(-1, 0), (5, -1)])
def test_negative_arguments_are_one_line_errors(n, epoch):
    with pytest.raises(ValueError, match=r"^epoch_order: expected n >= 0 and epoch >= 0, found n=-?\d+, epoch=-?\d+$"):
        epoch_order(n, 0, epoch)
