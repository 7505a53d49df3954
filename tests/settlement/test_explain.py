"""Every amount of an order can say how it was produced: the read model recomputes the split of
the books step by step (rule, base, level, rate, bonuses, caps, allowance, grade, version,
rounding), and `fenrun explain ORDER_ID` prints it in words."""

from __future__ import annotations

from fractions import Fraction

from typer.testing import CliRunner

from api.cli import app
from settlement.db import create_db_engine, upgrade
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import store_versions
from settlement.read_model import explain_order
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.helpers import settle

PLAN = DEFAULT_PLAN + """max_levels: 2
payment_channels: {card: "0.01"}
fixed_commissions: {SKU-1: ["5.00", "2.00"]}
grades: {senior: {levels: ["0.12", "0.06"], upgrade_at_gmv: "100000.00"}}
campaigns: [{name: spring, from: 2026-03-01T00:00:00Z, to: 2026-04-01T00:00:00Z, bonus: "0.01"}]
ladder: [{from_gmv: "50.00", bonus: "0.02"}]
caps: {per_order: "30.00"}
regional_agents: {share: "0.01"}
"""


def books_with_one_order(url: str):
    # B (senior) <- C; C attributed; agent G of east. Lines: SKU-1 40.00 x 2 units, tea 100.00.
    # C (L1): SKU-1 fixed 2 x 5.00 = 10.00; tea base 10% + spring 1% = 11.00, and the ladder
    #   (position 0): SKU-1 fills 0..40, tea 40..140: 90.00 in the band from 50.00 x 2% = 1.80
    #   -> C exact 22.80
    # B (L2, senior): SKU-1 2 x 2.00 = 4.00; tea 6% = 6.00 -> 10.00
    # G (agent): 1% of 140.00 = 1.40
    # total 34.20 > per_order 30.00 -> factor 30/34.2 = 50/57:
    #   C 22.80 x 50/57 = 20.00; B 10.00 x 50/57 = 8.77.. -> 8.77; G 1.40 x 50/57 = 1.22.. -> 1.22
    # platform 5% of 140.00 = 7.00; card fee 1% = 1.40; merchant 140 - 7 - 1.40 - 29.99 = 101.61
    books = create_db_engine(url)
    upgrade(books)
    plans = PlanBook(parse_plan_text(PLAN))
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    ev = EventFactory()
    settle(books, plans, [
        ev.join("2026-03-01T08:00:00Z", "B", grade="senior"),
        ev.join("2026-03-01T09:00:00Z", "C", "B"),
        ev.join("2026-03-01T09:30:00Z", "G", agent_region="east"),
        ev.touch("2026-03-02T10:00:00Z", "x", "C"),
        ev("order_paid", "2026-03-02T10:05:00Z", order_id="o1", customer_id="x",
           merchant_id="m1", currency="CNY", payment_channel="card", region="east",
           lines=[{"sku": "SKU-1", "category": "food", "amount": "40.00", "quantity": 2},
                  {"sku": "tea", "category": "food", "amount": "100.00"}])])
    return books


def test_the_read_model_explains_every_amount_of_the_worked_example(sqlite_url):
    books = books_with_one_order(sqlite_url)
    with books.connect() as conn:
        explanation = explain_order(conn, "o1")
        assert explain_order(conn, "nope") is None
    assert explanation is not None
    split = explanation.split
    totals = {t.promoter_id: t for t in split.totals}
    assert totals["C"].exact == Fraction(2280) and totals["C"].rounded_minor == 2000
    assert totals["B"].exact == Fraction(1000) and totals["B"].rounded_minor == 877
    assert totals["G"].exact == Fraction(140) and totals["G"].rounded_minor == 122
    assert totals["C"].cap_factor == Fraction(50, 57)
    assert (split.platform_minor, split.provider_minor, split.merchant_minor) == (700, 140,
                                                                                  10161)
    tea = next(p for p in split.parts if p.promoter_id == "C" and p.sku == "tea")
    assert (tea.rule, tea.rate, tea.campaigns) == ("base", Fraction(1, 10),
                                                   (("spring", Fraction(1, 100)),))
    assert tea.ladder == ((5000, Fraction(1, 50), Fraction(9000)),)
    fixed = next(p for p in split.parts if p.promoter_id == "B" and p.sku == "SKU-1")
    assert (fixed.rule, fixed.fixed_per_unit_minor, fixed.quantity, fixed.grade) == (
        "fixed", 200, 2, "senior")
    assert split.plan_version_id == "2026-01-01T00:00:00Z"
    assert {p.entry_id for p in explanation.postings} == {"event:ev-5"}
    books.dispose()


def test_fenrun_explain_prints_it_in_words(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'books.db'}"
    books_with_one_order(url).dispose()
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["explain", "o1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.output
    for words in ("settled by plan version 2026-01-01T00:00:00Z", "promoter B (grade senior):",
                  "fixed 5.00 per unit x 2 unit(s)", "10% (the plan's level rate)",
                  "+ campaign spring 1%", "+ ladder band from 50.00: 90.00 inside x 2%",
                  "order cap scales every beneficiary by 50/57", "rounded down: 8.77",
                  "regional agent", "payment provider card: 1% of the net, half-even: 1.40",
                  "merchant keeps the exact remainder: 101.61",
                  "Cr payment_provider_payable/card 1.40"):
        assert words in text, words
    missing = CliRunner().invoke(app, ["explain", "nope"])
    assert missing.exit_code == 1 and "order_id: nope is not in the books" in missing.output
