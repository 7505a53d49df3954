"""How an order's amounts were produced, read through `settlement.read_model.explain_order`.

The mall's backend shows its promoters why they earned what they earned; finance reads every
step (rule, base, level, rate or fixed amount, bonuses, cap factor, allowance, grade, rounding).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import allow
from api.books_schemas import LinePartOut, OrderExplanationOut, PartyTotalOut
from api.deps import BooksDep
from api.errors import error_responses
from settlement.errors import NotFound
from settlement.explain import OrderExplanation, describe
from settlement.money import format_amount
from settlement.read_model import explain_order

router = APIRouter(prefix="/v1", tags=["orders"])
OrderId = Annotated[str, Path(min_length=1, max_length=128)]


def _ratio(value: Fraction | int) -> str:
    value = Fraction(value)
    return f"{value.numerator}/{value.denominator}"


def _out(found: OrderExplanation) -> OrderExplanationOut:
    split, currency = found.split, found.currency

    def money(minor: int) -> str:
        return format_amount(minor, currency)

    parts = [LinePartOut(
        promoter_id=p.promoter_id, level=p.level, sku=p.sku, category=p.category,
        base=money(p.base_minor), share=_ratio(p.share), rule=p.rule,
        rate=None if p.rate is None else _ratio(p.rate),
        fixed_per_unit=None if p.fixed_per_unit_minor is None else money(p.fixed_per_unit_minor),
        quantity=p.quantity, grade=p.grade,
        campaigns=[{"name": name, "bonus": _ratio(bonus)} for name, bonus in p.campaigns],
        ladder=[{"from_gmv": money(start), "bonus": _ratio(bonus), "inside": _ratio(inside)}
                for start, bonus, inside in p.ladder],
        exact_minor=_ratio(p.exact)) for p in split.parts]
    totals = [PartyTotalOut(
        promoter_id=t.promoter_id, exact_minor=_ratio(t.exact), cap_factor=_ratio(t.cap_factor),
        allowance=None if t.allowance_minor is None else money(t.allowance_minor),
        after_caps_minor=_ratio(t.after_caps), amount=money(t.rounded_minor))
        for t in split.totals]
    return OrderExplanationOut(
        order_id=found.order_id, merchant_id=found.merchant_id, currency=currency,
        paid_at=found.paid_at, plan_version_id=found.plan_version_id, net=money(split.net_minor),
        platform=money(split.platform_minor),
        take_rate=None if split.take_rate is None else _ratio(split.take_rate),
        payment_provider=split.channel, payment_fee=money(split.provider_minor),
        merchant=money(split.merchant_minor), parts=parts, totals=totals,
        words=describe(found))


@router.get("/orders/{order_id}/explanation", dependencies=[allow("mall", "finance")],
            responses=error_responses(NotFound, validated=True))
def order_explanation(order_id: OrderId, books: BooksDep) -> OrderExplanationOut:
    """Every amount of the order's current split and how it was produced, checked against the
    books; 404 for an order never paid."""
    with books.connect() as conn:
        found = explain_order(conn, order_id)
    if found is None:
        raise NotFound(f"order_id: no order {order_id!r} in the books")
    return _out(found)
