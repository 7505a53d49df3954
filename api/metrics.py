"""Prometheus metrics of one app (prometheus-client), in a registry of its own so several apps
in one process (tests) never clash: requests by route template and status, latency, events by
outcome, and, read at each scrape, payouts waiting for approval and the stream worker's backlog.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from settlement import read_model
from settlement.stream.lag import StreamLag

log = logging.getLogger(__name__)
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """`lag` is given when a broker is configured: each scrape then reads the workers' lag."""

    def __init__(self, lag: StreamLag | None = None) -> None:
        self.lag = lag
        self.registry = CollectorRegistry()
        self.requests = Counter("fenrun_http_requests", "HTTP requests by route and status",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("fenrun_http_request_seconds", "HTTP latency by route",
                                 ["method", "route"], buckets=LATENCY_BUCKETS_S,
                                 registry=self.registry)
        self.events = Counter("fenrun_events", "events offered over HTTP, by outcome",
                              ["status"], registry=self.registry)
        self.payouts_waiting = Gauge("fenrun_payouts_awaiting_approval",
                                     "payouts waiting for a person", registry=self.registry)
        self.outbox_backlog = Gauge(
            "fenrun_stream_outbox_unpublished",
            "commission messages the stream worker has booked but not yet published",
            registry=self.registry)
        self.stream_lag = Gauge(
            "fenrun_stream_lag_messages",
            "orders-topic messages published and not yet applied by the settlement workers",
            ["partition"], registry=self.registry)
        self.stream_lag_errors = Counter(
            "fenrun_stream_lag_errors", "scrapes that could not read the lag from the broker",
            registry=self.registry)

    def scrape(self, books: Engine) -> bytes:
        """The text exposition, with the gauges read from the books now."""
        with books.connect() as conn:
            self.payouts_waiting.set(read_model.payouts_awaiting_approval(conn))
            self.outbox_backlog.set(read_model.outbox_unpublished(conn))
        if self.lag is not None:
            self._read_lag(books)
        return generate_latest(self.registry)

    def _read_lag(self, books: Engine) -> None:
        """A broker that does not answer costs the lag gauge, never the scrape."""
        try:
            lag = self.lag.read(books) if self.lag is not None else {}
        except Exception:  # noqa: BLE001 - any broker or network failure: counted, logged
            log.warning("stream lag not read", exc_info=True)
            self.stream_lag_errors.inc()
            return
        for partition, behind in lag.items():
            self.stream_lag.labels(str(partition)).set(behind)


class CountedRequests:
    """Counts each HTTP request by method, route template and status, and times it, into
    `metrics` (`app.add_middleware(CountedRequests, metrics=...)`). Plain ASGI, not
    `BaseHTTPMiddleware`: that one cost more CPU per request (about 0.6 ms on the shared
    machine) than a recommended-rate look-up itself. A request that raises counts as 500 and
    the error goes on to Starlette's handler."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")  # set by the router on this same scope
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status[0])).inc()
            self.metrics.latency.labels(scope["method"], template).observe(
                time.perf_counter() - started)
