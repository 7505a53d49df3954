"""Property tests through the real engine and database: conservation, replay, refund-to-zero."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from settlement.events import Event
from settlement.plan import PlanBook, parse_plan_text
from settlement.reports import verify_ledger
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.helpers import balances, settle

PLANS = PlanBook(parse_plan_text(DEFAULT_PLAN))


def scenario(seed: int, prefix: str) -> tuple[list[Event], list[Event], int]:
    """A random small mall: a tree, touches, orders, confirmations and partial refunds.

    Every id starts with `prefix`, so examples can share one database. Returns the events, the
    refunds that would empty every order, and what remains paid (minor units) after the events.
    """
    rng = random.Random(seed)
    ev = EventFactory(prefix)
    events: list[Event] = []
    promoters = [f"{prefix}P{i}" for i in range(rng.randint(1, 7))]
    for i, pid in enumerate(promoters):
        parent = rng.choice(promoters[:i]) if i and rng.random() < 0.8 else None
        events.append(ev.join(f"2026-02-01T00:{i:02d}:00Z", pid, parent))
    remaining: dict[tuple[str, str], int] = {}
    for n in range(rng.randint(1, 12)):
        day = 2 + n
        customer = rng.choice([f"{prefix}c1", f"{prefix}c2", f"{prefix}c3", *promoters])
        for k in range(rng.randint(0, 3)):
            promoter = rng.choice(promoters)
            if promoter != customer:
                events.append(ev.touch(f"2026-03-{day:02d}T0{k}:00:00Z", customer, promoter,
                                       kind=rng.choice(["click", "register"])))
        order = f"{prefix}o{n}"
        lines = [(f"s{j}", rng.choice(["food", "electronics", "home"]),
                  rng.randint(1, 500_000)) for j in range(rng.randint(1, 3))]
        events.append(ev.paid(f"2026-03-{day:02d}T05:00:00Z", order, customer,
                              *[(s, c, f"{a // 100}.{a % 100:02d}") for s, c, a in lines],
                              merchant=f"{prefix}m{rng.randint(1, 2)}"))
        for sku, _, amount in lines:
            remaining[(order, sku)] = amount
        if rng.random() < 0.6:
            events.append(ev.confirmed(f"2026-03-{day:02d}T06:00:00Z", order))
        for sku, _, amount in lines:
            if rng.random() < 0.3:
                part = rng.randint(1, amount)
                remaining[(order, sku)] -= part
                events.append(ev.refunded(f"2026-03-{day + rng.randint(0, 14):02d}T07:00:00Z",
                                          order, (sku, f"{part // 100}.{part % 100:02d}")))
    empty = [ev.refunded("2026-04-30T00:00:00Z", order, (sku, f"{a // 100}.{a % 100:02d}"))
             for (order, sku), a in sorted(remaining.items()) if a]
    return events, empty, sum(remaining.values())


def minor(text: str) -> int:
    whole, frac = text.lstrip("-").split(".")
    return (-1 if text.startswith("-") else 1) * (int(whole) * 100 + int(frac))


def mine(document: dict, prefix: str) -> dict:
    """The part of a balances document that belongs to one example."""
    return {
        "promoters": {k: v for k, v in document["promoters"].items() if k.startswith(prefix)},
        "merchants": {k: v for k, v in document["merchants"].items() if k.startswith(prefix)},
        "platform": minor(document["platform"]["revenue"]),
    }


def distributed(document: dict) -> int:
    promoters = sum(minor(row[k]) for row in document["promoters"].values()
                    for k in ("pending", "available", "paid"))
    merchants = sum(minor(row["payable"]) for row in document["merchants"].values())
    return promoters + merchants + document["platform"]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=2**32))
def test_conservation_replay_and_refund_to_zero(books, seed):
    prefix = f"x{seed}-"
    events, empty, remaining = scenario(seed, prefix)
    start = mine(balances(books), prefix)
    settle(books, PLANS, events, as_of="2026-04-20T00:00:00Z")
    after = mine(balances(books), prefix)
    # promoters + platform + merchants = paid - refunded, to the fen
    assert distributed(after) - distributed(start) == remaining
    with books.connect() as conn:
        assert verify_ledger(conn) == []
    settle(books, PLANS, events, as_of="2026-04-20T00:00:00Z")
    assert mine(balances(books), prefix) == after
    settle(books, PLANS, empty)
    emptied = mine(balances(books), prefix)
    assert emptied["platform"] == start["platform"]
    assert all(minor(v) == 0 for row in emptied["promoters"].values() for v in row.values())
    assert all(minor(row["payable"]) == 0 for row in emptied["merchants"].values())
