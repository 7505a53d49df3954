"""Books with two risk cases, for the dashboard tests: the mall of
`tests/settlement/test_risk_cases.py` (F's fraud fed U and G; H and H2 honest), settled, with a
case about F (self_referral, orders f1-f3, 764.83 CNY at risk; f1 paid from F's own phone) and
one about H2 (velocity, x1, 250.00)."""

from __future__ import annotations

from pathlib import Path

from serving.risk_cases import open_cases
from settlement.db import create_db_engine, upgrade
from settlement.ingest import Ingest
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions
from settlement.risk_domain import RiskFlag
from tests.conftest import DEFAULT_PLAN, EventFactory


def build_case_books(root: Path) -> str:
    """The SQLite URL of the books; the case ids are 1 (F) and 2 (H2)."""
    from tests.settlement.test_risk_cases import _mall

    url = f"sqlite:///{root / 'books.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(DEFAULT_PLAN))
    ingest = Ingest(engine, 500)
    ingest.apply(sorted(_mall(EventFactory()), key=lambda e: e.ts))
    ingest.release()
    open_cases(engine, [
        RiskFlag("F", "self_referral", "high", {"orders": ["f1", "f2", "f3"],
                                                "devices": ["dF"], "parent_id": "U"}),
        RiskFlag("H2", "velocity", "medium", {"orders": ["x1"]})])
    engine.dispose()
    return url
