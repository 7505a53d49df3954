"""Masks for personal values in every output (CLI, API, files, dashboards) except the one that
needs the value itself (the bank batch file, a privacy export to the person).

Pure functions over text; each keeps just enough to recognise one's own data
(phone `138****1234`, ID `110***********1234`, name `张*`, account `****0123`) and always hides
at least `MIN_HIDDEN` characters, so a short value is never shown almost whole.
"""

from __future__ import annotations

MASK = "*"
MIN_HIDDEN = 4


def _keep(value: str, head: int, tail: int) -> str:
    """`value` with all but `head` leading and `tail` trailing characters masked; shrinks
    head and tail until at least `MIN_HIDDEN` characters (or all of a short value) are masked."""
    text = value.strip()
    while head + tail > max(len(text) - MIN_HIDDEN, 0) and (head or tail):
        if head >= tail and head:
            head -= 1
        else:
            tail -= 1
    hidden = len(text) - head - tail
    return text[:head] + MASK * hidden + (text[len(text) - tail:] if tail else "")


def mask_phone(phone: str | None) -> str | None:
    """`13812341234` -> `138****1234` (a mobile number keeps its network prefix and last 4)."""
    if phone is None:
        return None
    return _keep(phone, 3, 4)


def mask_id_number(id_number: str | None) -> str | None:
    """`110101199003071234` -> `110***********1234`: the region's first digits and the last 4."""
    if id_number is None:
        return None
    return _keep(id_number, 3, 4)


def mask_name(name: str | None) -> str | None:
    """`张三丰` -> `张**`, `Ada Lovelace` -> `A***********`: the first character only."""
    if name is None:
        return None
    text = name.strip()
    if not text:
        return ""
    return text[0] + MASK * max(len(text) - 1, 1)


def mask_account(account: str | None) -> str | None:
    """`6222021234567890123` -> `****0123`: the last 4 (how banks show a card); the length is
    not revealed. An e-mail-like WeChat/Alipay account keeps its domain."""
    if account is None:
        return None
    text = account.strip()
    if "@" in text:
        local, _, domain = text.partition("@")
        return (local[:1] + MASK * 3) + "@" + domain
    if len(text) <= 4:
        return MASK * 4
    return MASK * 4 + text[-4:]
