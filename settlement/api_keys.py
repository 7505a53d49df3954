"""API keys of the HTTP API: created once (the secret shown to the caller, never stored), listed,
revoked, and looked up per request.

A key reads `fr_<key_id>_<secret>`: the id finds the row, the secret is checked against its
SHA-256. A plain, unsalted hash is enough here because the secret is 32 random bytes
(`secrets.token_urlsafe`), not a password a person chose: nobody can guess or tabulate 2^256
inputs, so a slow, salted hash (bcrypt, argon2) would only cost latency on every request. The
comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, update

from settlement import tables as t
from settlement.errors import NotFound, SettlementError

# `promoter`: one promoter's own data; the key's name is that promoter's id.
ROLES = ("mall", "growth", "risk", "finance", "admin", "promoter")
PREFIX = "fr"
MAX_NAME_LENGTH = 100
MAX_KEYS_LISTED = 10_000
_SECRET_BYTES = 32
_KEY = re.compile(r"^fr_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")


class InvalidKeyRequest(SettlementError):
    """A key cannot be created or revoked as asked (unknown role, blank name...)."""

    code = "invalid_key_request"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    created_by: str
    secret_sha256: str = ""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(conn: Connection, role: str, name: str, created_by: str) -> tuple[ApiKey, str]:
    """Store a new key; returns it and the full key text, which is never shown again."""
    if role not in ROLES:
        raise InvalidKeyRequest(f"role: {role!r} must be one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidKeyRequest(f"name: {name!r} must be 1 to {MAX_NAME_LENGTH} characters")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    now = datetime.now(UTC)
    conn.execute(t.api_keys.insert().values(
        key_id=key_id, name=name, role=role, secret_sha256=_digest(secret), created_at=now,
        revoked_at=None, created_by=created_by))
    return ApiKey(key_id, name, role, now, None, created_by), f"{PREFIX}_{key_id}_{secret}"


def _row(row: object) -> ApiKey:
    return ApiKey(row.key_id, row.name, row.role, row.created_at,  # type: ignore[attr-defined]
                  row.revoked_at, row.created_by, row.secret_sha256)  # type: ignore[attr-defined]


def list_keys(conn: Connection) -> list[ApiKey]:
    """Every key, oldest first (at most `MAX_KEYS_LISTED`), secrets' hashes left out."""
    rows = conn.execute(select(t.api_keys).order_by(t.api_keys.c.created_at)
                        .limit(MAX_KEYS_LISTED))
    return [_row(r) for r in rows]


def revoke_key(conn: Connection, key_id: str) -> ApiKey:
    """Mark a key revoked (kept for the record); revoking twice keeps the first instant."""
    found = conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
    if found is None:
        raise NotFound(f"key_id: no API key {key_id!r}")
    if found.revoked_at is None:
        conn.execute(update(t.api_keys).where(t.api_keys.c.key_id == key_id)
                     .values(revoked_at=datetime.now(UTC)))
    return _row(conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).one())


def split_key(text: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key text, else None."""
    match = _KEY.match(text)
    return (match.group(1), match.group(2)) if match else None


def find_key(conn: Connection, key_id: str) -> ApiKey | None:
    row = conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
    return None if row is None else _row(row)


def secret_matches(key: ApiKey, secret: str) -> bool:
    """Constant-time: how long the comparison takes says nothing about the stored hash."""
    return hmac.compare_digest(_digest(secret), key.secret_sha256)
