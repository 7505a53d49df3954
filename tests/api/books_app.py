"""An app over scratch books with one key per role (and a revoked one), for the /v1 tests."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiSettings
from serving.config import ServingSettings
from settlement.api_keys import ROLES, create_key, revoke_key
from settlement.config import SettlementSettings
from settlement.db import create_db_engine, upgrade
from settlement.plan import parse_plan_text
from settlement.plan_store import store_versions
from settlement.stream.config import StreamSettings
from tests.conftest import DEFAULT_PLAN

REVOKED = "revoked"


@dataclass
class KeyedBooks:
    url: str
    keys: dict[str, str]  # role (or REVOKED) -> full key text

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def keyed_books(url: str, plan: str | None = DEFAULT_PLAN) -> KeyedBooks:
    """Migrated books at `url` with a key per role, a revoked key and (by default) a plan."""
    engine = create_db_engine(url)
    upgrade(engine)
    keys: dict[str, str] = {}
    with engine.begin() as conn:
        for role in ROLES:
            keys[role] = create_key(conn, role, f"{role}-test", created_by="test")[1]
        revoked, keys[REVOKED] = create_key(conn, "admin", "gone", created_by="test")
        revoke_key(conn, revoked.key_id)
        if plan is not None:
            store_versions(conn, parse_plan_text(plan))
    engine.dispose()
    return KeyedBooks(url, keys)


def books_app(books: KeyedBooks, serving: ServingSettings | None = None,
              bootstrap: str | None = None, **api: object) -> FastAPI:
    """The app over `books`; `api` overrides ApiSettings (key cache off unless given)."""
    settings = ApiSettings(**{"key_cache_s": 0.0, **api})  # type: ignore[arg-type]
    store = serving or ServingSettings(
        feature_store_dir=tempfile.mkdtemp(prefix="fenrun-snapshots-"),
        mlflow_tracking_uri=f"sqlite:///{tempfile.mkdtemp(prefix='fenrun-mlflow-')}/mlflow.db")
    return create_app(store, SettlementSettings(database_url=books.url), settings,
                      StreamSettings(kafka_bootstrap=bootstrap))


def admin_client(serving: ServingSettings, role: str = "admin") -> TestClient:
    """A client of an app over `serving`'s snapshots and fresh books, sending `role`'s key."""
    books = keyed_books(f"sqlite:///{Path(tempfile.mkdtemp(prefix='fenrun-api-')) / 'b.db'}")
    return TestClient(books_app(books, serving), headers=books.headers(role))
