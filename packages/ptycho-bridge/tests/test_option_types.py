"""ptycho_bridge.option_types: the argparse value types of every command line."""

import argparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptycho_bridge.option_types import int_value, nonnegative_int, positive_float, positive_int


@given(st.integers(-(10**9), 10**9))
def test_integers_accept_exactly_their_range(n):
    assert int_value(str(n)) == n
    for fn, low in ((positive_int, 1), (nonnegative_int, 0)):
        if n >= low:
            assert fn(str(n)) == n
        else:
            with pytest.raises(argparse.ArgumentTypeError, match=rf"expected an integer >= {low}, found '{n}'"):
                fn(str(n))


@pytest.mark.parametrize("fn", [int_value, positive_int, nonnegative_int])
@pytest.mark.parametrize("text", ["", "1.5", "x", "1e3"])
def test_non_integers_are_rejected(fn, text):
    with pytest.raises(argparse.ArgumentTypeError, match=rf"^expected an integer, found {text!r}$"):
        fn(text)


@pytest.mark.parametrize(("text", "value"), [("1e9", 1e9), ("0.5", 0.5), ("3", 3.0)])
def test_positive_float_accepts(text, value):
    assert positive_float(text) == value


@pytest.mark.parametrize(("text", "message"), [("0", "expected a finite number > 0"), ("-1", "expected a finite number > 0"),
                                               ("inf", "expected a finite number > 0"), ("nan", "expected a finite number > 0"),
                                               ("abc", "expected a number")])
def test_positive_float_rejects(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=rf"^{message}, found {text!r}$"):
        positive_float(text)
