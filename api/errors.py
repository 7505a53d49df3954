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
from serving.rate_advice import NoSuggestion
from settlement.api_keys import InvalidKeyRequest
from settlement.errors import (
    InvalidBankFile,
    InvalidEvent,
    InvalidPayee,
    NotFound,
    PayoutError,
    PlanError,
    SettlementError,
    WithdrawalRefused,
)
from settlement.people_errors import InvalidPersonalData, TooManyAttempts
from settlement.personal_data import DataKeyInvalid, DataKeyMissing, UndecryptableData
from settlement.risk_domain import CaseError

STATUS: dict[type[ServingError], int] = {
    UnknownModel: 404,
    NoDriftCheck: 404,
    NoChampion: 404,
    NoSnapshot: 404,
    UnknownPromoter: 404,
    NoAcquiredCustomers: 404,
    TrackingUnavailable: 503,
    NoSuggestion: 404,
}


# The settlement core's errors a route may raise (a payout that is not awaiting approval...).
SETTLEMENT_STATUS: dict[type[SettlementError], int] = {
    NotFound: 404,
    PayoutError: 409,
    PlanError: 422,
    InvalidEvent: 422,
    InvalidKeyRequest: 422,
    InvalidPersonalData: 422,
    TooManyAttempts: 429,
    DataKeyMissing: 503,
    DataKeyInvalid: 503,
    UndecryptableData: 500,
    InvalidPayee: 422,
    WithdrawalRefused: 422,
    InvalidBankFile: 422,
    CaseError: 409,  # a decided case asked to move again, a dismissal without a reason
}


class Refused(Exception):
    """The API's own refusals (no key, wrong role, too many requests, too large a body)."""

    def __init__(self, status: int, code: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


async def _handle_refused(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, Refused):  # registered for it only
        raise error
    return JSONResponse(status_code=error.status, headers=error.headers,
                        content=ErrorOut(code=error.code, detail=error.detail).model_dump())


def settlement_status(error: SettlementError) -> int:
    for kind in type(error).__mro__:
        if kind in SETTLEMENT_STATUS:
            return SETTLEMENT_STATUS[kind]
    return 409  # a settlement rule refused the request as asked


async def _handle_settlement(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, SettlementError):  # registered for it only
        raise error
    body = ErrorOut(code=error.code, detail=str(error))
    return JSONResponse(status_code=settlement_status(error), content=body.model_dump())


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
HTTP_CODES: dict[int, str] = {404: "not_found", 405: "method_not_allowed",
                              413: "too_large"}


async def _handle_http(request: Request, error: Exception) -> JSONResponse:
    if not isinstance(error, HTTPException):  # registered for it only
        raise error
    if error.status_code == 400:  # a body FastAPI could not decode (bad UTF-8 or JSON)
        body = ErrorOut(code=INVALID_REQUEST, detail=f"body: {error.detail}")
        return JSONResponse(status_code=422, content=body.model_dump())
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
    app.add_exception_handler(Refused, _handle_refused)
    app.add_exception_handler(SettlementError, _handle_settlement)


def _status(kind: type[Exception]) -> int:
    if issubclass(kind, ServingError):
        return STATUS[kind]
    return SETTLEMENT_STATUS.get(kind, 409)  # type: ignore[call-overload,arg-type]


# Every route with roles may answer these (api.auth); the app adds them to each route's document.
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "unauthorized: no key, an unknown or revoked one"},
    403: {"model": ErrorOut, "description": "forbidden: the key's role may not call the route"},
    429: {"model": ErrorOut, "description": "rate_limited: retry after `Retry-After` seconds"},
}


def error_responses(*kinds: type[Exception],
                    validated: bool = False) -> dict[int | str, dict[str, object]]:
    """OpenAPI `responses=` for a route that may raise `kinds` (and, if `validated`, reject a
    malformed parameter with 422 `invalid_request`, replacing FastAPI's own 422 schema)."""
    codes: dict[int, list[str]] = {}
    for kind in kinds:
        codes.setdefault(_status(kind), []).append(str(getattr(kind, "code", kind.__name__)))
    responses: dict[int | str, dict[str, object]] = {
        status: {"model": ErrorOut, "description": ", ".join(names)}
        for status, names in codes.items()}
    if validated:
        previous = responses.get(422, {}).get("description")
        responses[422] = {"model": ErrorOut, "description": ", ".join(
            str(d) for d in (previous, INVALID_REQUEST) if d)}
    return responses
