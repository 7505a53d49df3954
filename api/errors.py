"""Serving's errors mapped, in one table, to HTTP statuses; the body carries the stable code.

The codes are the errors' own `code` attributes, so a client can rely on them across releases.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.schemas import ErrorOut
from serving.errors import NoDriftCheck, ServingError, TrackingUnavailable, UnknownModel

STATUS: dict[type[ServingError], int] = {
    UnknownModel: 404,
    NoDriftCheck: 404,
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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServingError, _handle)


def error_responses(*kinds: type[ServingError]) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` for a route that may raise `kinds`."""
    return {STATUS[k]: {"model": ErrorOut, "description": ", ".join(
        c.code for c in kinds if STATUS[c] == STATUS[k])} for k in kinds}
