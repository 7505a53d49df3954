"""The personal fields people send are normalised to one form (so a phone typed two ways is one
phone) or refused naming the field and the rule, never the value; invite codes are drawn from an
alphabet without look-alikes and read in any case."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.invite_codes import ALPHABET, check_channel, invite_link, normalize_code
from settlement.people_errors import InvalidPersonalData
from settlement.people_fields import (
    check_client_tag,
    check_documents,
    check_id_number,
    check_ip,
    check_name,
    check_user_id,
    normalize_phone,
)


@pytest.mark.parametrize("typed", ["13812341234", "+86 138 1234 1234", "0086-138-1234-1234",
                                   "(138) 1234-1234", "+8613812341234"])
def test_one_mobile_number_however_typed(typed):
    assert normalize_phone(typed) == "13812341234"


def test_international_numbers_keep_their_country_code():
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("bad", ["", "12812341234", "1381234123", "138123412345", "+86 1234",
                                 "no-digits", "+0123456789"])
def test_not_a_mobile_number(bad):
    with pytest.raises(InvalidPersonalData, match="^phone: not a mobile number") as caught:
        normalize_phone(bad)
    assert bad == "" or bad not in str(caught.value)


def test_resident_id_check_character():
    assert check_id_number("11010519491231002x") == "11010519491231002X"
    with pytest.raises(InvalidPersonalData, match="check character"):
        check_id_number("110105194912310021")
    with pytest.raises(InvalidPersonalData, match="18 characters"):
        check_id_number("1101051949123100")


def test_names_documents_ids_and_addresses():
    assert check_name("  张三  ") == "张三"
    for bad in ("", " ", "x" * 65, "Ann\x00"):
        with pytest.raises(InvalidPersonalData, match="^name: "):
            check_name(bad)
    assert check_documents(["a", " b "]) == ("a", "b")
    with pytest.raises(InvalidPersonalData, match=r"documents\[1\]"):
        check_documents(["a", ""])
    with pytest.raises(InvalidPersonalData, match="at most 10"):
        check_documents(["a"] * 11)
    with pytest.raises(InvalidPersonalData, match="user_id"):
        check_user_id("has space")
    assert check_client_tag(" Dev-1 ", "device_id") == "dev-1"
    assert check_ip("0:0::1") == check_ip("::1") == "::1"
    assert check_ip(" 10.0.0.1 ") == "10.0.0.1"
    with pytest.raises(InvalidPersonalData, match="^ip: not an IPv4"):
        check_ip("10.0.0.300")


@given(st.text(alphabet=ALPHABET, min_size=8, max_size=16))
def test_codes_are_read_in_any_case(code):
    assert normalize_code(code.lower()) == code
    assert normalize_code(f"  {code} ") == code


@pytest.mark.parametrize("look_alike", ["0", "O", "1", "I", "L", "o", "i", "l"])
def test_codes_never_hold_look_alikes(look_alike):
    assert look_alike.upper() not in ALPHABET
    with pytest.raises(InvalidPersonalData, match="never contains"):
        normalize_code("ABCDEFG" + look_alike)


def test_links_carry_channel_and_content():
    assert invite_link("https://m.example/i/", "abcdefgh", "wechat", "post:9") == \
        "https://m.example/i/ABCDEFGH?ch=wechat&cid=post%3A9"
    assert invite_link("https://m.example/i", "ABCDEFGH") == "https://m.example/i/ABCDEFGH"
    with pytest.raises(InvalidPersonalData, match="channel"):
        check_channel("We Chat")
