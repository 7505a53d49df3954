"""The simulator is deterministic, emits only events settlement accepts, looks like a real mall."""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from features.simulator import FraudRates, SimulationConfig, simulate
from features.simulator.config import FRAUD_TYPES
from settlement.events import parse_json_line
from settlement.plan import parse_plan_text

MID = SimulationConfig(promoters=2000, days=120, seed=11)
LOOKBACK = timedelta(days=30)
AMOUNT = re.compile(r"^\d+\.\d{2}$")


@dataclass
class Replay:
    """What an independent, rule-checking pass over the events saw."""

    problems: list[str] = field(default_factory=list)
    parent: dict[str, str | None] = field(default_factory=dict)
    joined_at: dict[str, datetime] = field(default_factory=dict)
    touches: dict[str, list[tuple[datetime, str]]] = field(
        default_factory=lambda: defaultdict(list))
    order_customer: dict[str, str] = field(default_factory=dict)
    paid_minor: dict[str, int] = field(default_factory=dict)
    remaining: dict[str, dict[str, int]] = field(default_factory=dict)
    confirmed: set[str] = field(default_factory=set)
    refunded_minor: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    gmv_by_last_touch: Counter[str] = field(default_factory=Counter)
    touches_in_window: list[int] = field(default_factory=list)
    promoters_in_window: list[int] = field(default_factory=list)
    orders_by_customer: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    channel_touches: Counter[str] = field(default_factory=Counter)
    channel_orders: Counter[str] = field(default_factory=Counter)
    last_channel: dict[str, str] = field(default_factory=dict)


def _minor(text: str) -> int:
    return int(Decimal(text) * 100)


def _check_hashes(replay: Replay, number: int, payload: dict) -> None:
    if not all(isinstance(payload.get(key), str) for key in ("device_hash", "ip_hash")):
        replay.problems.append(f"{number}: no device/ip hash")


def _apply(replay: Replay, number: int, event, effective_from: datetime) -> None:  # noqa: C901
    body, p, bad = event.body, event.payload, replay.problems.append
    if event.type == "promoter_joined":
        if body.promoter_id in replay.joined_at:
            bad(f"{number}: second join of {body.promoter_id}")
        if body.parent_id is not None and body.parent_id not in replay.joined_at:
            bad(f"{number}: parent {body.parent_id} not joined")
        replay.joined_at[body.promoter_id] = event.ts
        replay.parent[body.promoter_id] = body.parent_id
        _check_hashes(replay, number, p)
    elif event.type == "touch":
        if body.promoter_id not in replay.joined_at:
            bad(f"{number}: touch through unjoined {body.promoter_id}")
        if body.customer_id == body.promoter_id:
            bad(f"{number}: self-referral touch by {body.promoter_id}")
        replay.touches[body.customer_id].append((event.ts, body.promoter_id))
        replay.channel_touches[body.channel] += 1
        replay.last_channel[body.customer_id] = body.channel
        _check_hashes(replay, number, p)
    elif event.type == "order_paid":
        if body.order_id in replay.paid_minor or event.ts < effective_from:
            bad(f"{number}: order {body.order_id} paid twice or before the plan")
        if not all(AMOUNT.match(line["amount"]) for line in p["lines"]):
            bad(f"{number}: amount without exactly two digits")
        replay.order_customer[body.order_id] = body.customer_id
        replay.paid_minor[body.order_id] = sum(line.amount_minor for line in body.lines)
        replay.remaining[body.order_id] = {line.sku: line.amount_minor for line in body.lines}
        replay.orders_by_customer[body.customer_id] += 1
        replay.channel_orders[replay.last_channel.get(body.customer_id, "")] += 1
        _credit(replay, event.ts, body.customer_id, replay.paid_minor[body.order_id])
        _check_hashes(replay, number, p)
    elif event.type == "order_confirmed":
        if body.order_id not in replay.paid_minor or body.order_id in replay.confirmed:
            bad(f"{number}: confirm of unpaid or confirmed {body.order_id}")
        replay.confirmed.add(body.order_id)
    elif event.type == "order_refunded":
        left = replay.remaining.get(body.order_id)
        for line in body.lines:
            amount = int(line.amount * 100)
            if left is None or left.get(line.sku, 0) < amount or not AMOUNT.match(str(line.amount)):
                bad(f"{number}: refund beyond what remains of {body.order_id}/{line.sku}")
            elif left is not None:
                left[line.sku] -= amount
                replay.refunded_minor[body.order_id] += amount


def _credit(replay: Replay, paid_at: datetime, customer: str, amount: int) -> None:
    window = [(ts, p) for ts, p in replay.touches.get(customer, []) if ts > paid_at - LOOKBACK]
    replay.touches_in_window.append(len(window))
    replay.promoters_in_window.append(len({p for _, p in window}))
    if window:
        replay.gmv_by_last_touch[window[-1][1]] += amount


def replay_file(path: Path, effective_from: datetime) -> Replay:
    replay, previous, ids = Replay(), None, set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            event = parse_json_line(line)
            if previous is not None and event.ts < previous:
                replay.problems.append(f"{number}: timestamp goes backwards")
            if event.event_id in ids:
                replay.problems.append(f"{number}: event_id {event.event_id} reused")
            previous = event.ts
            ids.add(event.event_id)
            replay.types[event.type] += 1
            _apply(replay, number, event, effective_from)
    return replay


@pytest.fixture(scope="module")
def mid_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("sim-mid")
    summary = simulate(out, MID)
    plan = parse_plan_text((out / "plan.yaml").read_text())[0]
    return out, summary, replay_file(out / "events.jsonl", plan.effective_from)


def _files(path: Path) -> dict[str, bytes]:
    names = ("events.jsonl", "plan.yaml", "labels.csv")
    return {name: (path / name).read_bytes() for name in names}


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    small = SimulationConfig(promoters=300, days=30, seed=5)
    simulate(tmp_path / "a", small)
    simulate(tmp_path / "b", small)
    simulate(tmp_path / "c", SimulationConfig(promoters=300, days=30, seed=6))
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    first, other = _files(tmp_path / "a"), _files(tmp_path / "c")
    assert first["events.jsonl"] != other["events.jsonl"]
    assert first["labels.csv"] != other["labels.csv"]


def test_every_event_parses_and_breaks_no_settlement_rule(mid_run) -> None:
    out, summary, replay = mid_run
    assert replay.problems == []
    assert dict(replay.types) == {k: v for k, v in summary.events.items() if v}
    assert set(replay.types) >= {"promoter_joined", "touch", "order_paid", "order_confirmed",
                                 "order_refunded"}
    assert len(replay.joined_at) == MID.promoters


def test_plan_is_the_issue_two_plan_in_force_from_the_start(mid_run) -> None:
    out, _, _ = mid_run
    plan = parse_plan_text((out / "plan.yaml").read_text())[0]
    assert plan.effective_from == MID.start
    assert plan.currency == "CNY" and plan.hold_days == 7
    assert plan.attribution.model == "position" and plan.attribution.lookback_days == 30
    assert "electronics" in plan.categories


def test_top_tenth_of_promoters_bring_most_of_the_gmv(mid_run) -> None:
    _, _, replay = mid_run
    gmv = np.array(sorted([replay.gmv_by_last_touch.get(p, 0) for p in replay.joined_at],
                          reverse=True))
    assert gmv[: len(gmv) // 10].sum() > 0.5 * gmv.sum()


def test_refunds_are_at_a_realistic_rate(mid_run) -> None:
    _, summary, replay = mid_run
    paid = sum(replay.paid_minor.values())
    assert 0.03 <= sum(replay.refunded_minor.values()) / paid <= 0.12
    assert 0.03 <= len(replay.refunded_minor) / len(replay.paid_minor) <= 0.12
    assert summary.refunded_minor == sum(replay.refunded_minor.values())


def test_orders_often_follow_several_touches_from_several_promoters(mid_run) -> None:
    _, _, replay = mid_run
    touches = np.array(replay.touches_in_window)
    promoters = np.array(replay.promoters_in_window)
    assert (touches >= 2).mean() > 0.3
    assert (promoters >= 2).mean() > 0.15


def test_channels_convert_at_different_rates(mid_run) -> None:
    _, _, replay = mid_run
    rates = [replay.channel_orders[c] / n for c, n in replay.channel_touches.items()]
    assert len(rates) >= 5
    assert max(rates) > 2 * min(rates)


def test_few_customers_buy_often_and_most_buy_once(mid_run) -> None:
    _, _, replay = mid_run
    per_customer = np.array(list(replay.orders_by_customer.values()))
    assert (per_customer == 1).mean() > 0.5
    assert (per_customer >= 2).mean() > 0.1
    assert per_customer.max() >= 10


def test_referral_fan_out_is_heavy_tailed(mid_run) -> None:
    _, _, replay = mid_run
    children = Counter(p for p in replay.parent.values() if p is not None)
    counts = np.array(list(children.values()))
    assert counts.max() >= 10 * np.median(counts)
    assert counts.max() >= 20


def _labels(path: Path) -> list[dict[str, str]]:
    with (path / "labels.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_fraud_type_is_labelled_near_its_configured_rate(mid_run) -> None:
    out, summary, replay = mid_run
    rows = _labels(out)
    promoters = Counter(r["fraud_type"] for r in rows if r["entity_type"] == "promoter")
    assert sum(promoters.values()) == MID.promoters
    rates = FraudRates().as_dict()
    for name in FRAUD_TYPES:
        expected = rates[name] * MID.promoters
        assert abs(promoters[name] - expected) <= max(1, 0.1 * expected), name
        assert summary.fraud_promoters[name] == promoters[name]
    orders = Counter(r["fraud_type"] for r in rows if r["entity_type"] == "order")
    for name in ("self_referral", "device_farm", "refund_abuse", "velocity_burst",
                 "referral_ring"):
        assert orders[name] > 0, name
    labelled_orders = {r["entity_id"] for r in rows if r["entity_type"] == "order"}
    assert labelled_orders <= set(replay.paid_minor)


def test_fraud_rates_are_configurable(tmp_path: Path) -> None:
    rates = FraudRates(self_referral=0.05, device_farm=0, refund_abuse=0, velocity_burst=0,
                       referral_ring=0, click_spam=0.02)
    summary = simulate(tmp_path, SimulationConfig(promoters=400, days=30, fraud=rates))
    assert summary.fraud_promoters["self_referral"] == 20
    assert summary.fraud_promoters["click_spam"] == 8
    assert summary.fraud_promoters["device_farm"] == 0


def test_invalid_config_is_refused() -> None:
    with pytest.raises(ValueError, match="promoters"):
        SimulationConfig(promoters=0)
    with pytest.raises(ValueError, match="timezone"):
        SimulationConfig(start=datetime(2026, 1, 1))


def _local_paid_days(path: Path) -> Counter[str]:
    days: Counter[str] = Counter()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if '"type":"order_paid"' in line:
                paid_at = datetime.fromisoformat(line.split('"ts":"', 1)[1][:20])
                days[(paid_at + timedelta(hours=8)).date().isoformat()] += 1
    return days


def test_orders_follow_the_week_and_spike_on_double_eleven(tmp_path: Path) -> None:
    simulate(tmp_path, SimulationConfig(promoters=500, days=365, seed=3))
    days = _local_paid_days(tmp_path / "events.jsonl")
    autumn = [days[d] for d in days if "2026-10-01" <= d <= "2026-11-30"]
    assert days["2026-11-11"] > 3 * np.median(autumn)
    weekday = Counter()
    for day, count in days.items():
        weekday[datetime.fromisoformat(day).weekday() >= 5] += count
    assert weekday[True] / 2 > 1.1 * weekday[False] / 5


def test_command_prints_a_summary(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from features.simulator.command import simulate_command

    app = typer.Typer()
    app.command()(simulate_command)
    result = CliRunner().invoke(app, ["--promoters", "100", "--days", "10", "--out",
                                      str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "events" in result.output and (tmp_path / "events.jsonl").exists()
    refused = CliRunner().invoke(app, ["--promoters", "1", "--out", str(tmp_path)])
    assert refused.exit_code == 2
