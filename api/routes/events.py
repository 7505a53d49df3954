"""`POST /v1/events`: the mall's backend sends events; each is decided exactly as `fenrun settle`
decides it, through the one ingestion use case (`settlement.ingest.Ingest`).

- Each element is parsed with `settlement.events.parse_event`; one that does not parse is
  `rejected` with the parser's reason (the same words `fenrun settle` prints for such a line) and
  stored nowhere, as `settle` stores no unparseable line.
- The parsed events are applied in timestamp order (ties in request order), as `settle` orders a
  file; the results come back in request order. The same `event_id` with the same content is a
  `duplicate`, with other content a `conflict`: a retried request changes nothing.
- Then the holds due by the newest instant applied are released, as `settle` does at its end.
- A body that is not JSON, has no `events` list or more than `events_per_request` elements is
  refused (422 / 413) before anything is read into the books.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.auth import allow
from api.books_schemas import EventResult, EventsIn, EventsOut, EventsPublishedOut
from api.deps import ApiSettingsDep, BooksDep, MetricsDep, SettlementSettingsDep
from api.errors import Refused, error_responses
from api.metrics import ApiMetrics
from api.publish import OrdersPublisher
from api.schemas import ErrorOut
from settlement.errors import InvalidEvent, PlanError
from settlement.events import Event, parse_event
from settlement.ingest import Ingest

router = APIRouter(prefix="/v1", tags=["events"])


def _event_id(item: object) -> str | None:
    value = item.get("event_id") if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


@router.post("/events", dependencies=[allow("mall")], response_model=EventsOut,
             responses={**error_responses(validated=True),
                        409: {"model": ErrorOut, "description": "no_plan: store a plan first"},
                        202: {"model": EventsPublishedOut,
                              "description": "published to the orders topic (Kafka configured)"},
                        413: {"model": ErrorOut, "description": "too_large: too many events"},
                        503: {"model": ErrorOut, "description": "publish_failed: the broker did "
                                                                "not take the events"}})
def post_events(body: EventsIn, request: Request, books: BooksDep, api: ApiSettingsDep,
                settlement: SettlementSettingsDep, metrics: MetricsDep) -> EventsOut | JSONResponse:
    """Apply a batch of events; one result per event, in request order: `applied`, `duplicate`
    (same id, same content), `conflict` (same id, other content) or `rejected` with the reason.
    With Kafka configured, 202: the parsed events were published for the worker (`published`,
    their ids in time order) and the unparseable ones `rejected`."""
    if len(body.events) > api.events_per_request:
        raise Refused(413, "too_large", f"events: {len(body.events)} events, at most "
                      f"{api.events_per_request} per request; send the rest in another")
    results: list[EventResult | None] = [None] * len(body.events)
    parsed: list[tuple[int, Event]] = []
    for index, item in enumerate(body.events):
        try:
            parsed.append((index, parse_event(item)))
        except InvalidEvent as error:
            results[index] = EventResult(event_id=_event_id(item), status="rejected",
                                         reason=str(error))
    publisher = request.app.state.publisher
    if publisher is not None:
        return _publish(publisher, [event for _, event in parsed], results, metrics)
    parsed.sort(key=lambda pair: pair[1].ts)  # stable: ties keep the request's order
    ingest = Ingest(books, settlement.batch_size, screen=settlement.order_screen_for)
    try:
        ingest.check_plans()
    except PlanError as error:
        raise Refused(409, "no_plan", str(error)) from None
    outcomes = ingest.apply([event for _, event in parsed])
    for (index, _), outcome in zip(parsed, outcomes, strict=True):
        results[index] = EventResult(event_id=outcome.event_id, status=outcome.status.value,  # type: ignore[arg-type]
                                     reason=outcome.reason)
    released = ingest.release()
    done = [result for result in results if result is not None]
    for result in done:
        metrics.events.labels(result.status).inc()
    return EventsOut(results=done, holds_released=released)


def _publish(publisher: OrdersPublisher, events: list[Event], results: list[EventResult | None],
             metrics: ApiMetrics) -> JSONResponse:
    try:
        published = publisher.publish(events) if events else []
    except Exception as error:  # noqa: BLE001 - any broker failure: nothing is promised
        raise Refused(503, "publish_failed", f"the broker did not take the events "
                      f"({type(error).__name__}); send the request again") from None
    rejected = [result for result in results if result is not None]
    metrics.events.labels("published").inc(len(published))
    metrics.events.labels("rejected").inc(len(rejected))
    body = EventsPublishedOut(published=published, rejected=rejected)
    return JSONResponse(status_code=202, content=body.model_dump())
