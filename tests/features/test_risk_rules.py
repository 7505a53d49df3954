"""Each risk rule on tiny hand-built books: one promoter it must flag, one it must leave alone,
and the evidence a reviewer would check (orders, devices, IPs, accounts)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from features.profiles import RawFrames
from features.risk_rules import (
    DEFAULT_CONFIG,
    FLAG_COLUMNS,
    RiskRuleConfig,
    click_spam,
    commission_cap,
    device_farm,
    ip_farm,
    referral_ring,
    refund_after_release,
    run_rules,
    self_referral,
    velocity,
)

T0 = pd.Timestamp("2026-03-01T00:00:00Z")
DAY_TWO = T0 + pd.Timedelta(days=2)
AS_OF = pd.Timestamp("2026-04-01T00:00:00Z")


def promoter(pid: str, parent: str | None = None, device: str | None = None,
             ip: str | None = None) -> dict[str, Any]:
    return {"promoter_id": pid, "parent_id": parent, "grade": "V1", "joined_at": T0,
            "device_hash": device or f"d{pid}", "ip_hash": ip or f"i{pid}"}


class Book:
    """Orders credited in full to one promoter each, with the device and IP they were paid from."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self.attributions: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.touches: list[dict[str, Any]] = []

    def sell(self, seller: str, customer: str, device: str, ip: str,
             paid_at: pd.Timestamp = DAY_TWO, gross_minor: int = 10_000,
             released_at: pd.Timestamp | None = None) -> str:
        order_id = f"o{len(self.orders)}"
        self.orders.append({
            "order_id": order_id, "customer_id": customer, "paid_at": paid_at,
            "gross_minor": gross_minor, "device_hash": device, "ip_hash": ip,
            "confirmed_at": released_at, "released_at": released_at})
        self.attributions.append({"order_id": order_id, "promoter_id": seller, "share": 1.0})
        return order_id

    def click(self, promoter_id: str, customer: str, at: pd.Timestamp, device: str = "bot",
              ip: str = "botnet") -> None:
        self.touches.append({"promoter_id": promoter_id, "customer_id": customer, "ts": at,
                             "kind": "click", "channel": "h5_link", "device_hash": device,
                             "ip_hash": ip})

    def frames(self, promoters: list[dict[str, Any]]) -> RawFrames:
        return RawFrames.from_records(promoters=promoters, orders=self.orders,
                                      attributions=self.attributions, refunds=self.refunds,
                                      touches=self.touches)


def only(flags: pd.DataFrame, promoter_id: str) -> dict[str, Any]:
    """The single flag row of `promoter_id`; its evidence must survive a JSON round trip."""
    assert list(flags.columns) == list(FLAG_COLUMNS)
    rows = flags.loc[flags["promoter_id"] == promoter_id]
    assert len(rows) == 1, flags
    row = rows.iloc[0].to_dict()
    assert json.loads(json.dumps(row["evidence"])) == row["evidence"]
    return row


def test_self_referral_flags_orders_from_the_promoters_own_phone_and_names_them() -> None:
    book = Book()
    mine = [book.sell("A", "alt", "dA", "iA") for _ in range(3)]
    book.sell("A", "stranger", "x1", "y1")
    book.sell("B", "c2", "x2", "y2")
    book.sell("B", "c3", "x3", "y3")
    flags = self_referral(book.frames([promoter("A"), promoter("B")]))

    row = only(flags, "A")
    assert row["rule"] == "self_referral" and row["severity"] == "high"
    assert row["evidence"]["orders"] == sorted(mine)
    assert row["evidence"]["devices"] == ["dA"] and row["evidence"]["ips"] == ["iA"]
    assert row["evidence"]["customers"] == ["alt"]
    assert set(flags["promoter_id"]) == {"A"}


def test_self_referral_through_the_upline_phone_is_flagged_on_the_seller() -> None:
    book = Book()
    book.sell("B", "friend", "dA", "home", paid_at=T0 + pd.Timedelta(days=1))
    book.sell("B", "friend", "dA", "home", paid_at=T0 + pd.Timedelta(days=3))
    flags = self_referral(book.frames([promoter("A"), promoter("B", parent="A")]))

    row = only(flags, "B")
    assert row["evidence"]["upline_device_or_ip_orders"] == 2
    assert row["evidence"]["own_device_or_ip_orders"] == 0
    assert row["evidence"]["parent_id"] == "A"
    assert row["severity"] == "medium"  # the device matches, the IP does not


def test_one_order_from_the_promoters_phone_is_not_enough() -> None:
    book = Book()
    book.sell("A", "alt", "dA", "iA")
    assert self_referral(book.frames([promoter("A")])).empty


def test_device_farm_flags_many_buyers_on_few_phones_and_lists_the_phones() -> None:
    book = Book()
    for i in range(12):
        book.sell("F", f"fresh{i}", f"farm{i % 3}", f"net{i}")
    for i in range(30):  # an honest seller: thirty buyers, thirty phones
        book.sell("H", f"buyer{i}", f"phone{i}", f"home{i}")
    flags = device_farm(book.frames([promoter("F"), promoter("H")]))

    row = only(flags, "F")
    assert row["evidence"]["devices"] == ["farm0", "farm1", "farm2"]
    assert row["evidence"]["customer_count"] == 12 and row["evidence"]["key_count"] == 3
    assert len(row["evidence"]["orders"]) == 12
    assert set(flags["promoter_id"]) == {"F"}


def test_evidence_lists_are_bounded_but_counts_are_complete() -> None:
    book = Book()
    for i in range(40):
        book.sell("F", f"fresh{i:02d}", f"farm{i % 2}", "net")
    config = replace(DEFAULT_CONFIG, evidence_limit=5)
    row = only(device_farm(book.frames([promoter("F")]), config), "F")
    assert len(row["evidence"]["customers"]) == 5 and len(row["evidence"]["orders"]) == 5
    assert row["evidence"]["customer_count"] == 40 and row["evidence"]["order_count"] == 40
    assert row["severity"] == "high"


def test_ip_farm_needs_more_buyers_per_ip_than_a_household_has() -> None:
    book = Book()
    for i in range(16):
        book.sell("F", f"fresh{i}", f"phone{i}", f"farmnet{i % 2}")
    for i in range(16):  # families: four buyers behind each home router
        book.sell("H", f"buyer{i}", f"handset{i}", f"home{i % 4}")
    flags = ip_farm(book.frames([promoter("F"), promoter("H")]))

    row = only(flags, "F")
    assert row["evidence"]["ips"] == ["farmnet0", "farmnet1"]
    assert set(flags["promoter_id"]) == {"F"}


def test_velocity_flags_a_night_burst_against_a_quiet_history() -> None:
    book = Book()
    for day in range(20):  # one order a day for twenty days
        book.sell("V", f"regular{day}", f"p{day}", f"n{day}",
                  paid_at=AS_OF - pd.Timedelta(days=25 - day))
        book.sell("S", f"s{day}", f"q{day}", f"m{day}",
                  paid_at=AS_OF - pd.Timedelta(days=25 - day))
    burst = [book.sell("V", f"throwaway{i}", f"t{i}", "burstnet",
                       paid_at=AS_OF - pd.Timedelta(hours=5) + pd.Timedelta(minutes=2 * i))
             for i in range(15)]
    flags = velocity(book.frames([promoter("V"), promoter("S")]), AS_OF)

    row = only(flags, "V")
    assert row["evidence"]["orders_in_hour"] >= DEFAULT_CONFIG.velocity_min_orders_1h
    assert set(row["evidence"]["orders"]) <= set(burst)
    assert row["evidence"]["baseline_p90_orders_per_day"] == 1.0
    assert row["evidence"]["ips"] == ["burstnet"]
    assert set(flags["promoter_id"]) == {"V"}


def test_velocity_spares_a_seller_whose_busy_hour_matches_its_history() -> None:
    book = Book()
    for day in range(28):  # twelve orders every day of the trailing four weeks
        for k in range(12):
            book.sell("T", f"c{day}_{k}", f"p{day}_{k}", f"n{day}_{k}",
                      paid_at=AS_OF - pd.Timedelta(days=29 - day, minutes=-3 * k))
    for k in range(12):  # and twelve in one hour today
        book.sell("T", f"today{k}", f"pt{k}", f"nt{k}",
                  paid_at=AS_OF - pd.Timedelta(hours=3, minutes=-3 * k))
    assert velocity(book.frames([promoter("T")]), AS_OF).empty


def test_velocity_looks_only_at_the_scan_window() -> None:
    book = Book()
    for i in range(15):
        book.sell("V", f"t{i}", f"t{i}", "net",
                  paid_at=AS_OF - pd.Timedelta(days=3) + pd.Timedelta(minutes=2 * i))
    frames = book.frames([promoter("V")])
    assert velocity(frames, AS_OF).empty
    assert not velocity(frames, AS_OF, replace(DEFAULT_CONFIG, velocity_scan_h=96)).empty


def test_refund_after_release_flags_refunds_booked_once_commission_was_paid_out() -> None:
    book = Book()
    released = T0 + pd.Timedelta(days=9)
    late = [book.sell("R", "colluder", "dc", "ic", released_at=released, gross_minor=80_000)
            for _ in range(2)]
    book.sell("R", "buyer", "db", "ib", released_at=released)
    early = book.sell("H", "buyer2", "dh", "ih", released_at=released)
    book.sell("H", "buyer3", "dh3", "ih3", released_at=released)
    book.refunds += [{"order_id": o, "ts": released + pd.Timedelta(days=2),
                      "refund_minor": 80_000} for o in late]
    book.refunds.append({"order_id": early, "ts": released - pd.Timedelta(days=1),
                         "refund_minor": 10_000})
    flags = refund_after_release(book.frames([promoter("R"), promoter("H")]))

    row = only(flags, "R")
    assert row["evidence"]["orders"] == sorted(late)
    assert row["evidence"]["fully_refunded_orders"] == 2 and row["severity"] == "high"
    assert row["evidence"]["refunded_minor"] == 160_000
    assert row["evidence"]["share"] == pytest.approx(2 / 3, abs=1e-3)
    assert set(flags["promoter_id"]) == {"R"}


def test_referral_ring_flags_a_closed_group_buying_through_each_other() -> None:
    ring = [promoter("R1", ip="ringnet"), promoter("R2", parent="R1", ip="ringnet"),
            promoter("R3", parent="R2", ip="ringnet")]
    honest = [promoter("U"), promoter("D", parent="U")]
    book = Book()
    for buyer, seller in [("R1", "R2"), ("R2", "R3"), ("R3", "R1"), ("R2", "R1")]:
        book.sell(seller, f"acct_{buyer}", f"d{buyer}", "ringnet")
    book.sell("U", "acct_D", "dD", "iD")  # a downline buying through its inviter: one way only
    flags = referral_ring(book.frames(ring + honest))

    assert set(flags["promoter_id"]) == {"R1", "R2", "R3"}
    row = only(flags, "R2")
    assert row["evidence"]["kind"] == "buys_through"
    assert row["evidence"]["members"] == ["R1", "R2", "R3"]
    assert row["evidence"]["order_count"] == 4 and row["evidence"]["ips"] == ["ringnet"]


def test_referral_ring_flags_a_cycle_of_inviters() -> None:
    cycle = [promoter("A", parent="C"), promoter("B", parent="A"), promoter("C", parent="B"),
             promoter("E", parent="A")]
    flags = referral_ring(Book().frames(cycle))
    assert set(flags["promoter_id"]) == {"A", "B", "C"}
    assert only(flags, "A")["evidence"]["kind"] == "invite_cycle"


def test_click_spam_flags_clicks_far_above_orders_and_names_the_bot_devices() -> None:
    book = Book()
    for i in range(200):
        book.click("S", f"bot{i % 50}", AS_OF - pd.Timedelta(hours=i), device=f"bot{i % 4}")
    for i in range(200):  # a busy honest seller: one order for every four clicks
        book.click("H", f"fan{i}", AS_OF - pd.Timedelta(hours=i), device=f"fan{i}",
                   ip=f"home{i}")
        if i % 4 == 0:
            book.sell("H", f"fan{i}", f"fan{i}", f"home{i}",
                      paid_at=AS_OF - pd.Timedelta(hours=i) + pd.Timedelta(minutes=5))
    flags = click_spam(book.frames([promoter("S"), promoter("H")]), AS_OF)

    row = only(flags, "S")
    assert row["evidence"]["touch_count"] == 200 and row["evidence"]["order_count"] == 0
    assert row["evidence"]["distinct_devices"] == 4
    assert sorted(row["evidence"]["devices"]) == ["bot0", "bot1", "bot2", "bot3"]
    assert row["evidence"]["distinct_accounts"] == 50
    assert set(flags["promoter_id"]) == {"S"}


def test_commission_cap_flags_one_posting_above_the_per_order_cap_and_names_the_order() -> None:
    book = Book()
    paid = T0 + pd.Timedelta(days=3, hours=5)
    big = book.sell("A", "whale", "dw", "iw", paid_at=paid, gross_minor=400_000)
    book.sell("B", "c1", "d1", "i1", paid_at=paid)
    frames = replace(book.frames([promoter("A"), promoter("B")]), commissions=pd.DataFrame({
        "promoter_id": ["A", "B", "B"], "ts": [paid, paid, paid + pd.Timedelta(days=9)],
        "amount_minor": [40_000, 30_000, -30_000]}))
    flags = commission_cap(frames)

    row = only(flags, "A")
    assert row["evidence"]["postings_over_cap"] == 1
    assert row["evidence"]["largest_posting_minor"] == 40_000
    assert row["evidence"]["orders"] == [big] and row["evidence"]["days_over_cap"] == []
    assert set(flags["promoter_id"]) == {"A"}  # B's 30,000 is at the cap, not above it


def test_commission_cap_sums_a_days_credits_and_ignores_reversals() -> None:
    day = T0 + pd.Timedelta(days=4)
    credits = [20_000] * 6  # 120,000 in one day, each under the per-order cap
    frames = replace(Book().frames([promoter("D"), promoter("E")]), commissions=pd.DataFrame({
        "promoter_id": ["D"] * 7 + ["E"] * 6,  # D's refund reversal nets its day to 70,000
        "ts": [day + pd.Timedelta(hours=h) for h in range(6)] + [day + pd.Timedelta(hours=20)]
        + [day + pd.Timedelta(hours=h) for h in range(6)],
        "amount_minor": [*credits, -50_000] + [16_000] * 6}))
    flags = commission_cap(frames)

    row = only(flags, "D")
    assert row["evidence"]["days_over_cap"] == [day.date().isoformat()]
    assert row["evidence"]["largest_day_minor"] == 120_000
    assert row["evidence"]["postings_over_cap"] == 0
    assert set(flags["promoter_id"]) == {"D"}  # E's 96,000 of credits stays under 100,000


def test_run_rules_on_empty_books_flags_nobody() -> None:
    flags = run_rules(RawFrames.from_records(promoters=[promoter("A")]), AS_OF)
    assert flags.empty and list(flags.columns) == list(FLAG_COLUMNS)


def test_run_rules_collects_every_rule() -> None:
    book = Book()
    for _ in range(2):
        book.sell("A", "alt", "dA", "iA")
    for i in range(12):
        book.sell("F", f"fresh{i}", f"farm{i % 3}", f"net{i}")
    flags = run_rules(book.frames([promoter("A"), promoter("F")]), AS_OF)
    assert set(zip(flags["promoter_id"], flags["rule"], strict=True)) == {
        ("A", "self_referral"), ("F", "device_farm")}


@pytest.mark.parametrize("field", ["farm_min_customers", "velocity_ratio", "evidence_limit"])
def test_configuration_refuses_non_positive_thresholds_naming_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RiskRuleConfig(**{field: 0})


def test_configuration_refuses_a_share_above_one() -> None:
    with pytest.raises(ValueError, match="refund_min_share"):
        RiskRuleConfig(refund_min_share=1.5)
