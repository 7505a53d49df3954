"""Plans v2, rule by rule, on worked examples computed by hand (in the comments) and settled
through the books: timezone, max_levels, payment channels, merchant tiers, fixed commissions with
quantities, grades and upgrades, caps, campaigns, the marginal ladder and regional agents."""

from __future__ import annotations

from typing import Any

from settlement.engine import APPLIED, REJECTED
from settlement.plan import PlanBook, parse_plan_text
from tests.conftest import DEFAULT_PLAN
from tests.settlement.helpers import assert_books_verified, balances, promoter, settle


def book(extra: str) -> PlanBook:
    return PlanBook(parse_plan_text(DEFAULT_PLAN + extra))


def paid(ev, ts: str, order: str, customer: str, *lines: tuple[Any, ...], merchant: str = "m1",
         **fields: Any):
    """An order_paid with optional `payment_channel`, `region`, and line quantities."""
    rows = []
    for line in lines:
        row = {"sku": line[0], "category": line[1], "amount": line[2]}
        if len(line) > 3:
            row["quantity"] = line[3]
        rows.append(row)
    return ev("order_paid", ts, order_id=order, customer_id=customer, merchant_id=merchant,
              currency="CNY", lines=rows, **fields)


def merchant(books, merchant_id: str = "m1") -> str:
    return balances(books)["merchants"][merchant_id]["payable"]


def revenue(books) -> str:
    return balances(books)["platform"]["revenue"]


def test_merchant_tiers_count_the_local_month_and_a_category_take_wins(books, ev):
    # Tiers: from 0.00 take 5%, from 1000.00 take 4%; months are Asia/Shanghai (UTC+8) months.
    # o1 2026-03-31T15:00Z = 23:00 local March, month GMV before 0      -> 5%: 1000.00 -> 50.00
    # o2 2026-03-31T15:30Z = 23:30 local March, GMV before 1000.00      -> 4%:  100.00 ->  4.00
    # o4 2026-03-31T15:45Z electronics, March: the category's own 2% wins ->  100.00 ->  2.00
    # o3 2026-03-31T16:00Z = 00:00 local April 1st, GMV before 0        -> 5%:  100.00 ->  5.00
    # platform 61.00; merchant 1300.00 - 61.00 = 1239.00
    tiers = ('merchant_tiers: [{from_gmv: "0.00", platform_take_rate: "0.05"}, '
             '{from_gmv: "1000.00", platform_take_rate: "0.04"}]\n')
    events = [paid(ev, "2026-03-31T15:00:00Z", "o1", "x", ("a", "food", "1000.00")),
              paid(ev, "2026-03-31T15:30:00Z", "o2", "x", ("a", "food", "100.00")),
              paid(ev, "2026-03-31T15:45:00Z", "o4", "x", ("b", "electronics", "100.00")),
              paid(ev, "2026-03-31T16:00:00Z", "o3", "x", ("a", "food", "100.00"))]
    settle(books, book(tiers + "timezone: Asia/Shanghai\n"), events)
    assert revenue(books) == "61.00"
    assert merchant(books) == "1239.00"
    assert_books_verified(books)


def test_merchant_tiers_in_utc_put_the_last_order_in_march(books, ev):
    # Without a timezone o3 (16:00Z) is still March: GMV before 1200.00 -> 4% -> 4.00 (not 5.00).
    tiers = ('merchant_tiers: [{from_gmv: "0.00", platform_take_rate: "0.05"}, '
             '{from_gmv: "1000.00", platform_take_rate: "0.04"}]\n')
    events = [paid(ev, "2026-03-31T15:00:00Z", "o1", "x", ("a", "food", "1000.00")),
              paid(ev, "2026-03-31T15:30:00Z", "o2", "x", ("a", "food", "100.00")),
              paid(ev, "2026-03-31T15:45:00Z", "o4", "x", ("b", "electronics", "100.00")),
              paid(ev, "2026-03-31T16:00:00Z", "o3", "x", ("a", "food", "100.00"))]
    settle(books, book(tiers), events)
    assert revenue(books) == "60.00"


def chain(ev) -> list:
    """A <- B <- C: C attributed on every order, B its parent, A its grandparent."""
    return [ev.join("2026-03-01T08:00:00Z", "A"), ev.join("2026-03-01T09:00:00Z", "B", "A"),
            ev.join("2026-03-01T10:00:00Z", "C", "B"), ev.touch("2026-03-02T10:00:00Z", "x", "C")]


def test_max_levels_cuts_the_chain_and_the_cut_level_stays_with_the_merchant(books, ev):
    # max_levels 2, one food line of 100.00: C 10% = 10.00, B 5% = 5.00, A (level 3) cut.
    # platform 5.00; merchant 100 - 5 - 15 = 80.00 (with three levels it would be 78.00)
    events = chain(ev) + [paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "100.00"))]
    settle(books, book("max_levels: 2\n"), events)
    assert promoter(books, "C")["pending"] == "10.00"
    assert promoter(books, "B")["pending"] == "5.00"
    assert "A" not in balances(books)["promoters"]
    assert merchant(books) == "80.00"


def test_payment_channel_fee_is_the_merchants_and_follows_refunds_to_zero(books, ev):
    # wechat_pay 0.6%; C alone at level 1 (A, B left out with max_levels 1); 333.33 food.
    # fee 333.33 x 0.006 = 1.99998 -> half-even 2.00; platform 16.6665 -> 16.67;
    # C 33.333 -> 33.33; merchant 333.33 - 16.67 - 2.00 - 33.33 = 281.33
    # refund 111.11 -> 222.22 remains: fee 1.33332 -> 1.33; platform 11.111 -> 11.11;
    # C 22.222 -> 22.22; merchant 222.22 - 11.11 - 1.33 - 22.22 = 187.56
    plans = book('payment_channels: {wechat_pay: "0.006", card: "0.01"}\nmax_levels: 1\n')
    events = chain(ev) + [paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "333.33"),
                               payment_channel="wechat_pay")]
    settle(books, plans, events)
    document = balances(books)
    assert document["payment_providers"] == {"wechat_pay": {"payable": "2.00"}}
    assert (revenue(books), merchant(books), promoter(books, "C")["pending"]) == (
        "16.67", "281.33", "33.33")
    settle(books, plans, [ev.refunded("2026-03-03T10:00:00Z", "o1", ("a", "111.11"))])
    assert balances(books)["payment_providers"] == {"wechat_pay": {"payable": "1.33"}}
    assert (revenue(books), merchant(books), promoter(books, "C")["pending"]) == (
        "11.11", "187.56", "22.22")
    settle(books, plans, [ev.refunded("2026-03-04T10:00:00Z", "o1", ("a", "222.22"))])
    document = balances(books)
    assert document["payment_providers"] == {"wechat_pay": {"payable": "0.00"}}
    assert (revenue(books), merchant(books), promoter(books, "C")["pending"]) == (
        "0.00", "0.00", "0.00")
    assert_books_verified(books)


def test_an_unknown_channel_is_rejected_and_a_version_without_channels_ignores_it(books, ev):
    plans = book('payment_channels: {card: "0.01"}\n')
    bad = paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "10.00"),
               payment_channel="paypal")
    outcome, = settle(books, plans, [bad])
    assert outcome.status == REJECTED
    assert outcome.reason == "payment_channel: paypal is not a channel of plan version " \
                             "2026-01-01T00:00:00Z"
    ignored = paid(ev, "2026-03-02T10:05:00Z", "o2", "x", ("a", "food", "10.00"),
                   payment_channel="paypal")
    outcome, = settle(books, book("max_levels: 3\n"), [ignored])
    assert outcome.status == APPLIED
    assert "payment_providers" not in balances(books)


def test_fixed_commissions_per_unit_win_and_shrink_with_the_line(books, ev):
    # SKU-1 pays 5.00 / 2.00 per unit at levels 1 / 2 (nothing at level 3); max_levels 2.
    # Lines: SKU-1 100.00 quantity 3, tea 50.00 (food).
    # C (L1): 3 x 5.00 = 15.00 + tea 10% 5.00 = 20.00;  B (L2): 3 x 2.00 = 6.00 + 2.50 = 8.50
    # platform 150 x 5% = 7.50; merchant 150 - 7.50 - 28.50 = 114.00
    # Refund 40.00 of SKU-1 (60% remains): C 15.00 x 0.6 = 9.00 + 5.00 = 14.00;
    # B 6.00 x 0.6 = 3.60 + 2.50 = 6.10; platform 110 x 5% = 5.50; merchant 110 - 5.50 - 20.10
    # = 84.40
    plans = book('fixed_commissions: {SKU-1: ["5.00", "2.00"]}\nmax_levels: 2\n')
    events = chain(ev) + [paid(ev, "2026-03-02T10:05:00Z", "o1", "x",
                               ("SKU-1", "food", "100.00", 3), ("tea", "food", "50.00"))]
    settle(books, plans, events)
    assert (promoter(books, "C")["pending"], promoter(books, "B")["pending"]) == ("20.00", "8.50")
    assert (revenue(books), merchant(books)) == ("7.50", "114.00")
    settle(books, plans, [ev.refunded("2026-03-03T10:00:00Z", "o1", ("SKU-1", "40.00"))])
    assert (promoter(books, "C")["pending"], promoter(books, "B")["pending"]) == ("14.00", "6.10")
    assert (revenue(books), merchant(books)) == ("5.50", "84.40")
    assert_books_verified(books)


GRADES = """grades:
  ordinary: {levels: ["0.10", "0.05", "0.02"]}
  senior: {levels: ["0.12", "0.06", "0.02"], upgrade_at_gmv: "1000.00"}
  gold: {levels: ["0.15", "0.07", "0.03"], upgrade_at_gmv: "5000.00"}
"""


def test_grades_upgrade_after_the_crossing_order_and_can_be_set_by_hand(books, ev):
    # A (ordinary) attributed alone. o1 1000.00: paid at the old grade, 10% = 100.00; its GMV
    # reaches 1000.00 -> senior. o2 100.00 at 12% = 12.00. Set back to ordinary by hand:
    # o3 100.00 at 10% = 10.00. o4 4000.00 crosses 5000.00 (5200 after) -> paid 10% = 400.00,
    # then gold: o5 100.00 at 15% = 15.00. Total 537.00.
    plans = book(GRADES)
    events = [ev.join("2026-03-01T08:00:00Z", "A"), ev.touch("2026-03-02T10:00:00Z", "x", "A"),
              paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "1000.00")),
              paid(ev, "2026-03-02T10:06:00Z", "o2", "x", ("a", "food", "100.00")),
              ev("promoter_grade_set", "2026-03-02T10:07:00Z", promoter_id="A",
                 grade="ordinary"),
              paid(ev, "2026-03-02T10:08:00Z", "o3", "x", ("a", "food", "100.00")),
              paid(ev, "2026-03-02T10:09:00Z", "o4", "x", ("a", "food", "4000.00")),
              paid(ev, "2026-03-02T10:10:00Z", "o5", "x", ("a", "food", "100.00"))]
    outcomes = settle(books, plans, events, batch_size=3)
    assert {o.status for o in outcomes} == {APPLIED}
    assert promoter(books, "A")["pending"] == "537.00"


def test_a_parents_grade_sets_its_level_two_rate(books, ev):
    # B joins as senior, C (ordinary) under it; 100.00 food: C 10% = 10.00, B senior L2 6% = 6.00
    plans = book(GRADES)
    events = [ev.join("2026-03-01T09:00:00Z", "B", grade="senior"),
              ev.join("2026-03-01T10:00:00Z", "C", "B"), ev.touch("2026-03-02T10:00:00Z", "x", "C"),
              paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "100.00"))]
    settle(books, plans, events)
    assert (promoter(books, "C")["pending"], promoter(books, "B")["pending"]) == ("10.00", "6.00")


def test_order_caps_scale_every_beneficiary_by_one_factor(books, ev):
    # caps: order_share 12%, per_order 10.00; max_levels 2; 100.00 food.
    # exact C 10.00 + B 5.00 = 15.00 > limit min(12.00, 10.00) = 10.00 -> factor 2/3:
    # C 6.666.. -> 6.66, B 3.333.. -> 3.33; platform 5.00; merchant 100 - 5 - 9.99 = 85.01
    plans = book('caps: {order_share: "0.12", per_order: "10.00"}\nmax_levels: 2\n')
    events = chain(ev) + [paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "100.00"))]
    settle(books, plans, events)
    assert (promoter(books, "C")["pending"], promoter(books, "B")["pending"]) == ("6.66", "3.33")
    assert merchant(books) == "85.01"


def test_day_allowance_is_fixed_at_payment_and_refunds_give_none_back(books, ev):
    # per_promoter_day 15.00, C alone (max_levels 1), 10% of each food order.
    # o1 100.00 day 1: 10.00 (allowance 15.00);  o2 100.00 day 1: allowance 5.00 -> 5.00
    # refund 50.00 of o2: exact 5.00 within its fixed allowance 5.00 -> still 5.00
    # o3 100.00 day 1 after the refund: allowance 15 - 10 - 5 = 0 -> 0.00
    # o4 100.00 day 2: 10.00.  Total 25.00
    plans = book('caps: {per_promoter_day: "15.00"}\nmax_levels: 1\n')
    events = chain(ev) + [
        paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "100.00")),
        paid(ev, "2026-03-02T11:00:00Z", "o2", "x", ("a", "food", "100.00")),
        ev.refunded("2026-03-02T12:00:00Z", "o2", ("a", "50.00")),
        paid(ev, "2026-03-02T13:00:00Z", "o3", "x", ("a", "food", "100.00")),
        paid(ev, "2026-03-03T10:00:00Z", "o4", "x", ("a", "food", "100.00"))]
    settle(books, plans, events, batch_size=2)
    assert promoter(books, "C")["pending"] == "25.00"
    assert_books_verified(books)


def test_campaign_bonuses_add_at_level_one_inside_their_window(books, ev):
    # 双11 (beauty, +2%) from 2026-11-10T16:00Z to 2026-11-11T16:00Z, m2's campaign +1%.
    # o1 at 2026-11-11T00:00Z, m1, beauty 100.00 + food 100.00: C 12.00 + 10.00 = 22.00;
    # B (level 2) no bonus: 5.00 + 5.00 = 10.00
    # o2 at 2026-11-11T16:00Z (`to` excluded), m2, beauty 100.00: C 10% + m2's 1% = 11.00
    # C 33.00, B 15.00
    plans = book('campaigns: [{name: 双11, from: 2026-11-10T16:00:00Z, to: 2026-11-11T16:00:00Z,'
                 ' categories: [beauty], bonus: "0.02"}, {name: m2 week, '
                 'from: 2026-11-01T00:00:00Z, to: 2026-12-01T00:00:00Z, merchants: [m2], '
                 'bonus: "0.01"}]\nmax_levels: 2\n')
    events = chain(ev) + [
        ev.touch("2026-11-10T00:00:00Z", "x", "C"),
        paid(ev, "2026-11-11T00:00:00Z", "o1", "x", ("a", "beauty", "100.00"),
             ("b", "food", "100.00")),
        paid(ev, "2026-11-11T16:00:00Z", "o2", "x", ("a", "beauty", "100.00"), merchant="m2")]
    settle(books, plans, events)
    assert (promoter(books, "C")["pending"], promoter(books, "B")["pending"]) == ("33.00", "15.00")


def test_the_ladder_pays_each_band_on_the_part_inside_it(books, ev):
    # Bands: from 1000.00 +1%, from 5000.00 +2% (marginal), C alone (max_levels 1), 10% food.
    # o1 800.00: 0..800, no band: 80.00
    # o2 400.00: 800..1200, 200.00 in band 1: 40.00 + 2.00 = 42.00
    # o3 x 3800.00, y 200.00: x 1200..5000 in band 1: 380.00 + 38.00 = 418.00;
    #    y 5000..5200 in band 2: 20.00 + 4.00 = 24.00 -> 442.00
    # refund y in full: o3 recomputed from its start 1200 -> 418.00 (-24.00)
    # o4 next month 100.00: position 0 again -> 10.00.  Total 80 + 42 + 418 + 10 = 550.00
    plans = book('ladder: [{from_gmv: "1000.00", bonus: "0.01"}, '
                 '{from_gmv: "5000.00", bonus: "0.02"}]\nmax_levels: 1\n')
    events = chain(ev) + [
        paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "800.00")),
        paid(ev, "2026-03-02T10:06:00Z", "o2", "x", ("a", "food", "400.00")),
        paid(ev, "2026-03-02T10:07:00Z", "o3", "x", ("x", "food", "3800.00"),
             ("y", "food", "200.00"))]
    settle(books, plans, events)
    assert promoter(books, "C")["pending"] == "564.00"
    settle(books, plans, [ev.refunded("2026-03-03T10:00:00Z", "o3", ("y", "200.00")),
                          ev.touch("2026-04-01T00:00:00Z", "x", "C"),
                          paid(ev, "2026-04-01T10:00:00Z", "o4", "x", ("a", "food", "100.00"))])
    assert promoter(books, "C")["pending"] == "550.00"
    assert_books_verified(books)


def test_regional_agents_earn_their_share_beside_the_chain(books, ev):
    # Agent G of region east earns 1% of every line; C 10% (max_levels 1); 200.00 food in east:
    # C 20.00, G 2.00; platform 10.00; merchant 168.00. A second agent for east is rejected.
    # o2: G is also the level-1 promoter (customer y touched G): 10% + 1% of 100.00 = 11.00,
    # one total. G 13.00
    plans = book('regional_agents: {share: "0.01"}\nmax_levels: 1\n')
    events = chain(ev) + [
        ev.join("2026-03-01T08:00:00Z", "G", agent_region="east"),
        ev.join("2026-03-01T08:30:00Z", "H", agent_region="east"),
        paid(ev, "2026-03-02T10:05:00Z", "o1", "x", ("a", "food", "200.00"), region="east"),
        ev.touch("2026-03-02T11:00:00Z", "y", "G"),
        paid(ev, "2026-03-02T11:05:00Z", "o2", "y", ("a", "food", "100.00"), region="east")]
    outcomes = settle(books, plans, events)
    rejected = [o for o in outcomes if o.status == REJECTED]
    assert [o.reason for o in rejected] == [
        "agent_region: east already has its agent G; one agent per region"]
    assert (promoter(books, "C")["pending"], promoter(books, "G")["pending"]) == ("20.00", "13.00")
    assert merchant(books) == "252.00"  # o1 168.00 + o2 (100 - 5.00 - 11.00) 84.00
    assert_books_verified(books)


def test_plan_warnings_name_what_can_make_a_merchant_pay():
    from settlement.plan import plan_warnings

    assert plan_warnings(book("max_levels: 2\n").versions[0]) == []
    fixed = book('fixed_commissions: {SKU-1: ["5.00"]}\n').versions[0]
    assert plan_warnings(fixed) == ["fixed_commissions without caps.order_share or caps.per_order:"
                                    " a merchant's remainder can be negative"]
    capped = book('fixed_commissions: {SKU-1: ["5.00"]}\ncaps: {per_order: "9.00"}\n').versions[0]
    assert plan_warnings(capped) == []
    # take 0.05 + levels 0.10/0.05/0.02 + 3 campaigns x 0.30 = 1.12 > 1
    campaigns = ", ".join(f'{{name: c{i}, from: 2026-01-01T00:00:00Z, to: 2026-02-01T00:00:00Z, '
                          f'bonus: "0.30"}}' for i in range(3))
    loud = book(f"campaigns: [{campaigns}]\n").versions[0]
    assert plan_warnings(loud) == ["rates, bonuses, agent share and payment fee can add up to "
                                   "28/25 of a line: a merchant's remainder can be negative"]


def test_versions_are_complete_and_accumulators_carry_across_them(books, ev):
    # V1 (from 2026-01-01): max_levels 1, no tiers. V2 (from 2026-03-15): tiers 5% / from
    # 1000.00 4%, no max_levels (all three levels again).
    # o1 2026-03-10 under V1, 1000.00 food: take 5% = 50.00; C 10% = 100.00 (B, A cut)
    # o2 2026-03-20 under V2, 100.00 food: the merchant's March GMV before it is 1000.00 (o1,
    #    paid under V1, counts) -> take 4% = 4.00; C 10.00, B 5.00, A 2.00
    v2 = (DEFAULT_PLAN.replace("2026-01-01T00:00:00Z", "2026-03-15T00:00:00Z")
          + 'merchant_tiers: [{from_gmv: "0.00", platform_take_rate: "0.05"}, '
            '{from_gmv: "1000.00", platform_take_rate: "0.04"}]\n')
    plans = PlanBook(parse_plan_text(DEFAULT_PLAN + "max_levels: 1\n---\n" + v2))
    events = chain(ev) + [
        paid(ev, "2026-03-10T10:00:00Z", "o1", "x", ("a", "food", "1000.00")),
        ev.touch("2026-03-19T10:00:00Z", "x", "C"),
        paid(ev, "2026-03-20T10:00:00Z", "o2", "x", ("a", "food", "100.00"))]
    settle(books, plans, events)
    assert revenue(books) == "54.00"
    assert (promoter(books, "C")["pending"], promoter(books, "B")["pending"],
            promoter(books, "A")["pending"]) == ("110.00", "5.00", "2.00")


def test_a_rejected_order_counts_toward_no_accumulator(books, ev):
    # The first o1 names an unknown channel and is rejected: it must not count toward the
    # merchant's month GMV, so o2 (100.00) still pays the 5% tier: 5.00 (not 4.00).
    plans = book('payment_channels: {card: "0.01"}\n'
                 'merchant_tiers: [{from_gmv: "0.00", platform_take_rate: "0.05"}, '
                 '{from_gmv: "1000.00", platform_take_rate: "0.04"}]\n')
    outcomes = settle(books, plans, [
        paid(ev, "2026-03-10T10:00:00Z", "o1", "x", ("a", "food", "1000.00"),
             payment_channel="paypal"),
        paid(ev, "2026-03-10T11:00:00Z", "o2", "x", ("a", "food", "100.00"))])
    assert [o.status for o in outcomes] == [REJECTED, APPLIED]
    assert revenue(books) == "5.00"


def test_a_grade_set_for_a_promoter_who_never_joined_is_rejected(books, ev):
    outcome, = settle(books, book(GRADES), [
        ev("promoter_grade_set", "2026-03-02T10:07:00Z", promoter_id="Z", grade="gold")])
    assert outcome.status == REJECTED and outcome.reason == "promoter_id: Z has not joined"
