"""Probes and metrics, without a key: `/healthz` (the process is up, reads nothing; `/health` is
its older name), `/readyz` (the books and the MLflow store answer), `/metrics` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from api.deps import BooksDep, MetricsDep
from api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> HealthOut:
    """Liveness: the process answers; reads nothing."""
    return HealthOut()


@router.get("/health", include_in_schema=False)
def health() -> HealthOut:
    """The pre-/v1 name of `/healthz`, kept for monitors already probing it."""
    return HealthOut()


def _check(probe: object) -> str:
    try:
        probe()  # type: ignore[operator]
    except Exception as error:  # noqa: BLE001 - any failure means not ready; named below
        return f"unavailable: {type(error).__name__}"
    return "ok"


@router.get("/readyz", responses={503: {"model": ReadyOut, "description": "a dependency is down"}})
def readyz(request: Request, books: BooksDep) -> ReadyOut:
    """Readiness: the settlement books answer a query and the MLflow store lists its models.
    503 with the same body when either does not (the failing one is named)."""

    def books_probe() -> None:
        with books.connect() as conn:
            conn.execute(text("SELECT 1"))

    checks = {"database": _check(books_probe),
              "mlflow": _check(lambda: request.app.state.model_health.models())}
    ready = ReadyOut(status="ok" if all(v == "ok" for v in checks.values()) else "unavailable",
                     checks=checks)
    if ready.status != "ok":
        return JSONResponse(status_code=503, content=ready.model_dump())  # type: ignore[return-value]
    return ready


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
def metrics(metrics: MetricsDep, books: BooksDep) -> Response:
    """Prometheus exposition: requests by route and status, latency histograms, events by
    outcome, payouts awaiting approval, the stream outbox's unpublished messages."""
    return Response(metrics.scrape(books), media_type=CONTENT_TYPE_LATEST)
