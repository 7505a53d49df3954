"""Checking and normalising the personal fields people send (pure functions, no I/O).

A phone is a Chinese mobile number (11 digits, 13x-19x; `+86`, spaces and dashes allowed and
removed) or an international number in E.164 form (`+` and 8 to 15 digits). An ID number is an
18-character resident identity number whose check character (ISO 7064 MOD 11-2) is right.
Errors name the field and the rule, never the value.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

from settlement.people_errors import InvalidPersonalData

MAX_NAME_CHARS = 64
MAX_DOCUMENTS = 10
MAX_DOCUMENT_CHARS = 500
MAX_USER_ID_CHARS = 100  # leaves room for the event id prefixes built from it
MAX_CLIENT_TAG_CHARS = 128  # a device id or an IP address

_CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_SEPARATORS = re.compile(r"[\s\-().]")
_USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]+$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def normalize_phone(value: str, field: str = "phone") -> str:
    """`+86 138-1234-1234` -> `13812341234`; `+44 20 7946 0958` -> `+442079460958`."""
    text = _SEPARATORS.sub("", value or "")
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    if _CN_MOBILE.match(text) or (_E164.match(text) and not text.startswith("+86")):
        return text
    raise InvalidPersonalData(field, "not a mobile number (11 digits starting 13-19, or + and "
                                     "8 to 15 digits)")


def check_id_number(value: str, field: str = "id_number") -> str:
    """An 18-character resident ID number in upper case, its check character verified."""
    text = (value or "").strip().upper()
    if len(text) != 18 or not text[:17].isdigit() or not (text[17].isdigit() or text[17] == "X"):
        raise InvalidPersonalData(field, "must be 18 characters: 17 digits and a digit or X")
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != text[17]:
        raise InvalidPersonalData(field, "the check character does not match (a typo?)")
    return text


def check_name(value: str, field: str = "name") -> str:
    """A real name: 1 to 64 characters after trimming, no control characters."""
    text = unicodedata.normalize("NFC", (value or "").strip())
    if not text or len(text) > MAX_NAME_CHARS:
        raise InvalidPersonalData(field, f"must be 1 to {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise InvalidPersonalData(field, "must not contain control characters")
    return text


def check_documents(values: list[str] | tuple[str, ...], field: str = "documents"
                    ) -> tuple[str, ...]:
    """References to uploaded documents (file ids or URLs the mall keeps), at most 10."""
    if len(values) > MAX_DOCUMENTS:
        raise InvalidPersonalData(field, f"at most {MAX_DOCUMENTS} documents")
    checked = []
    for index, value in enumerate(values):
        text = (value or "").strip()
        if not text or len(text) > MAX_DOCUMENT_CHARS:
            raise InvalidPersonalData(f"{field}[{index}]",
                                      f"must be 1 to {MAX_DOCUMENT_CHARS} characters")
        checked.append(text)
    return tuple(checked)


def check_user_id(value: str, field: str = "user_id") -> str:
    """A mall's user (customer) id: letters, digits and `_.:@-`, at most 100 characters."""
    text = value or ""
    if not text or len(text) > MAX_USER_ID_CHARS or not _USER_ID.match(text):
        raise InvalidPersonalData(field, f"must be 1 to {MAX_USER_ID_CHARS} letters, digits or "
                                         "_.:@-")
    return text


def check_client_tag(value: str | None, field: str) -> str | None:
    """A device id as sent, lower-cased (only its blind index is stored)."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > MAX_CLIENT_TAG_CHARS:
        raise InvalidPersonalData(field, f"must be 1 to {MAX_CLIENT_TAG_CHARS} characters")
    return text.lower()


def check_ip(value: str | None, field: str = "ip") -> str | None:
    """An IPv4 or IPv6 address in its canonical form, so `::1` and `0:0::1` count as one."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise InvalidPersonalData(field, "not an IPv4 or IPv6 address") from None
