"""`simulate`: grow a mall, let it trade honestly and fraudulently, and write what it sent.

Randomness comes from one `SeedSequence(seed)` split into independent streams per stage, so the
same config gives byte-identical files; nothing depends on wall-clock time or on set/dict order.
"""

from __future__ import annotations

import csv
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from features.simulator.batches import NONE, OrderBatch, TouchBatch, concat_orders, concat_touches
from features.simulator.catalog import FIXED_SKUS, PLAN_RULES_TEMPLATE, PLAN_TEMPLATE
from features.simulator.config import FRAUD_TYPES, SimulationConfig, SimulationSummary
from features.simulator.fraud import inject_fraud
from features.simulator.orders import honest_activity
from features.simulator.population import IdSpace, Population, grow_population
from features.simulator.timeline import Timeline
from features.simulator.writer import Names, start_instant, write_events

EVENTS_FILE, PLAN_FILE, LABELS_FILE = "events.jsonl", "plan.yaml", "labels.csv"


def _width(count: int, minimum: int) -> int:
    return max(minimum, len(str(max(count - 1, 0))))


def _settle_horizon(orders: OrderBatch, horizon_s: int) -> None:
    """Drop what would happen after the period: late confirmations and refunds (and their fen)."""
    orders.confirm_s[orders.confirm_s >= horizon_s] = NONE
    late = (orders.refund_s >= horizon_s) | (orders.confirm_s == NONE)
    orders.refund_s[late] = NONE
    orders.line_refund[np.repeat(orders.refund_s == NONE, orders.n_lines)] = 0


def _renumber_customers(
    touches: TouchBatch, orders: OrderBatch, code_count: int,
) -> np.ndarray:
    """Customer numbers in order of first appearance, so ids leak nothing about how they arose.

    Returns the old-code -> new-number map (-1 for codes that never appear) and rewrites both
    batches in place; promoter codes (negative) are kept.
    """
    codes = np.concatenate([touches.customer, orders.customer])
    instants = np.concatenate([touches.ts_s, orders.paid_s])
    customers = codes >= 0
    first = np.full(code_count, np.iinfo(np.int64).max)
    np.minimum.at(first, codes[customers], instants[customers])
    seen = np.flatnonzero(first < np.iinfo(np.int64).max)
    ranked = seen[np.lexsort((seen, first[seen]))]
    mapping = np.full(code_count, -1, dtype=np.int64)
    mapping[ranked] = np.arange(len(ranked))
    for batch in (touches, orders):
        mine = batch.customer >= 0
        batch.customer[mine] = mapping[batch.customer[mine]]
    return mapping


def _write_labels(
    path: Path, pop: Population, names: Names, orders: OrderBatch,
    customer_labels: list[tuple[int, int]], mapping: np.ndarray,
) -> None:
    """One row per promoter (fraud type or `none`), then every fraud customer and fraud order."""
    kinds = ("none", *FRAUD_TYPES)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["entity_type", "entity_id", "fraud_type"])
        out.writerows(zip(["promoter"] * len(pop), names.promoters.tolist(),
                          [kinds[f] for f in pop.fraud.tolist()], strict=True))
        labelled = sorted((int(mapping[c]), f) for c, f in customer_labels if mapping[c] >= 0)
        out.writerows(("customer", names.customers[c], kinds[f]) for c, f in labelled)
        fraud_orders = np.flatnonzero(orders.fraud)
        out.writerows(zip(["order"] * len(fraud_orders), names.order(fraud_orders),
                          [kinds[f] for f in orders.fraud[fraud_orders].tolist()], strict=True))


def _generate(
    cfg: SimulationConfig,
) -> tuple[Population, TouchBatch, OrderBatch, list[tuple[int, int]], int]:
    streams = [np.random.Generator(np.random.PCG64(s))
               for s in np.random.SeedSequence(cfg.seed).spawn(3)]
    spaces = {"customer": IdSpace(), "device": IdSpace(), "ip": IdSpace()}
    timeline = Timeline(cfg.start_utc, cfg.horizon_s)
    ring_members = round(cfg.fraud.referral_ring * cfg.promoters)
    pop = grow_population(streams[0], cfg.promoters, cfg.horizon_s, ring_members,
                          spaces["device"], spaces["ip"])
    per_category = max(3, cfg.promoters // 300)
    orders, touches = honest_activity(streams[1], cfg, pop, timeline, spaces, per_category)
    bad_orders, bad_touches, customer_labels = inject_fraud(
        streams[2], cfg, pop, timeline, spaces, per_category)
    orders = concat_orders([orders, bad_orders])
    orders = orders.take(np.argsort(orders.paid_s, kind="stable"))
    touches = concat_touches([touches, *bad_touches])
    touches = touches.take(np.flatnonzero((touches.ts_s >= 0) & (touches.ts_s < cfg.horizon_s)))
    touches = touches.take(np.argsort(touches.ts_s, kind="stable"))
    _settle_horizon(orders, cfg.horizon_s)
    return pop, touches, orders, customer_labels, spaces["customer"].next


def _plan_rules(config: SimulationConfig, names: Names) -> str:
    """The plans v2 keys: every rule on, overrides for two promoters (the target of approved
    rate suggestions), an opening campaign over the first 30 days."""
    start = config.start_utc
    fixed = ", ".join(f'{sku}: ["3.00", "1.00"]' for sku in FIXED_SKUS)
    overrides = ", ".join(f'{p}: "{rate}"' for p, rate in zip(
        names.promoters[1:3].tolist(), ("0.12", "0.13"), strict=False))
    return PLAN_RULES_TEMPLATE.format(
        effective_from=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        opening_to=(start + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        fixed=fixed, overrides=overrides)


def simulate(out_dir: Path, config: SimulationConfig) -> SimulationSummary:
    """Write `events.jsonl`, `plan.yaml` and `labels.csv` for one simulated mall into `out_dir`.

    Same config (seed included) -> byte-identical files. Every event is one the settlement engine
    accepts: parents join before children, touches follow their promoter's join and never come
    from the customer's own link, confirmations and refunds follow payment, refunds stay within
    each line.
    """
    began = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    pop, touches, orders, customer_labels, code_count = _generate(config)
    mapping = _renumber_customers(touches, orders, code_count)
    n_customers = int(mapping.max()) + 1 if len(mapping) else 0
    p_width, c_width = _width(len(pop), 6), _width(n_customers, 7)
    names = Names(
        promoters=np.array([f"P{i:0{p_width}d}" for i in range(len(pop))]),
        customers=np.array([f"C{i:0{c_width}d}" for i in range(max(n_customers, 1))]),
        orders_width=_width(len(orders), 8),
        device_salt=config.seed * 0x2545F4914F6CDD1D + 1,
        ip_hash_salt=config.seed * 0x9E3779B97F4A7C15 + 7,
        start=start_instant(config.start_utc),
        rules=config.plan_rules,
    )
    counts = write_events(out_dir / EVENTS_FILE, pop, touches, orders, names, config.horizon_s)
    effective_from = config.start_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = PLAN_TEMPLATE.format(effective_from=effective_from, hold_days=config.hold_days)
    if config.plan_rules:
        plan += _plan_rules(config, names)
    (out_dir / PLAN_FILE).write_text(plan, encoding="utf-8")
    _write_labels(out_dir / LABELS_FILE, pop, names, orders, customer_labels, mapping)
    return SimulationSummary(
        out_dir=str(out_dir), events=counts, orders=len(orders), customers=n_customers,
        gmv_minor=int(orders.line_amount.sum()), refunded_minor=int(orders.line_refund.sum()),
        fraud_promoters={name: int((pop.fraud == code).sum())
                         for code, name in enumerate(FRAUD_TYPES, start=1)},
        seconds=round(time.perf_counter() - began, 3),
    )
