"""Small helpers the settlement tests share: settle events and read the books back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from settlement.engine import Outcome
from settlement.events import Event, parse_timestamp
from settlement.plan import PlanBook
from settlement.reports import balances_document, verify_ledger
from settlement.service import apply_events, release_due, sort_events


def settle(books: Engine, plans: PlanBook, events: list[Event], as_of: str | None = None,
           batch_size: int = 500) -> list[Outcome]:
    ordered = sort_events(events)
    outcomes = apply_events(books, plans, ordered, batch_size)
    release_at = at(as_of) if as_of else (ordered[-1].ts if ordered else None)
    if release_at is not None:
        release_due(books, plans, release_at)
    return outcomes


def at(text: str) -> datetime:
    return parse_timestamp(text)


def balances(books: Engine) -> dict[str, Any]:
    with books.connect() as conn:
        return balances_document(conn)


def promoter(books: Engine, promoter_id: str) -> dict[str, str]:
    return balances(books)["promoters"].get(
        promoter_id, {"pending": "0.00", "available": "0.00", "paid": "0.00"})


def assert_books_verified(books: Engine) -> None:
    with books.connect() as conn:
        assert verify_ledger(conn) == []
