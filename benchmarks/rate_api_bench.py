"""Latency of `GET /v1/promoters/{id}/recommended-rate` under a steady 200 requests/s.

The API runs as a real uvicorn server in its own process (`api.app:create_app`, SQLite books
holding one suggestion per promoter); this process is the mall's backend: an open-loop client
(asyncio, `CONNECTIONS` keep-alive HTTP/1.1 connections) that sends request i at start + i / rate,
whatever became of the earlier ones, cycling over the promoters. Latency is measured from the
instant a request was *due* to its answer, so a server that falls behind is charged for the
queue it builds (no coordinated omission). Halfway through, a new suggestion run is stored in the
books: the server swaps its in-memory map in the background, and the run counts how many answers
failed (must be 0) and whether the new rates were served before the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

from settlement import rate_suggestions as rs
from settlement.api_keys import create_key
from settlement.db import create_db_engine, upgrade
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions

PLAN = (Path(__file__).resolve().parents[1] / "settlement" / "examples" / "plan.yaml").read_text()
START_TIMEOUT_S = 60.0
TARGET_P99_MS = 10.0
CONNECTIONS = 8  # the mall's backend keeps a small pool of keep-alive connections


def _suggestions(promoters: int, proposed: str) -> list[rs.NewSuggestion]:
    step = rs.GuardrailStep("max_step", "pass", proposed, "within 0.02 of the current rate")
    return [rs.NewSuggestion(
        promoter_id=f"P{i:06d}", current_rate=Decimal("0.10"), policy_rate=Decimal(proposed),
        proposed_rate=Decimal(proposed), cadence="standard", guardrails=(step,),
        input_fingerprint="0" * 64,
        predicted={"margin": rs.PredictedChange("10.00", "2.00", "18.00")}, propensity=0.98,
        reason=rs.AssignmentReason.POLICY, explanation="bench", drivers=(),
        initial_status=rs.SuggestionStatus.PENDING) for i in range(promoters)]


def _store_run(url: str, promoters: int, proposed: str, at: datetime) -> None:
    engine = create_db_engine(url)
    run = rs.SuggestionRun(as_of=at, created_at=at, mode=rs.SuggestionMode.LIVE,
                           kill_switch=False, cold_start=False,
                           model_versions={"fenrun-rate-policy": "1"}, summary="bench",
                           created_by="bench")
    with engine.begin() as conn:
        rs.store_run(conn, run, _suggestions(promoters, proposed))
    engine.dispose()


def _books(root: Path, promoters: int) -> tuple[str, str]:
    url = f"sqlite:///{root / 'books.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(PLAN))
        key = create_key(conn, "mall", "bench", created_by="bench")[1]
    engine.dispose()
    _store_run(url, promoters, "0.12", datetime(2026, 3, 1, tzinfo=UTC))
    return url, key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(url: str, root: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FENRUN_DATABASE_URL": url, "FENRUN_API_RATE_PER_S": "10000",
           "FENRUN_API_BURST": "100000", "FENRUN_API_RATES_REFRESH_S": "1",
           "FENRUN_FEATURE_STORE_DIR": str(root / "features"),
           "FENRUN_MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log"]
    log = (root / "server.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait_ready(base: str, server: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server did not start:\n{(root / 'server.log').read_text()[-2000:]}")


class _Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: the client's own cost per request
    is a write and two reads (httpx's async client cost more CPU per request than the server's
    route on this shared machine, and would have been measured as server latency)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str, key: str) -> None:
        self.reader, self.writer = reader, writer
        self.head = f"Host: {host}\r\nAuthorization: Bearer {key}\r\n\r\n"

    async def get(self, path: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {path} HTTP/1.1\r\n{self.head}".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines
                      if line.lower().startswith("content-length:"))
        return int(lines[0].split(" ", 2)[1]), await self.reader.readexactly(length)


async def _load(port: int, key: str, promoters: int, rate: int, seconds: int,
                halfway: list[str]) -> tuple[list[float], list[float], int, set[str], float]:
    """Open-loop load over `CONNECTIONS` connections; (latency from due ms, from send ms,
    failures, rates served in the last 10 %, elapsed s)."""
    due_ms: list[float] = []
    send_ms: list[float] = []
    failures = 0
    late_rates: set[str] = set()
    total = rate * seconds
    halves: tuple[list[float], list[float]] = ([], [])
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        connection = _Connection(reader, writer, f"127.0.0.1:{port}", key)
        while (item := await queue.get()) is not None:
            i, due = item
            sent = time.perf_counter()
            try:
                status, body = await connection.get(
                    f"/v1/promoters/P{i % promoters:06d}/recommended-rate")
            except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
                failures += 1
                continue
            done = time.perf_counter()
            if status != 200:
                failures += 1
                continue
            due_ms.append((done - due) * 1000)
            halves[i >= total // 2].append((done - due) * 1000)
            send_ms.append((done - sent) * 1000)
            if i > total * 0.9:
                late_rates.add(json.loads(body)["recommended_rate"])
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(CONNECTIONS)]
    publisher: asyncio.subprocess.Process | None = None
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if i == total // 2:  # published by another process: this one keeps its pace
            publisher = await asyncio.create_subprocess_exec(*halfway)
        queue.put_nowait((i, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    if publisher is None or await publisher.wait() != 0:
        raise RuntimeError("publishing the second run failed")
    print(f"p99 from due before the new run {_pct(halves[0], 0.99):.2f} ms, "
          f"after it (map rebuilt in the background) {_pct(halves[1], 0.99):.2f} ms")
    return due_ms, send_ms, failures, late_rates, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(promoters: int = 1000, seconds: int = 30, rate: int = 200) -> None:
    root = Path(tempfile.mkdtemp(prefix="fenrun-rate-api-bench-"))
    url, key = _books(root, promoters)
    port = _free_port()
    server = _start_server(url, root, port)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, root)
        warm = httpx.get(f"{base}/v1/promoters/P000000/recommended-rate",
                         headers={"Authorization": f"Bearer {key}"})
        if warm.status_code != 200:
            raise RuntimeError(f"recommended-rate: {warm.status_code} {warm.text}")

        publish = [sys.executable, "-m", "benchmarks.rate_api_bench", "publish", url,
                   str(promoters)]
        due_ms, send_ms, failures, late, elapsed = asyncio.run(
            _load(port, key, promoters, rate, seconds, publish))
    finally:
        server.terminate()
        server.wait(timeout=10)
    answered = len(due_ms)
    print(f"recommended-rate: {rate} req/s offered for {seconds} s over {promoters} promoters, "
          f"server in its own process (uvicorn), SQLite books")
    print(f"answered {answered} of {rate * seconds}, failed {failures}, "
          f"throughput {answered / elapsed:,.0f} req/s")
    print(f"latency from due: p50 {_pct(due_ms, 0.5):.2f} ms  p99 {_pct(due_ms, 0.99):.2f} ms  "
          f"max {max(due_ms, default=float('nan')):.2f} ms (aim p99 < {TARGET_P99_MS:g} ms)")
    print(f"latency from send: p50 {_pct(send_ms, 0.5):.2f} ms  p99 {_pct(send_ms, 0.99):.2f} ms")
    print(f"new run published halfway; rates served in the last 10 %: {sorted(late)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["publish"]:  # the halfway run, stored from its own process
        _store_run(sys.argv[2], int(sys.argv[3]), "0.14", datetime(2026, 3, 2, tzinfo=UTC))
    else:
        run()
