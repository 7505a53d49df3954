"""Turn the column batches into JSON-lines events, in timestamp order, a week at a time.

Strings are hand-formatted with f-strings: every value is an id, a fixed word, a hex hash, an ISO
instant or a two-digit decimal, none of which needs JSON escaping, and it is several times faster
than `json.dumps`. Each week's events from every table are merged with a stable sort on the
instant; tables are concatenated in causal order (joins, touches, payments, confirmations, refunds)
so equal instants never put an effect before its cause.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from features.simulator.batches import NONE, OrderBatch, TouchBatch
from features.simulator.catalog import CATEGORIES, CHANNELS, GRADES, PAYMENT_CHANNELS, REGIONS
from features.simulator.population import Population

BLOCK_S = 7 * 86_400  # events are formatted and merged one week at a time to bound memory
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_CAT_NAMES = [c.name for c in CATEGORIES]
_CAT_CODES = [c.code for c in CATEGORIES]
_CHANNEL_NAMES = [c.name for c in CHANNELS]


def hex_hashes(values: np.ndarray, salt: int) -> list[str]:
    """16-hex-digit hashes via splitmix64: a bijection, so distinct devices never collide."""
    z = values.astype(np.uint64) + np.uint64(salt % 2**64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    z ^= z >> np.uint64(31)
    text = z.astype(">u8").tobytes().hex().encode("ascii")
    return np.frombuffer(text, dtype="S16").astype("U16").tolist()


def amounts(minor: np.ndarray) -> list[str]:
    """Fen as CNY decimal strings with exactly two digits ("128.90")."""
    return [f"{a // 100}.{a % 100:02d}" for a in minor.tolist()]


@dataclass(slots=True)
class Names:
    """Printable ids and hash salts, shared by every table of one run."""

    promoters: np.ndarray
    customers: np.ndarray  # by renumbered customer code
    orders_width: int
    device_salt: int
    ip_hash_salt: int
    start: np.datetime64
    # Plans v2 runs: payment channels, buyers' regions, line quantities and regional agents.
    rules: bool = False

    def customer(self, code: np.ndarray) -> list[str]:
        names = np.where(code >= 0, self.customers[np.maximum(code, 0)],
                         self.promoters[np.maximum(-1 - code, 0)])
        return names.tolist()

    def order(self, number: np.ndarray) -> list[str]:
        return [f"O{n:0{self.orders_width}d}" for n in number.tolist()]

    def instants(self, ts_s: np.ndarray) -> list[str]:
        return np.datetime_as_string(self.start + ts_s.astype("timedelta64[s]"), unit="s").tolist()


@dataclass(slots=True)
class Table:
    """One event type: sorted instants and a formatter for a slice of its rows."""

    ts_s: np.ndarray
    render: Callable[[int, int], list[str]]


def agent_regions(promoters: int) -> dict[int, str]:
    """Plans v2 runs: promoter index -> the region it is the agent of (one agent per region)."""
    step = max(1, promoters // len(REGIONS))
    return {k * step: region for k, region in enumerate(REGIONS) if k * step < promoters}


def _join_table(pop: Population, names: Names) -> Table:
    agents = agent_regions(len(pop)) if names.rules else {}

    def render(lo: int, hi: int) -> list[str]:
        rows = zip(
            range(lo, hi), names.promoters[lo:hi].tolist(), pop.parent[lo:hi].tolist(),
            pop.grade[lo:hi].tolist(), names.instants(pop.join_s[lo:hi]),
            hex_hashes(pop.device[lo:hi], names.device_salt),
            hex_hashes(pop.ip[lo:hi], names.ip_hash_salt), strict=True,
        )
        return [
            f'{{"event_id":"join-{p}","type":"promoter_joined","ts":"{ts}Z","promoter_id":"{p}",'
            + (f'"parent_id":"{names.promoters[parent]}",' if parent >= 0 else "")
            + (f'"agent_region":"{agents[k]}",' if k in agents else "")
            + f'"grade":"{GRADES[g]}","device_hash":"{d}","ip_hash":"{i}"}}'
            for k, p, parent, g, ts, d, i in rows
        ]
    return Table(pop.join_s, render)


def _touch_table(touches: TouchBatch, names: Names) -> Table:
    def render(lo: int, hi: int) -> list[str]:
        t = touches.take(np.arange(lo, hi))
        rows = zip(
            range(lo, hi), names.instants(t.ts_s), names.customer(t.customer),
            names.promoters[t.promoter].tolist(), t.channel.tolist(), t.register.tolist(),
            hex_hashes(t.device, names.device_salt), hex_hashes(t.ip, names.ip_hash_salt),
            strict=True,
        )
        return [
            f'{{"event_id":"tch-{k:010d}","type":"touch","ts":"{ts}Z","customer_id":"{c}",'
            f'"promoter_id":"{p}","channel":"{_CHANNEL_NAMES[ch]}",'
            f'"kind":"{"register" if reg else "click"}","device_hash":"{d}","ip_hash":"{i}"}}'
            for k, ts, c, p, ch, reg, d, i in rows
        ]
    return Table(touches.ts_s, render)


def _line_ranges(orders: OrderBatch, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.concatenate([[0], np.cumsum(orders.n_lines)]).astype(np.int64)
    return starts[index], starts[index + 1]


def _paid_table(orders: OrderBatch, names: Names) -> Table:
    def render(lo: int, hi: int) -> list[str]:
        a, b = _line_ranges(orders, np.array([lo, hi - 1]))
        first, last = int(a[0]), int(b[1])
        lines = [
            f'{{"sku":"{_CAT_CODES[c]}-{s:05d}","category":"{_CAT_NAMES[c]}","amount":"{m}"'
            + (f',"quantity":{q}}}' if names.rules else "}")
            for c, s, m, q in zip(orders.line_category[first:last].tolist(),
                                  orders.line_sku[first:last].tolist(),
                                  amounts(orders.line_amount[first:last]),
                                  orders.line_quantity[first:last].tolist(), strict=True)
        ]
        extra = _payment_fields(np.arange(lo, hi), names.rules)
        ends = (np.cumsum(orders.n_lines[lo:hi])).tolist()
        rows = zip(
            names.order(np.arange(lo, hi)), names.instants(orders.paid_s[lo:hi]),
            names.customer(orders.customer[lo:hi]), orders.merchant[lo:hi].tolist(),
            [0, *ends[:-1]], ends, hex_hashes(orders.device[lo:hi], names.device_salt),
            hex_hashes(orders.ip[lo:hi], names.ip_hash_salt), extra, strict=True,
        )
        return [
            f'{{"event_id":"pay-{o}","type":"order_paid","ts":"{ts}Z","order_id":"{o}",'
            f'"customer_id":"{c}","merchant_id":"M{m:05d}","currency":"CNY",{e}'
            f'"lines":[{",".join(lines[x:y])}],"device_hash":"{d}","ip_hash":"{i}"}}'
            for o, ts, c, m, x, y, d, i, e in rows
        ]
    return Table(orders.paid_s, render)


def _payment_fields(number: np.ndarray, rules: bool) -> list[str]:
    """Plans v2 runs: each order's payment channel (one in ten pays without one) and the buyer's
    region, drawn from a hash of the order number so the files stay byte-identical."""
    if not rules:
        return [""] * len(number)
    mixed = [int(h, 16) for h in hex_hashes(number, 0x5EED)]
    fields = []
    for h in mixed:
        channel = "" if h % 10 == 0 else (
            f'"payment_channel":"{PAYMENT_CHANNELS[(h >> 8) % len(PAYMENT_CHANNELS)]}",')
        fields.append(f'{channel}"region":"{REGIONS[(h >> 16) % len(REGIONS)]}",')
    return fields


def _confirm_table(orders: OrderBatch, names: Names) -> Table:
    index = np.flatnonzero(orders.confirm_s != NONE)
    index = index[np.argsort(orders.confirm_s[index], kind="stable")]

    def render(lo: int, hi: int) -> list[str]:
        rows = zip(names.order(index[lo:hi]), names.instants(orders.confirm_s[index[lo:hi]]),
                   strict=True)
        return [
            f'{{"event_id":"cfm-{o}","type":"order_confirmed","ts":"{ts}Z","order_id":"{o}"}}'
            for o, ts in rows
        ]
    return Table(orders.confirm_s[index], render)


def _refund_table(orders: OrderBatch, names: Names) -> Table:
    index = np.flatnonzero(orders.refund_s != NONE)
    index = index[np.argsort(orders.refund_s[index], kind="stable")]

    def render(lo: int, hi: int) -> list[str]:
        out = []
        starts, ends = _line_ranges(orders, index[lo:hi])
        for o, ts, a, b in zip(names.order(index[lo:hi]),
                               names.instants(orders.refund_s[index[lo:hi]]),
                               starts.tolist(), ends.tolist(), strict=True):
            refunded = np.flatnonzero(orders.line_refund[a:b]) + a
            lines = ",".join(
                f'{{"sku":"{_CAT_CODES[c]}-{s:05d}","amount":"{m}"}}'
                for c, s, m in zip(orders.line_category[refunded].tolist(),
                                   orders.line_sku[refunded].tolist(),
                                   amounts(orders.line_refund[refunded]), strict=True)
            )
            out.append(f'{{"event_id":"rfd-{o}","type":"order_refunded","ts":"{ts}Z",'
                       f'"order_id":"{o}","lines":[{lines}]}}')
        return out
    return Table(orders.refund_s[index], render)


def _write_merged(handle: TextIO, tables: list[Table], horizon_s: int) -> list[int]:
    counts = [0] * len(tables)
    for block_lo in range(0, horizon_s, BLOCK_S):
        block_hi = min(block_lo + BLOCK_S, horizon_s)
        texts: list[str] = []
        instants = []
        for k, table in enumerate(tables):
            lo, hi = np.searchsorted(table.ts_s, [block_lo, block_hi], side="left").tolist()
            if hi > lo:
                texts.extend(table.render(lo, hi))
                instants.append(table.ts_s[lo:hi])
                counts[k] += hi - lo
        if texts:
            order = np.argsort(np.concatenate(instants), kind="stable").tolist()
            handle.write("\n".join([texts[i] for i in order]))
            handle.write("\n")
    return counts


EVENT_TYPES = ("promoter_joined", "touch", "order_paid", "order_confirmed", "order_refunded")


def write_events(
    path: Path, pop: Population, touches: TouchBatch, orders: OrderBatch, names: Names,
    horizon_s: int,
) -> dict[str, int]:
    """Write every event to `path` in timestamp order; returns the count per event type.

    `touches` and `orders` must already be sorted by their instant (orders by payment), and
    every instant must lie in [0, horizon_s).
    """
    tables = [
        _join_table(pop, names), _touch_table(touches, names), _paid_table(orders, names),
        _confirm_table(orders, names), _refund_table(orders, names),
    ]
    with path.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as handle:
        counts = _write_merged(handle, tables, horizon_s)
    return dict(zip(EVENT_TYPES, counts, strict=True))


def start_instant(start: datetime) -> np.datetime64:
    return np.datetime64(int(start.timestamp()), "s")
