"""`fenrun explain ORDER_ID`: how every amount of an order was produced, in words.

Per beneficiary and line: the rule that priced it (fixed, category, override, grade, base or
regional agent), the base amount, level, rate or fixed amount, campaign and ladder bonuses, then
the beneficiary's exact total, the order cap's factor, the day allowance and the rounding; then
the platform fee, the payment fee, the merchant's remainder and every posting booked for the
order. Read through `settlement.read_model.explain_order`, as the API reads it. Exit 1 when the
order is not in the books. `fenrun explain P12 --guarantee` explains the posted months of
promoter P12's guarantee instead (`settlement.read_model.guarantee_months`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.common import fail, open_books
from settlement.errors import SettlementError
from settlement.explain import describe, describe_guarantee
from settlement.read_model import explain_order, guarantee_months


def explain_command(
    order_id: Annotated[str, typer.Argument(help="the order_id of an order_paid event (a "
                                                 "promoter_id with --guarantee)")],
    guarantee: Annotated[bool, typer.Option(
        "--guarantee", help="explain the posted months of this promoter's guarantee")] = False,
) -> None:
    """Explain an order's split: rule, base, level, rate, bonuses, caps, allowance, rounding."""
    if guarantee:
        _explain_guarantee(order_id)
        return
    engine = open_books(create=False)
    try:
        with engine.connect() as conn:
            explanation = explain_order(conn, order_id)
    except SettlementError as error:
        fail(str(error))
    finally:
        engine.dispose()
    if explanation is None:
        fail(f"order_id: {order_id} is not in the books", code=1)
    for line in describe(explanation):
        typer.echo(line)


def _explain_guarantee(promoter_id: str) -> None:
    engine = open_books(create=False)
    try:
        with engine.connect() as conn:
            currency, months = guarantee_months(conn, promoter_id)
    except SettlementError as error:
        fail(str(error))
    finally:
        engine.dispose()
    for line in describe_guarantee(promoter_id, months, currency):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_command)
