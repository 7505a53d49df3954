"""Proves the risk service orders the flagged promoters for review and counts only the commission
a hold can still protect (a claw-back owed is not negative money at stake)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serving.config import ServingSettings
from serving.errors import NoSnapshot
from serving.risk import RiskRow, RiskService, at_stake_minor, unpaid_minor
from tests.risk_store import AS_OF, write_flags


def test_flagged_in_review_order_and_money_at_stake(tmp_path: Path) -> None:
    triage = RiskService(write_flags(tmp_path)).triage()
    assert (triage.as_of, triage.currency, triage.model_version) == (AS_OF, "CNY", "3")
    assert list(triage.flagged["promoter_id"]) == ["R1", "R2", "R3", "R4"]
    assert triage.unpaid_at_stake_minor == 50_000 + 120_000  # R3's -5,000 counts 0
    assert list(triage.by_money_at_stake()["promoter_id"]) == ["R4", "R1"]


def test_snapshots_newest_first_and_missing_ones_named(tmp_path: Path) -> None:
    empty = RiskService(ServingSettings(feature_store_dir=str(tmp_path)))
    with pytest.raises(NoSnapshot, match="fenrun risk flag"):
        empty.triage()
    older = pd.Timestamp("2026-03-01T00:00:00Z")
    write_flags(tmp_path, older)
    service = RiskService(write_flags(tmp_path))
    assert service.snapshots() == [AS_OF, older]
    assert service.triage(pd.Timestamp("2026-03-01T08:00:00+08:00")).as_of == older
    assert service.triage(pd.Timestamp("2026-05-01T00:00:00Z")).as_of == AS_OF
    with pytest.raises(NoSnapshot, match="at or before 2026-02-01"):
        service.triage(pd.Timestamp("2026-02-01T00:00:00Z"))


@given(st.lists(st.tuples(st.integers(-10**9, 10**9), st.integers(-10**9, 10**9)),
                max_size=50))
def test_unpaid_is_one_rule_and_the_money_at_stake_never_negative(
        balances: list[tuple[int, int]]) -> None:
    unpaid = pd.Series([unpaid_minor(p, a) for p, a in balances], dtype="int64")
    assert list(unpaid) == [p + a for p, a in balances]
    assert at_stake_minor(unpaid) == sum(max(0, p + a) for p, a in balances) >= 0
    row = RiskRow("R", AS_OF, "CNY", "1", 0.5, 1, True, (), 7, -3, 0, 3)
    assert row.unpaid_minor == unpaid_minor(7, -3)
