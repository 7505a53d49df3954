"""The order-time risk screen's cost per order: the same mall settled with the screen off and on.

The mall is `settle_bench.generate` with a join device and IP on every promoter and a device and
IP on every order (so the screen's one lookup per batch runs with real keys), 1 % of orders paid
from the promoter's own phone (each held and filed into a case). Off and on alternate, each on a
fresh SQLite file, and the best of `rounds` is kept for each, since the machine is shared.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.settle_bench import BATCH, PLAN, generate
from settlement.db import create_db_engine, upgrade
from settlement.events import Event, parse_event
from settlement.order_screen import DEFAULT_SCREEN, OrderScreen, OrderScreener
from settlement.plan import PlanBook, parse_plan_text
from settlement.service import apply_events

SELF_REFERRAL_SHARE = 0.01


def with_devices(events: list[Event], seed: int = 2) -> list[Event]:
    """The events with device and IP hashes; a share of orders from a promoter's own phone."""
    rng = random.Random(seed)
    out = []
    for event in events:
        payload = dict(event.payload)
        if event.type == "promoter_joined":
            payload |= {"device_hash": f"d-{payload['promoter_id']}",
                        "ip_hash": f"i-{payload['promoter_id']}"}
        elif event.type == "order_paid":
            own = rng.random() < SELF_REFERRAL_SHARE
            device = f"d-P{rng.randrange(50)}" if own else f"d-{payload['customer_id']}"
            payload |= {"device_hash": device, "ip_hash": f"i-c{rng.randrange(10**6)}"}
        out.append(parse_event(payload))
    return out


class _Stopwatch:
    """Time spent inside the screen's own methods (prefetch, check, flush), summed."""

    def __init__(self) -> None:
        self.total_s = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.total_s += time.perf_counter() - started
        return timed


def _screen_time(events: list[Event], plans: PlanBook) -> float:
    """Seconds spent in the screen while settling `events` with it on."""
    watch = _Stopwatch()
    originals = {name: getattr(OrderScreener, name) for name in ("prefetch", "check", "flush")}
    for name, function in originals.items():
        setattr(OrderScreener, name, watch.wrap(function))
    try:
        _settle(events, plans, DEFAULT_SCREEN)
    finally:
        for name, function in originals.items():
            setattr(OrderScreener, name, function)
    return watch.total_s


def _settle(events: list[Event], plans: PlanBook, screen: OrderScreen) -> float:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_db_engine(f"sqlite:///{Path(folder) / 'books.db'}")
        upgrade(engine)
        started = time.perf_counter()
        apply_events(engine, plans, events, BATCH, screen)
        elapsed = time.perf_counter() - started
        engine.dispose()
    return elapsed


def run(orders: int = 20_000, rounds: int = 2) -> dict[str, float]:
    events = with_devices(generate(orders))
    plans = PlanBook(parse_plan_text(PLAN))
    off, on = [], []
    for round_ in range(rounds):  # alternate which goes first: the machine drifts
        if round_ % 2:
            on.append(_settle(events, plans, DEFAULT_SCREEN))
        off.append(_settle(events, plans, OrderScreen(enabled=False)))
        if not round_ % 2:
            on.append(_settle(events, plans, DEFAULT_SCREEN))
    inside = _screen_time(events, plans)
    result = {"orders": orders, "off_s": min(off), "on_s": min(on),
              "cost_us_per_order": (min(on) - min(off)) / orders * 1e6,
              "overhead_share": min(on) / min(off) - 1,
              "screen_s": inside, "screen_us_per_order": inside / orders * 1e6}
    print(f"order screen on {orders:,} orders (SQLite, batches of {BATCH}): off "
          f"{result['off_s']:.2f}s, on {result['on_s']:.2f}s (best of {rounds}; "
          f"{result['overhead_share']:+.1%}, noisy on a shared machine); time inside the "
          f"screen {inside:.2f}s = {result['screen_us_per_order']:.1f} µs per order")
    return result


if __name__ == "__main__":
    run()
