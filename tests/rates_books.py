"""Settled books with rate suggestions and an experiment, for the Rate suggestions page tests
(AppTest and the real browser).

Four promoters, each with its own bound customer, an order of a known amount in March 2026:
T1 100.00 and T2 200.00 (treated), C1 50.00 and C2 none (control). Pending live suggestions for
T1 (0.10 → 0.12) and P5 (no orders; 0.10 → 0.08), a shadow one for T2 (0.10 → 0.11), a blocked
one for C1. The what-if over the books' last 30 days (Mar 2 to Apr 1): T1's 100.00 at 12 %
instead of 10 % costs 2.00 more; T2's shadow rate counts too (pending): 200.00 × 1 % = 2.00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from settlement import rate_suggestions as rs
from settlement import rate_tables as rt
from settlement.db import create_db_engine, upgrade
from settlement.events import parse_event
from settlement.ingest import Ingest
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions
from settlement.service import sort_events
from tests.conftest import DEFAULT_PLAN
from tests.rate_store import store, suggestion

START = datetime(2026, 3, 1, tzinfo=UTC)
ORDERS = (("T1", "100.00", 10), ("T2", "200.00", 25), ("C1", "50.00", 5), ("C2", None, 0))


@dataclass(frozen=True)
class RatesBooks:
    url: str
    pending: dict[str, str]  # promoter -> suggestion id of the pending live suggestions


def _events() -> list:
    raw: list[dict[str, object]] = []
    for promoter, amount, day in (*ORDERS, ("P5", None, 0)):
        raw += [{"event_id": f"j-{promoter}", "type": "promoter_joined",
                 "ts": "2026-02-01T00:00:00Z", "promoter_id": promoter},
                {"event_id": f"t-{promoter}", "type": "touch", "ts": "2026-02-01T01:00:00Z",
                 "customer_id": f"c-{promoter}", "promoter_id": promoter, "kind": "register"}]
        if amount:
            raw.append({"event_id": f"o-{promoter}", "type": "order_paid",
                        "ts": f"2026-03-{day:02d}T10:00:00Z", "order_id": f"o-{promoter}",
                        "customer_id": f"c-{promoter}", "merchant_id": "m1", "currency": "CNY",
                        "lines": [{"sku": "s", "category": "food", "amount": amount}]})
    raw.append({"event_id": "j-last", "type": "promoter_joined", "ts": "2026-04-01T00:00:00Z",
                "promoter_id": "LATE"})
    return [parse_event(event) for event in raw]


def build_rates_books(root: Path) -> RatesBooks:
    url = f"sqlite:///{root / 'books.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(DEFAULT_PLAN))
    ingest = Ingest(engine, 500)
    ingest.apply(sort_events(_events()))
    with engine.begin() as conn:
        experiment = rs.start_experiment(conn, 0.5, 7, START, "test")
        conn.execute(rt.rate_experiment_members.insert(), [
            {"experiment_id": experiment.experiment_id, "promoter_id": p, "arm": arm,
             "draw": 0.5, "joined_at": START}
            for p, arm in (("T1", "treated"), ("T2", "treated"), ("C1", "control"),
                           ("C2", "control"))])
    treated = rs.ExperimentArm.TREATED
    t1, p5, _ = store(engine, [
        suggestion("T1", arm=treated), suggestion("P5", proposed="0.08", margin=(
            "-2.00", "-5.00", "1.00")),
        suggestion("C1", proposed="0.10", status=rs.SuggestionStatus.BLOCKED,
                   arm=rs.ExperimentArm.CONTROL)], at=START,
        experiment_id=experiment.experiment_id)
    store(engine, [suggestion("T2", proposed="0.11", arm=treated)], at=START,
          mode=rs.SuggestionMode.SHADOW, experiment_id=experiment.experiment_id)
    engine.dispose()
    return RatesBooks(url, {"T1": t1, "P5": p5})
