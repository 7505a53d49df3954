"""Serving's errors mapped, in one table, to HTTP statuses; the body carries the stable code.

The codes are the errors' own `code` attributes, so a client can rely on them across releases.
A request that fails validation (a malformed path or query value) gets the same body shape, with
code `invalid_request` and a detail naming each offending field, instead of FastAPI's own list;
so do Starlette's own errors (`not_found` for an unknown route, `method_not_allowed`). Details
never carry a filesystem path: serving's messages name the kind of report, not where it lives.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.schemas import ErrorOut
from serving.errors import (
    NoAcquiredCustomers,
    NoChampion,
    NoDriftCheck,
    NoSnapshot,
    ServingError,
    TrackingUnavailable,
    UnknownModel,
    UnknownPromoter,
)

STATUS: dict[type[ServingError], int] = {
    UnknownModel: 404,
    NoDriftCheck: 404,
    NoChampion: 404,
    NoSnapshot: 404,
    UnknownPromoter: 404,
    NoAcquiredCustomers: 404,
    TrackingUnavailable: 503,
}


def status_of(error: ServingError) -> int:
    """The table's status for the error's class or its nearest listed base; 500 if none."""
    for kind in type(error).__mro__:
        if issubclass(kind, ServingError) and kind in STATUS:
            return STATUS[kind]
    return 500


async def _handle(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, ServingError):  # registered for ServingError only
        raise error
    body = ErrorOut(code=error.code, detail=str(error))
    return JSONResponse(status_code=status_of(error), content=body.model_dump())


INVALID_REQUEST = "invalid_request"


def _field(location: tuple[object, ...] | list[object]) -> str:
    """`path.name`, `query.limit`: where the bad value was, as a client would spell it."""
    return ".".join(str(part) for part in location) or "request"


async def _handle_invalid(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, RequestValidationError):  # registered for it only
        raise error
    detail = "; ".join(f"{_field(e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                       for e in error.errors())
    body = ErrorOut(code=INVALID_REQUEST, detail=detail or "invalid request")
    return JSONResponse(status_code=422, content=body.model_dump())


# Starlette's own errors (no route, method not allowed...) by status, in the same envelope.
HTTP_CODES: dict[int, str] = {404: "not_found", 405: "method_not_allowed"}


async def _handle_http(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):  # registered for it only
        raise error
    code = HTTP_CODES.get(error.status_code, "http_error")
    detail = error.detail if isinstance(error.detail, str) and error.detail else code
    if error.status_code == 404:
        detail = f"no route {request.url.path} (see /docs for the routes)"
    body = ErrorOut(code=code, detail=detail)
    return JSONResponse(status_code=error.status_code, content=body.model_dump(),
                        headers=error.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServingError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_invalid)
    app.add_exception_handler(HTTPException, _handle_http)


def error_responses(*kinds: type[ServingError],
                    validated: bool = False) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` for a route that may raise `kinds` (and, if `validated`, reject a
    malformed parameter with 422 `invalid_request`, replacing FastAPI's own 422 schema)."""
    responses: dict[int | str, dict[str, object]] = {
        STATUS[k]: {"model": ErrorOut, "description": ", ".join(
            c.code for c in kinds if STATUS[c] == STATUS[k])} for k in kinds}
    if validated:
        responses[422] = {"model": ErrorOut, "description": INVALID_REQUEST}
    return responses
