"""The order-time screen: cheap risk rules applied to each order as it is settled.

An order that fails a rule is booked as usual (nothing is refused or deleted) and its commission
is held: it stays pending, whatever its release date, until a person decides the case it opened
(`settlement.risk_actions`). The rules need nothing the batch does not already hold, plus one
query per batch:
- self-referral: the order was paid from the join device or IP of the promoter it credits at
  level 1, or of that promoter's inviter (its upline);
- commission cap: one promoter's commission on one order above `cap_per_order_minor` (off unless
  set: the plan's rates already bound it, and a mall with large baskets sets its own cap).

Per batch, `OrderScreener.prefetch` loads the promoters who joined from the devices and IPs the
batch's orders were paid from (indexed lookups, only when an order carries one), and which of
the batch's refunded orders are held (a held order is never released by a refund either).
`flush` writes the joins' devices, the holds and the flags (as cases) in the batch's transaction.

The pipelined writer (`settlement.pipeline`) keeps one screener for a whole run: what it learnt
of joins and holds in earlier batches stays in memory, since those batches may not be committed
yet when the next is decided; it reads through the run's reader (`prefetch_with`) and hands each
batch's writes (`take`) to the writer thread, which writes them (`write_screen`) in that batch's
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from settlement import risk_tables as r
from settlement.events import Event, OrderPaid, OrderRefunded, PromoterJoined
from settlement.money import format_amount
from settlement.repository import DatabaseSource, chunks
from settlement.risk_cases import active_case_id, record_flags
from settlement.risk_domain import FlagSource, RiskFlag
from settlement.splits import Allocation, Beneficiary

SCREEN_ACTOR = "order-screen"
MAX_KEYS = 5_000  # device and IP hashes looked up in one query


@dataclass(frozen=True)
class OrderScreen:
    """Which order-time rules run; `enabled=False` turns the screen off."""

    enabled: bool = True
    self_referral: bool = True
    cap_per_order_minor: int | None = None

    def __post_init__(self) -> None:
        if self.cap_per_order_minor is not None and self.cap_per_order_minor <= 0:
            raise ValueError(f"cap_per_order_minor: {self.cap_per_order_minor} must be positive")


DEFAULT_SCREEN = OrderScreen()
# The screen an entry point configured, given the books' currency (its cap is an amount in it):
# `SettlementSettings.order_screen_for`, handed to `Ingest` and the Kafka worker.
ScreenFor = Callable[[str], OrderScreen]


def screen_of(screen_for: ScreenFor | None, book: Any) -> OrderScreen:
    """The screen for a plan book (`PlanBook`: one currency); the default without settings."""
    if screen_for is None or not book.versions:
        return DEFAULT_SCREEN
    return screen_for(book.versions[0].currency)


@dataclass(frozen=True, slots=True)
class _Devices:
    device_hash: str | None
    ip_hash: str | None


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class ScreenWrites:
    """What one batch's screen writes: the joins' devices (by event id) and the flags."""

    joins: dict[str, tuple[str, _Devices]]
    flags: list[tuple[RiskFlag, str, Any]]

    def __bool__(self) -> bool:
        return bool(self.joins or self.flags)


@dataclass
class OrderScreener:
    """The screen's state for one batch: what it loaded, and what it found."""

    screen: OrderScreen = DEFAULT_SCREEN
    _devices: dict[str, _Devices] = field(default_factory=dict)
    _by_key: dict[str, set[str]] = field(default_factory=dict)  # device/IP -> promoters
    _held: set[str] = field(default_factory=set)
    _joins: dict[str, tuple[str, _Devices]] = field(default_factory=dict)  # event -> join
    flags: list[tuple[RiskFlag, str, Any]] = field(default_factory=list)  # flag, reason, at

    def prefetch(self, conn: Connection, batch: Sequence[Event]) -> None:
        """One query for the devices the batch's orders were paid from, one for held refunds.
        Joins' devices are kept and held orders respected even with the screen off."""
        self.prefetch_with(DatabaseSource(conn).lookup, batch)

    def prefetch_with(self, lookup: Any, batch: Sequence[Event]) -> None:
        """`prefetch` through a repository lookup (`DatabaseSource.lookup`), for a reader that is
        not the batch's own connection."""
        screening = self.screen.enabled and self.screen.self_referral
        keys: set[str] = set()
        refunded: list[str] = []
        for event in batch:
            body = event.body
            if isinstance(body, PromoterJoined):
                devices = _Devices(_text(event.payload, "device_hash"),
                                   _text(event.payload, "ip_hash"))
                if devices.device_hash or devices.ip_hash:
                    self._joins[event.event_id] = (body.promoter_id, devices)
                    self._remember(body.promoter_id, devices)
            elif isinstance(body, OrderPaid) and screening:
                keys.update(k for k in (_text(event.payload, "device_hash"),
                                        _text(event.payload, "ip_hash")) if k)
            elif isinstance(body, OrderRefunded):
                refunded.append(body.order_id)
        if keys:
            self._load_devices(lookup, sorted(keys))
        refunded = [order_id for order_id in refunded if order_id not in self._held]
        for part in chunks(sorted(set(refunded))):
            self._held.update(order_id for (order_id,) in lookup.rows(
                "SELECT order_id FROM order_holds WHERE lifted_at IS NULL AND order_id {ids}",
                part))

    def _load_devices(self, lookup: Any, keys: list[str]) -> None:
        """Promoters who joined from any of `keys` (device or IP hashes): two indexed lookups
        with the keys as one parameter (the repository's driver-level path)."""
        for start in range(0, len(keys), MAX_KEYS):
            part = keys[start:start + MAX_KEYS]
            for column in ("device_hash", "ip_hash"):
                for promoter_id, device, ip in lookup.rows(
                        "SELECT promoter_id, device_hash, ip_hash FROM promoter_devices "
                        f"WHERE {column} {{ids}}", part):
                    self._remember(promoter_id, _Devices(device, ip))

    def _remember(self, promoter_id: str, devices: _Devices) -> None:
        self._devices[promoter_id] = devices
        for key in (devices.device_hash, devices.ip_hash):
            if key:
                self._by_key.setdefault(key, set()).add(promoter_id)

    def held(self, order_id: str) -> bool:
        return order_id in self._held

    def check(self, event: Event, order_id: str, currency: str,
              beneficiaries: tuple[Beneficiary, ...], allocation: Allocation,
              parent_of: Callable[[str], str | None]) -> None:
        """Screen one paid order; a hit holds it and records a flag per promoter and rule."""
        if not self.screen.enabled:
            return
        found: list[tuple[RiskFlag, str]] = []
        if self.screen.self_referral:
            found += self._self_referral(event, order_id, beneficiaries, parent_of)
        cap = self.screen.cap_per_order_minor
        if cap is not None:
            found += _over_cap(order_id, allocation, cap, currency)
        if found:
            self._held.add(order_id)
            self.flags += [(flag, reason, event.ts) for flag, reason in found]

    def _self_referral(self, event: Event, order_id: str,
                       beneficiaries: tuple[Beneficiary, ...],
                       parent_of: Callable[[str], str | None]) -> list[tuple[RiskFlag, str]]:
        device, ip = _text(event.payload, "device_hash"), _text(event.payload, "ip_hash")
        by_key = self._by_key
        if (device is None or device not in by_key) and (ip is None or ip not in by_key):
            return []  # nobody joined from this device or IP: the common case, two lookups
        found = []
        for promoter_id in sorted({b.promoter_id for b in beneficiaries if b.level == 1}):
            parent = parent_of(promoter_id)
            for whose, owner in (("own", promoter_id), ("upline", parent)):
                mine = self._devices.get(owner) if owner else None
                devices = [device] if mine and device and device == mine.device_hash else []
                ips = [ip] if mine and ip and ip == mine.ip_hash else []
                if not (devices or ips):
                    continue
                evidence = {"order_id": order_id, "customer_id": event.payload.get("customer_id"),
                            "matched": whose, "owner": owner, "parent_id": parent,
                            "devices": devices, "ips": ips}
                shared = " and ".join([f"device {d}" for d in devices] + [f"IP {i}" for i in ips])
                who = f"promoter {promoter_id}" if whose == "own" else f"its inviter {owner}"
                found.append((RiskFlag(promoter_id, "self_referral", "high", evidence,
                                       FlagSource.ORDER, (order_id,)),
                              f"paid from the {shared} {who} joined from"))
                break
        return found

    @property
    def pending(self) -> bool:
        """Whether `flush` has anything to write."""
        return bool(self._joins or self.flags)

    def take(self) -> ScreenWrites:
        """What this batch found, to write; the screener keeps what it learnt, not the writes."""
        writes = ScreenWrites(self._joins, self.flags)
        self._joins, self.flags = {}, []
        return writes

    def flush(self, conn: Connection, applied: set[str]) -> None:
        """Write the devices of the joins among the `applied` event ids, then the holds and the
        flags (as cases)."""
        write_screen(conn, self.take(), applied)


def write_screen(conn: Connection, writes: ScreenWrites, applied: set[str]) -> None:
    """Write the devices of the joins among the `applied` event ids, then the holds and the
    flags (as cases), in the batch's transaction."""
    joins = [{"promoter_id": p, "device_hash": d.device_hash, "ip_hash": d.ip_hash}
             for event_id, (p, d) in writes.joins.items() if event_id in applied]
    if joins:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(insert(r.promoter_devices).on_conflict_do_nothing(), joins)
    if writes.flags:
        _hold_and_open(conn, writes.flags)


def _hold_and_open(conn: Connection, flags: list[tuple[RiskFlag, str, Any]]) -> None:
    """Hold each flagged order (once) and file its flags into the promoters' cases."""
    h = r.order_holds.c
    reasons: dict[str, str] = {}
    for flag, reason, _at in flags:
        order_id = flag.orders[0]
        reasons[order_id] = f"{reasons[order_id]}; {reason}" if order_id in reasons else (
            f"order-time screen: {flag.rule}: {reason}")
    first_at = min(at for _, _, at in flags)
    for order_id, reason in sorted(reasons.items()):
        conn.execute(r.order_holds.insert().values(
            order_id=order_id, reason=reason[:2000], held_at=first_at, held_by=SCREEN_ACTOR))
    record_flags(conn, [flag for flag, _, _ in flags], first_at, SCREEN_ACTOR)
    for flag, _, _ in flags:
        conn.execute(update(r.order_holds).where(
            h.order_id == flag.orders[0], h.case_id.is_(None)).values(
            case_id=active_case_id(conn, flag.promoter_id)))


def _over_cap(order_id: str, allocation: Allocation, cap: int,
              currency: str) -> list[tuple[RiskFlag, str]]:
    found = []
    for promoter_id, amount in sorted(allocation.promoters.items()):
        if amount > cap:
            evidence = {"order_id": order_id, "commission_minor": amount, "cap_minor": cap}
            found.append((RiskFlag(promoter_id, "commission_cap", "medium", evidence,
                                   FlagSource.ORDER, (order_id,)),
                          f"commission {format_amount(amount, currency)} {currency} of "
                          f"{promoter_id} on one order is above the cap of "
                          f"{format_amount(cap, currency)}"))
    return found
