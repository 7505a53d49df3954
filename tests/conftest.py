"""Shared fixtures: scratch databases (SQLite files and real PostgreSQL) and event builders.

PostgreSQL tests read FENRUN_TEST_POSTGRES_URL; each test gets its own scratch database, dropped
afterwards. Without a reachable server they skip with the reason, except under CI=true, where they
fail: CI must never go green by skipping the database it is meant to test.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from sqlalchemy import Engine

from settlement.db import create_db_engine, upgrade
from settlement.events import Event, parse_event
from settlement.plan import PlanBook, parse_plan_text
from settlement.scratch import scratch_postgres

PG_ENV = "FENRUN_TEST_POSTGRES_URL"
DEFAULT_PLAN = """
effective_from: 2026-01-01T00:00:00Z
currency: CNY
platform_take_rate: "0.05"
levels: ["0.10", "0.05", "0.02"]
attribution: {model: position, first: "0.6", last: "0.4", lookback_days: 30}
customer_binding: lifetime
hold_days: 7
payout_minimum: "100.00"
review_limit: "10000.00"
categories: {electronics: {levels: ["0.03", "0.01", "0"], platform_take_rate: "0.02"}}
"""


def _postgres_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set under CI=true")
        return None
    return url


def _unreachable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL unreachable under CI=true: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(autouse=True)
def _own_snapshot_store(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with an empty snapshot store of its own, so a `.fenrun/` left in the
    working tree by `make demo` (profiles, value snapshots, anomaly flags) never leaks in."""
    monkeypatch.setenv("FENRUN_FEATURE_STORE_DIR", str(tmp_path_factory.mktemp("snapshots")))


@pytest.fixture(autouse=True)
def _own_data_key(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test that needs a personal-data key gets its own generated key file, never the
    working tree's `.fenrun/data.keys` nor a FENRUN_DATA_KEYS from the shell."""
    monkeypatch.delenv("FENRUN_DATA_KEYS", raising=False)
    monkeypatch.setenv("FENRUN_DATA_KEY_FILE", str(tmp_path_factory.mktemp("keys") / "data.keys"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        pytest.skip(f"PostgreSQL not configured ({PG_ENV} unset)")
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_postgres(admin_url, "fenrun_test"))
        except Exception as error:  # noqa: BLE001 - any failure to reach the server
            _unreachable(str(error).splitlines()[0])
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'fenrun.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The settlement suite runs on both the embedded default and PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def books(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def plans() -> PlanBook:
    return PlanBook(parse_plan_text(DEFAULT_PLAN))


class EventFactory:
    """Builds valid events with unique ids; tests state only the fields that matter to them."""

    def __init__(self, prefix: str = "") -> None:
        self._ids = itertools.count(1)
        self._prefix = prefix

    def __call__(self, type_: str, ts: str, **fields: Any) -> Event:
        event_id = fields.pop("event_id", f"{self._prefix}ev-{next(self._ids)}")
        payload = {"event_id": event_id, "type": type_, "ts": ts, **fields}
        return parse_event(payload)

    def join(self, ts: str, promoter: str, parent: str | None = None, **fields: Any) -> Event:
        extra = {"parent_id": parent} if parent else {}
        return self("promoter_joined", ts, promoter_id=promoter, **extra, **fields)

    def touch(self, ts: str, customer: str, promoter: str, kind: str = "click") -> Event:
        return self("touch", ts, customer_id=customer, promoter_id=promoter, kind=kind)

    def paid(self, ts: str, order: str, customer: str, *lines: tuple[str, str, str],
             merchant: str = "m1", currency: str = "CNY") -> Event:
        return self("order_paid", ts, order_id=order, customer_id=customer, merchant_id=merchant,
                    currency=currency,
                    lines=[{"sku": s, "category": c, "amount": a} for s, c, a in lines])

    def confirmed(self, ts: str, order: str) -> Event:
        return self("order_confirmed", ts, order_id=order)

    def refunded(self, ts: str, order: str, *lines: tuple[str, str]) -> Event:
        return self("order_refunded", ts, order_id=order,
                    lines=[{"sku": s, "amount": a} for s, a in lines])


@pytest.fixture
def ev() -> EventFactory:
    return EventFactory()
