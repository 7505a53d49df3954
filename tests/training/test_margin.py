"""Proves a customer's contribution to the mall is computed exactly as `training.ltv.margin` defines
it, on a tiny book worked by hand (category margins, the platform's take, commission, a refund, a
fully refunded customer, a half-fen tie), and that bad margin settings are refused by name.

The book (fen; CNY). The mall sells beauty itself at a 40 % gross margin; digital goods are sold by
hosted merchants, where what the mall keeps is the plan's platform take, 8 %
(FENRUN_MARGIN_CATEGORIES = {"beauty": "0.40", "digital": "0.08"}); anything else: 25 %.

alice, acquired by PA:
  A1 beauty   gross 20,000            net 20,000  commission 1,200 (first order: CAC)
  A2 digital  gross 100,000, refund 30,000 → net 70,000  commission 3,500 (net of claw-back)
  A3 food     gross 5,001             net 5,001   commission 250
  margin   = 20,000 × 0.40 + 70,000 × 0.08 + 5,001 × 0.25 = 8,000 + 5,600 + 1,250.25
           = 14,850.25 → 14,850 (half-even, once)
  realised = 14,850 − (3,500 + 250) later commission = 11,100
  rate     = (14,850.25 − 4,950 commission) / 95,001 net = 9,900.25 / 95,001
  predicted GMV 100,000 → 100,000 × 9,900.25 / 95,001 = 10,421.206… → 10,421
  contribution LTV = 11,100 + 10,421 = 21,521; GMV LTV = 95,001 + 100,000 = 195,001
  LTV/CAC: 21,521 / 1,200 = 17.93 on the margin basis, 162.5 on GMV.
bob, acquired by PB: B1 beauty gross 9,999, refunded in full, commission 600 − 600 claw-back = 0
  margin 0, realised 0; no net left, so the mix is weighed by gross: rate 0.40;
  predicted 50 → 20.
carol, acquired by PB: C1 food gross 2, commission 0: margin 0.5 → 0 (a tie, to even);
  rate 0.25; predicted 10 → 2.5 → 2 (a tie, to even).
"""

from __future__ import annotations

from fractions import Fraction

import pandas as pd
import pytest

from training.ltv.config import MarginSettings
from training.ltv.history import make_history
from training.ltv.margin import MarginError, MarginRates, customer_contribution
from training.ltv.promoter_value import customer_value, promoter_value

RATES = MarginRates(Fraction(1, 4), {"beauty": Fraction(2, 5), "digital": Fraction(2, 25)})
ORDERS = [  # order, customer, day, gross, category, promoter
    ("A1", "alice", 1, 20_000, "beauty", "PA"), ("A2", "alice", 5, 100_000, "digital", "PA"),
    ("A3", "alice", 9, 5_001, "food", "PA"), ("B1", "bob", 2, 9_999, "beauty", "PB"),
    ("C1", "carol", 3, 2, "food", "PB")]
REFUNDS = [("A2", 6, 30_000), ("B1", 4, 9_999)]
COMMISSIONS = [("A1", 1, 1_200), ("A2", 5, 5_000), ("A2", 6, -1_500), ("A3", 9, 250),
               ("B1", 2, 600), ("B1", 4, -600)]
PREDICTED = {"alice": 100_000.0, "bob": 50.0, "carol": 10.0}
AS_OF = pd.Timestamp("2026-01-20T00:00Z")


def _at(day: int) -> pd.Timestamp:
    return pd.Timestamp("2026-01-01T00:00Z") + pd.Timedelta(days=day)


def _history():  # type: ignore[no-untyped-def]
    orders = pd.DataFrame([{"order_id": o, "customer_id": c, "merchant_id": "M1",
                            "paid_at": _at(d), "gross_minor": g, "main_category": cat,
                            "n_categories": 1, "promoter_id": p}
                           for o, c, d, g, cat, p in ORDERS])
    refunds = pd.DataFrame([{"order_id": o, "refunded_at": _at(d), "amount_minor": a}
                            for o, d, a in REFUNDS])
    commissions = pd.DataFrame([{"order_id": o, "occurred_at": _at(d), "amount_minor": a}
                                for o, d, a in COMMISSIONS])
    return make_history("CNY", orders, refunds, commissions=commissions)


def _predict(features: pd.DataFrame) -> list[float]:
    return [PREDICTED[c] for c in features["customer_id"]]


def test_the_hand_worked_book() -> None:
    customers = customer_value(_history(), AS_OF, 90, predict=_predict, margins=RATES)
    by_customer = customers.set_index("customer_id")
    assert by_customer["contribution_realised_minor"].to_dict() == {
        "alice": 11_100, "bob": 0, "carol": 0}
    assert by_customer["contribution_rate"].to_dict() == {
        "alice": Fraction(990_025, 9_500_100), "bob": Fraction(2, 5), "carol": Fraction(1, 4)}
    assert by_customer["cac_minor"].to_dict() == {"alice": 1_200, "bob": 0, "carol": 0}
    value = promoter_value(customers, replicates=20)
    whole = value.customers.set_index("customer_id")
    assert whole["contribution_predicted_minor"].to_dict() == {
        "alice": 10_421, "bob": 20, "carol": 2}
    assert whole["contribution_ltv_minor"].to_dict() == {"alice": 21_521, "bob": 20, "carol": 2}
    assert whole["gmv_ltv_minor"].to_dict() == {"alice": 195_001, "bob": 50, "carol": 12}
    pa = value.promoters.set_index("promoter_id").loc["PA"]
    assert pa["ltv_cac"] == pytest.approx(21_521 / 1_200)
    assert pa["gmv_ltv_cac"] == pytest.approx(195_001 / 1_200)
    pb = value.promoters.set_index("promoter_id").loc["PB"]
    assert pd.isna(pb["ltv_cac"])  # no CAC: the ratio is undefined, not infinite


def test_a_category_without_its_own_margin_takes_the_default() -> None:
    orders = pd.DataFrame({"customer_id": ["x", "x"], "order_id": ["o1", "o2"],
                           "main_category": ["toys", "beauty"], "gross_minor": [400, 100],
                           "net_minor": [400, 100]})
    out = customer_contribution(orders, pd.Series(dtype="int64"),
                                pd.Series({"x": "o1"}), RATES).set_index("customer_id")
    assert out.loc["x", "contribution_realised_minor"] == 400 // 4 + 100 * 2 // 5 == 140
    assert out.loc["x", "contribution_rate"] == Fraction(140, 500)


def test_margin_settings_parse_exactly_and_name_a_bad_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENRUN_MARGIN_CATEGORIES", '{"beauty": "0.40", "digital": "0.08"}')
    assert MarginSettings().rates() == RATES  # default 0.25
    monkeypatch.setenv("FENRUN_MARGIN_DEFAULT_RATE", "0.3")
    assert MarginSettings().rates().default == Fraction(3, 10)
    monkeypatch.setenv("FENRUN_MARGIN_DEFAULT_RATE", "1.2")
    with pytest.raises(MarginError, match="FENRUN_MARGIN_DEFAULT_RATE"):
        MarginSettings().rates()
    monkeypatch.setenv("FENRUN_MARGIN_DEFAULT_RATE", "0.1234567")  # int64 bound: 6 places
    with pytest.raises(MarginError, match="FENRUN_MARGIN_DEFAULT_RATE.*six decimal places"):
        MarginSettings().rates()
    monkeypatch.setenv("FENRUN_MARGIN_DEFAULT_RATE", "0.25")
    monkeypatch.setenv("FENRUN_MARGIN_CATEGORIES", '{"beauty": "forty"}')
    with pytest.raises(MarginError, match=r"FENRUN_MARGIN_CATEGORIES\['beauty'\]"):
        MarginSettings().rates()
