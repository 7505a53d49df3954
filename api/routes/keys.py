"""`/v1/keys`: admin creates, lists and revokes API keys, as `fenrun keys` does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.auth import Caller, allow
from api.books_schemas import KeyCreatedOut, KeyIn, KeyOut, KeysOut
from api.deps import BooksDep
from api.errors import error_responses
from settlement.api_keys import create_key, list_keys, revoke_key
from settlement.errors import NotFound

router = APIRouter(prefix="/v1/keys", tags=["keys"])
AdminCaller = Annotated[Caller, allow("admin")]


@router.post("", status_code=201, responses=error_responses(validated=True))
def create(body: KeyIn, books: BooksDep, caller: AdminCaller) -> KeyCreatedOut:
    """A new key; the full `key` is in this answer only (the books keep its hash)."""
    with books.begin() as conn:
        key, text = create_key(conn, body.role, body.name, created_by=f"key:{caller.name}")
    return KeyCreatedOut(**KeyOut.of(key).model_dump(), key=text)


@router.get("", dependencies=[allow("admin")])
def list_all(books: BooksDep) -> KeysOut:
    """Every key, without secrets."""
    with books.connect() as conn:
        return KeysOut(keys=[KeyOut.of(k) for k in list_keys(conn)])


@router.post("/{key_id}/revoke", dependencies=[allow("admin")],
             responses=error_responses(NotFound, validated=True))
def revoke(key_id: Annotated[str, Path(max_length=32)], books: BooksDep) -> KeyOut:
    """Revoke a key; it stops working within `FENRUN_API_KEY_CACHE_S` seconds."""
    with books.begin() as conn:
        return KeyOut.of(revoke_key(conn, key_id))
