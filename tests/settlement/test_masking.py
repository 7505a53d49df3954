"""Masks keep only the recognisable ends of a personal value and always hide some of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from settlement.masking import MIN_HIDDEN, mask_account, mask_id_number, mask_name, mask_phone


def test_the_usual_shapes():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_id_number("110101199003071234") == "110***********1234"
    assert mask_name("张三丰") == "张**"
    assert mask_name("张三") == "张*"
    assert mask_name("李") == "李*"
    assert mask_account("6222021234567890123") == "****0123"
    assert mask_account("ada@example.com") == "a***@example.com"
    assert mask_account("123") == "****"
    assert mask_phone(None) is None and mask_name(None) is None


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_digits_always_hide_some_and_keep_length(value):
    for mask in (mask_phone, mask_id_number):
        shown = mask(value)
        assert len(shown) == len(value)
        assert shown.count("*") >= min(MIN_HIDDEN, len(value))


@given(st.text(alphabet="0123456789", min_size=5, max_size=30))
def test_an_account_never_shows_more_than_its_last_four(value):
    assert mask_account(value) == "****" + value[-4:]
