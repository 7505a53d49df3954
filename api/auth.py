"""Who may call what: `Authorization: Bearer fr_<id>_<secret>`, one role per key, checked per
route by a dependency that names the route's roles (`allow("finance")`).

- `admin` passes every check: it manages keys and plans and may do what any role does (an
  operator fixing things at night should not need five keys). Every other role is held to its
  routes.
- 401 `unauthorized` without a key, with a malformed, unknown or revoked one; 403 `forbidden`
  with a valid key whose role the route does not take; 429 `rate_limited` with `Retry-After`
  past the key's rate (`api.ratelimit`).
- Keys are read from the books at most once per `key_cache_s` (default 10 s) per key id, so a
  request costs no query and a revoked key stops working within that time. The secret is
  checked on every request, in constant time, against the cached hash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from api.errors import Refused
from api.ratelimit import TokenBuckets
from settlement.api_keys import ROLES, ApiKey, find_key, secret_matches, split_key

ADMIN = "admin"
MAX_CACHED_KEYS = 10_000
bearer = HTTPBearer(auto_error=False, description="an API key: `fr_<id>_<secret>`")


class Caller(NamedTuple):
    """The key a request came with: its name is recorded as who decided a payout."""

    key_id: str
    name: str
    role: str


class KeyCache:
    """Keys by id, each trusted for `ttl_s` after it was read (unknown ids too)."""

    def __init__(self, engine: Engine, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.ttl_s, self._clock = engine, ttl_s, clock
        self._keys: dict[str, tuple[ApiKey | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> ApiKey | None:
        now = self._clock()
        with self._lock:
            cached = self._keys.get(key_id)
        if cached is not None and now - cached[1] < self.ttl_s:
            return cached[0]
        with self.engine.connect() as conn:
            key = find_key(conn, key_id)
        with self._lock:
            if len(self._keys) >= MAX_CACHED_KEYS:
                self._keys.clear()
            self._keys[key_id] = (key, now)
        return key


def _unauthorized(detail: str) -> Refused:
    return Refused(401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})


class RoleCheck:
    """The dependency a route declares: the caller's key must be valid and hold one of `roles`
    (or `admin`). The roles are kept on the instance so tests and the OpenAPI document read
    them from the routes themselves."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        unknown = [role for role in roles if role not in ROLES]
        if unknown or not roles:
            raise ValueError(f"roles: {roles!r} must be some of {', '.join(ROLES)}")
        self.roles = tuple(dict.fromkeys((*roles, ADMIN)))

    def __call__(self, request: Request, credentials: Annotated[
            HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
        if credentials is None:
            raise _unauthorized("no API key: send `Authorization: Bearer fr_<id>_<secret>`")
        parts = split_key(credentials.credentials)
        key = None
        if parts is not None:
            cache: KeyCache = request.app.state.keys
            key = cache.get(parts[0])
        if parts is None or key is None or not secret_matches(key, parts[1]):
            raise _unauthorized("unknown API key")
        if not key.active:
            raise _unauthorized(f"API key {key.key_id} was revoked")
        if key.role not in self.roles:
            raise Refused(403, "forbidden", f"role {key.role!r} may not call this route "
                          f"(roles: {', '.join(self.roles)})")
        limiter: TokenBuckets = request.app.state.rate_limits
        wait_s = limiter.take(key.key_id)
        if wait_s:
            raise Refused(429, "rate_limited", f"more than {limiter.rate_per_s:g} requests/s "
                          f"(burst {limiter.burst}) for key {key.key_id}; retry in {wait_s} s",
                          {"Retry-After": str(wait_s)})
        return Caller(key.key_id, key.name, key.role)


def allow(*roles: str) -> Any:
    """`Depends` on a `RoleCheck` for `roles` (admin always included)."""
    return Depends(RoleCheck(roles))


class LoopRoleCheck(RoleCheck):
    """The same check run on the event loop instead of a worker thread, for hot routes whose
    answer is a look-up in memory (the recommended rate): on a busy machine the thread hop cost
    more than the route. A key-cache miss then reads the books on the loop, at most once per key
    per `key_cache_s`."""

    async def __call__(self, request: Request, credentials: Annotated[  # type: ignore[override]
            HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
        return super().__call__(request, credentials)


def allow_on_loop(*roles: str) -> Any:
    """`Depends` on a `LoopRoleCheck` for `roles` (admin always included)."""
    return Depends(LoopRoleCheck(roles))


def route_roles(dependant: Any) -> tuple[str, ...] | None:
    """The roles a route's dependencies require, or None if it has no `RoleCheck`."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, RoleCheck):
            return dependency.call.roles
        found = route_roles(dependency)
        if found is not None:
            return found
    return None
