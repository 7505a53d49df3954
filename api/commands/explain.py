"""`fenrun explain ORDER_ID`: how every amount of an order was produced, in words.

Per beneficiary and line: the rule that priced it (fixed, category, override, grade, base or
regional agent), the base amount, level, rate or fixed amount, campaign and ladder bonuses, then
the beneficiary's exact total, the order cap's factor, the day allowance and the rounding; then
the platform fee, the payment fee, the merchant's remainder and every posting booked for the
order. Read through `settlement.read_model.explain_order`, as the API reads it. Exit 1 when the
order is not in the books.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.common import fail, open_books
from settlement.errors import SettlementError
from settlement.explain import describe
from settlement.read_model import explain_order


def explain_command(
    order_id: Annotated[str, typer.Argument(help="the order_id of an order_paid event")],
) -> None:
    """Explain an order's split: rule, base, level, rate, bonuses, caps, allowance, rounding."""
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


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_command)
