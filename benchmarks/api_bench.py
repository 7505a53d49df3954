"""Events/s through `POST /v1/events` beside `fenrun settle` on the same events (SQLite).

Both write through `settlement.ingest`; the difference is what HTTP costs on top: JSON encoding
and decoding of every event, validation of the request, the key check and rate limit, and one
transaction per request of 500 events (settle commits every `FENRUN_BATCH_SIZE`, 2000, events).
The client is Starlette's in-process test client (ASGI, no socket), so the figure leaves out the
network and uvicorn's own parsing; a mall's backend over a LAN adds those.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from benchmarks.floors import bare_insert, copy_floor, measured, ratios_line, written_rows
from features.simulator import SimulationConfig, simulate
from serving.config import ServingSettings
from settlement.api_keys import create_key
from settlement.config import SettlementSettings
from settlement.db import create_db_engine, upgrade
from settlement.events import parse_json_line
from settlement.ingest import settle_file
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions

REQUEST_EVENTS = 500


def _books(url: str, plan: str) -> None:
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(plan))
    engine.dispose()


def run(promoters: int = 20_000) -> None:
    root = Path(tempfile.mkdtemp(prefix="fenrun-api-bench-"))
    summary = simulate(root / "sim", SimulationConfig(promoters=promoters, days=30, seed=2))
    events_file, plan = root / "sim" / "events.jsonl", (root / "sim" / "plan.yaml").read_text()
    settings = SettlementSettings()

    settled_url = f"sqlite:///{root / 'settled.db'}"
    _books(settled_url, plan)
    engine = create_db_engine(settled_url)
    settle_cost = measured(engine, lambda: settle_file(engine, events_file, settings.batch_size))
    settle_s = settle_cost.wall_s
    engine.dispose()

    posted_url = f"sqlite:///{root / 'posted.db'}"
    _books(posted_url, plan)
    engine = create_db_engine(posted_url)
    with engine.begin() as conn:
        key = create_key(conn, "mall", "bench", created_by="bench")[1]
    engine.dispose()
    lines = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    lines.sort(key=lambda event: parse_json_line(json.dumps(event)).ts)
    app = create_app(ServingSettings(feature_store_dir=str(root / "features")),
                     SettlementSettings(database_url=posted_url),
                     ApiSettings(burst=100_000, rate_per_s=10_000))
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        def post_all() -> None:
            for start in range(0, len(lines), REQUEST_EVENTS):
                response = client.post("/v1/events",
                                       json={"events": lines[start:start + REQUEST_EVENTS]})
                if response.status_code != 200:
                    raise RuntimeError(f"POST /v1/events: {response.status_code} "
                                       f"{response.text}")

        engine = create_db_engine(posted_url)
        api_cost = measured(engine, post_all)
        api_s = api_cost.wall_s
        rows = written_rows(engine)
        engine.dispose()
    events = summary.total_events
    print(f"events: {events} ({promoters} promoters, 30 days)")
    print(f"fenrun settle:   {events / settle_s:>10,.0f} events/s ({settle_s:.1f} s)")
    print(f"POST /v1/events: {events / api_s:>10,.0f} events/s ({api_s:.1f} s, "
          f"{REQUEST_EVENTS} per request)")
    print(f"ratio API / settle: {settle_s / api_s:.2f}")
    orders = max(1, len(rows["orders"]))
    requests = -(-len(lines) // REQUEST_EVENTS)
    floor_url = f"sqlite:///{root / 'floor.db'}"
    bare = bare_insert(f"sqlite:///{root / 'bare.db'}", rows, requests)
    floor = copy_floor(floor_url, rows, requests)
    print(ratios_line("POST /v1/events[sqlite]", orders, api_cost, bare, floor)
          + f" (references in {requests} transactions, one per request)")
    settle_batches = -(-len(lines) // settings.batch_size)
    print(ratios_line("fenrun settle[sqlite]", orders, settle_cost,
                      bare_insert(f"sqlite:///{root / 'bare2.db'}", rows, settle_batches),
                      copy_floor(f"sqlite:///{root / 'floor2.db'}", rows, settle_batches))
          + f" (references in {settle_batches} transactions)")


if __name__ == "__main__":
    run()
