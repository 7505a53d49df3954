"""The JSON text of an order's lines, beneficiaries and allocation, as the `orders` table holds it.

Kept apart so that stored orders can be decoded lazily: confirming or releasing an order never
needs its lines, and most orders are read only to be confirmed or released.
"""

from __future__ import annotations

import json
from fractions import Fraction
from functools import lru_cache
from typing import Any

from settlement.order_terms import OrderTerms
from settlement.splits import Allocation, Beneficiary

# Built once: json.dumps() with options builds a new encoder on every call, and so does
# JSONEncoder.encode for a list or dict (its C scanner is made per call). `_C_ENCODE` is that
# scanner made once, with the same options; `dumps` gives the same text either way.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_C_ENCODE = (json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    if json.encoder.c_make_encoder is not None else None)  # type: ignore[attr-defined]


def dumps(value: object) -> str:
    if _C_ENCODE is not None and isinstance(value, list | dict):
        return "".join(_C_ENCODE(value, 0))
    return _ENCODER.encode(value)


@lru_cache(maxsize=4096)
def share_fraction(text: str) -> Fraction:
    """A stored "n/d" share as a Fraction (cached: a mall has few distinct shares)."""
    return Fraction(text)


def encode_lines(lines: list[Any]) -> str:
    return dumps([[ln.sku, ln.category, ln.amount_minor, ln.refunded_minor] for ln in lines])


def decode_lines_raw(text: str) -> list[list[Any]]:
    return json.loads(text)


def encode_beneficiaries(beneficiaries: tuple[Beneficiary, ...]) -> str:
    rows = []
    for promoter_id, level, share in beneficiaries:
        numerator, denominator = share.as_integer_ratio()  # one call, not two properties
        rows.append([promoter_id, level, f"{numerator}/{denominator}"])
    return dumps(rows)


def decode_beneficiaries_raw(text: str) -> list[list[Any]]:
    """[[promoter_id, level, "n/d"], ...] without building `Beneficiary` objects."""
    return json.loads(text)


def decode_beneficiaries(text: str) -> tuple[Beneficiary, ...]:
    return tuple(Beneficiary(pid, level, share_fraction(share))
                 for pid, level, share in json.loads(text))


def encode_allocation(allocation: Allocation) -> str:
    document: dict[str, Any] = {
        "net": allocation.net_minor, "platform": allocation.platform_minor,
        "merchant": allocation.merchant_minor, "promoters": allocation.promoters}
    if allocation.terms is not None:  # plans v2 only: a v1 order's text is unchanged
        document["provider"] = allocation.provider_minor
        document["terms"] = allocation.terms.to_json()
    return dumps(document)


def decode_allocation(text: str) -> Allocation:
    raw = json.loads(text)
    terms = raw.get("terms")
    return Allocation(raw["net"], raw["platform"], raw["merchant"], raw["promoters"],
                      raw.get("provider", 0),
                      None if terms is None else OrderTerms.from_json(terms))
