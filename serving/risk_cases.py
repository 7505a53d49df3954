"""Risk flags into cases, and a case as the risk team reads it.

`open_cases` is the one way a scan hands its flags over (the rules' `FLAG_COLUMNS` frame, or the
model's flags with their reasons as evidence): flags group per promoter into the promoter's
active case (`settlement.risk_cases.record_flags`, idempotent). `case_detail` gathers what a
reviewer needs to decide: the flags with their evidence, the audit trail, a timeline of the
case's orders and refunds with each order's commission at risk, and the devices, IPs and
accounts the case shares (`shared_graph`, drawn by `graph_dot`). The books are read through
`settlement.read_model`; decisions go to `settlement.risk_actions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

from settlement.read_model import (
    CaseOrderRow,
    CaseRefundRow,
    case_orders,
    held_orders,
    order_commissions,
    risk_reversed,
)
from settlement.risk_cases import (
    case_events,
    case_flags,
    case_order_ids,
    get_case,
    record_flags,
)
from settlement.risk_domain import (
    MAX_FLAGS_PER_CALL,
    Case,
    CaseEvent,
    FlagSource,
    RiskFlag,
    StoredFlag,
)
from settlement.service import in_transaction

MAX_GRAPH_NODES = 60  # a graph a person can read; the evidence lists stay complete


def risk_flags(flags: pd.DataFrame, source: FlagSource = FlagSource.SCAN,
               model_version: str | None = None) -> list[RiskFlag]:
    """`FLAG_COLUMNS` rows (promoter_id, rule, severity, evidence dict) as `RiskFlag`s."""
    found = []
    for row in flags.itertuples(index=False):
        evidence = dict(row.evidence) if isinstance(row.evidence, dict) else {}
        found.append(RiskFlag(str(row.promoter_id), str(row.rule), str(row.severity),
                              evidence, source, model_version=model_version))
    return found


def open_cases(engine: Engine, flags: pd.DataFrame | Sequence[RiskFlag],
               at: datetime | None = None, actor: str = "scan",
               source: FlagSource = FlagSource.SCAN,
               model_version: str | None = None) -> list[int]:
    """Record flags as cases, `MAX_FLAGS_PER_CALL` per transaction; the ids of the cases they
    joined or opened. Re-running with the same flags records nothing new."""
    items = (risk_flags(flags, source, model_version) if isinstance(flags, pd.DataFrame)
             else list(flags))
    when = at or datetime.now(UTC)
    # A promoter's flags stay in one chunk: a chunk boundary never splits them.
    items.sort(key=lambda flag: flag.promoter_id)
    case_ids: list[int] = []
    for start in range(0, len(items), MAX_FLAGS_PER_CALL):
        chunk = items[start:start + MAX_FLAGS_PER_CALL]

        def record(conn: Connection, chunk: list[RiskFlag] = chunk) -> list[int]:
            return record_flags(conn, chunk, when, actor)

        case_ids += in_transaction(engine, record)
    return sorted(set(case_ids))


@dataclass(frozen=True)
class OrderAtRisk:
    """One order of a case on its timeline: what it credits, to whom, and whether it is held."""

    order: CaseOrderRow
    commission_minor: int  # every promoter and level, less what was reversed
    reversed_minor: int
    beneficiaries: dict[str, int]  # promoter -> commission on this order now
    held: bool


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    flags: list[StoredFlag]
    events: list[CaseEvent]
    orders: list[OrderAtRisk]
    refunds: list[CaseRefundRow]

    @property
    def timeline(self) -> pd.DataFrame:
        """Orders (paid, confirmed, released) and refunds, one row per happening, oldest first."""
        rows: list[dict[str, Any]] = []
        for item in self.orders:
            o = item.order
            for what, when in (("paid", o.paid_at), ("confirmed", o.confirmed_at),
                               ("released", o.released_at)):
                if when is not None:
                    rows.append({"at": when, "what": what, "order_id": o.order_id,
                                 "customer_id": o.customer_id, "amount_minor": o.gross_minor
                                 if what == "paid" else None})
        for refund in self.refunds:
            rows.append({"at": refund.ts, "what": "refunded", "order_id": refund.order_id,
                         "customer_id": None, "amount_minor": refund.amount_minor})
        frame = pd.DataFrame(rows, columns=["at", "what", "order_id", "customer_id",
                                            "amount_minor"])
        return frame.sort_values(["at", "order_id"], ignore_index=True)


def case_detail(conn: Connection, case_id: int) -> CaseDetail:
    """Everything a reviewer reads about one case; `NotFound` for an unknown id."""
    case = get_case(conn, case_id)
    ids = case_order_ids(conn, case_id)
    orders, refunds = case_orders(conn, ids)
    done = risk_reversed(conn, ids)
    held = held_orders(conn, ids)
    by_order: dict[str, dict[str, int]] = {}
    for row in order_commissions(conn, ids):
        by_order.setdefault(row.order_id, {})[row.promoter_id] = row.amount_minor
    items = []
    for order in orders:
        shares = by_order.get(order.order_id, {})
        taken = sum(v for (o, _), v in done.items() if o == order.order_id)
        items.append(OrderAtRisk(order, sum(shares.values()) - taken, taken, shares,
                                 order.order_id in held))
    return CaseDetail(case, case_flags(conn, case_id), case_events(conn, case_id), items,
                      refunds)


def shared_graph(detail: CaseDetail) -> list[tuple[str, str, str]]:
    """(node, node, kind) edges: the promoter to the accounts that bought through it, each
    account to the device and IP it paid from, plus the devices, IPs and ring members the flags'
    evidence names. Nodes are prefixed (promoter:, account:, device:, ip:); at most
    `MAX_GRAPH_NODES` nodes."""
    promoter = f"promoter:{detail.case.promoter_id}"
    edges: list[tuple[str, str, str]] = []
    for item in detail.orders:
        account = f"account:{item.order.customer_id}"
        edges.append((promoter, account, "bought through"))
        if item.order.device_hash:
            edges.append((account, f"device:{item.order.device_hash}", "paid from"))
        if item.order.ip_hash:
            edges.append((account, f"ip:{item.order.ip_hash}", "paid from"))
    for flag in detail.flags:
        evidence = flag.evidence
        for key, prefix in (("devices", "device"), ("ips", "ip")):
            for value in evidence.get(key, []) or []:
                edges.append((promoter, f"{prefix}:{value}", flag.rule))
        for member in evidence.get("members", []) or []:
            if f"promoter:{member}" != promoter:
                edges.append((promoter, f"promoter:{member}", flag.rule))
        parent = evidence.get("parent_id")
        if parent:
            edges.append((f"promoter:{parent}", promoter, "invited"))
    return _bounded(list(dict.fromkeys(edges)))


def _bounded(edges: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    nodes: list[str] = []
    kept = []
    for a, b, kind in edges:
        new = [n for n in (a, b) if n not in nodes]
        if len(nodes) + len(new) > MAX_GRAPH_NODES:
            continue
        nodes += new
        kept.append((a, b, kind))
    return kept


_SHAPES = {"promoter": "doubleoctagon", "account": "ellipse", "device": "box", "ip": "diamond"}


def graph_dot(edges: list[tuple[str, str, str]]) -> str:
    """The edges as Graphviz DOT (what `st.graphviz_chart` draws), nodes shaped by kind."""
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["graph case {", '  graph [rankdir=LR, fontsize=10];',
             '  node [fontsize=10, style=filled, fillcolor="#f4f4f4"];']
    nodes = dict.fromkeys(n for a, b, _ in edges for n in (a, b))
    for node in nodes:
        kind = node.split(":", 1)[0]
        lines.append(f"  {quote(node)} [shape={_SHAPES.get(kind, 'ellipse')}];")
    for a, b, kind in edges:
        lines.append(f"  {quote(a)} -- {quote(b)} [label={quote(kind)}];")
    lines.append("}")
    return "\n".join(lines)
