"""With `plan_rules` the simulator writes a plan with every plans v2 rule on and events that use
them (payment channels, regions, quantities, regional agents, grades), byte-identical per seed,
and the books settle them with zero rejections and a verified ledger."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from features.simulator import SimulationConfig, simulate
from features.simulator.catalog import REGIONS
from settlement.db import create_db_engine, upgrade
from settlement.ingest import settle_file
from settlement.plan import parse_plan_text
from settlement.plan_rules import RULE_KEYS
from settlement.plan_store import store_versions
from settlement.reports import balances_document, verify_ledger

CONFIG = SimulationConfig(promoters=150, days=45, seed=5, plan_rules=True)


def test_the_plan_has_every_rule_and_the_events_use_them(tmp_path: Path) -> None:
    simulate(tmp_path, CONFIG)
    version, = parse_plan_text((tmp_path / "plan.yaml").read_text())
    assert version.rules is not None
    assert all(version.document.get(key) is not None for key in RULE_KEYS)
    assert version.overrides_scaled
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    paid = [e for e in events if e["type"] == "order_paid"]
    agents = [e["agent_region"] for e in events if "agent_region" in e]
    assert sorted(agents) == sorted(REGIONS)
    assert {e.get("payment_channel") for e in paid} == {None, "wechat_pay", "alipay", "card"}
    assert {e["region"] for e in paid} == set(REGIONS)
    quantities = [line["quantity"] for e in paid for line in e["lines"]]
    assert min(quantities) == 1 and max(quantities) > 1
    again = tmp_path / "again"
    simulate(again, CONFIG)
    assert (again / "events.jsonl").read_bytes() == (tmp_path / "events.jsonl").read_bytes()
    plain = tmp_path / "plain"
    simulate(plain, SimulationConfig(promoters=150, days=45, seed=5))
    assert b"payment_channel" not in (plain / "events.jsonl").read_bytes()


def test_every_rule_settles_with_zero_rejections_and_a_verified_ledger(tmp_path: Path) -> None:
    simulate(tmp_path, CONFIG)
    books = create_db_engine(f"sqlite:///{tmp_path / 'books.db'}")
    upgrade(books)
    with books.begin() as conn:
        store_versions(conn, parse_plan_text((tmp_path / "plan.yaml").read_text()))
    settled = settle_file(books, tmp_path / "events.jsonl", 500)
    assert settled.rejects == []
    with books.connect() as conn:
        assert verify_ledger(conn) == []
        document = balances_document(conn)
        agent_orders = conn.execute(text(
            "SELECT count(*) FROM orders WHERE allocation LIKE '%\"agent\":\"P%'")).scalar_one()
        upgraded = conn.execute(text("SELECT count(*) FROM plan_tallies WHERE tally_key "
                                     "LIKE 'g|%'")).scalar_one()
    assert set(document["payment_providers"]) == {"wechat_pay", "alipay", "card"}
    assert agent_orders > 0 and upgraded > 0
    books.dispose()
