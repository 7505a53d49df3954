"""API keys: created by `fenrun keys create` and shown once, stored only as a hash, listed without
secrets, revoked (effective within the key cache time); per-key rate limits answer 429 with
`Retry-After` and refill with time."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from api.auth import KeyCache
from api.cli import app as cli
from api.ratelimit import TokenBuckets
from settlement import tables as t
from settlement.api_keys import create_key, find_key, revoke_key, split_key
from settlement.db import create_db_engine
from tests.api.books_app import books_app, keyed_books


def test_the_cli_shows_a_key_once_and_stores_only_its_hash(tmp_path: Path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'books.db'}"
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--role", "mall", "--name", "shop-backend"])
    assert created.exit_code == 0, created.output
    text = created.stdout.strip().splitlines()[-1]
    key_id, secret = split_key(text) or ("", "")
    engine = create_db_engine(url)
    with engine.connect() as conn:
        row = conn.execute(select(t.api_keys)).one()
    assert row.key_id == key_id and row.role == "mall" and row.name == "shop-backend"
    assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(tuple(row))
    listed = runner.invoke(cli, ["keys", "list"])
    assert key_id in listed.stdout and secret not in listed.stdout
    assert runner.invoke(cli, ["keys", "revoke", key_id]).exit_code == 0
    with engine.connect() as conn:
        assert find_key(conn, key_id).revoked_at is not None  # type: ignore[union-attr]
    bad = runner.invoke(cli, ["keys", "create", "--role", "boss", "--name", "x"])
    assert bad.exit_code == 2 and "role: 'boss'" in bad.output
    assert runner.invoke(cli, ["keys", "revoke", "nope"]).exit_code == 2
    engine.dispose()


def test_a_revoked_key_stops_working_once_its_cache_time_has_passed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'books.db'}"
    books = keyed_books(url)
    engine = create_db_engine(url)
    now = [0.0]
    cache = KeyCache(engine, ttl_s=10.0, clock=lambda: now[0])
    key_id = split_key(books.keys["mall"])[0]  # type: ignore[index]
    assert cache.get(key_id).active  # type: ignore[union-attr]
    with engine.begin() as conn:
        revoke_key(conn, key_id)
    now[0] = 9.9
    assert cache.get(key_id).active  # type: ignore[union-attr]  # still cached
    now[0] = 10.0
    assert not cache.get(key_id).active  # type: ignore[union-attr]
    engine.dispose()


def test_a_key_over_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    app = books_app(books, burst=3, rate_per_s=0.5)
    # a stopped clock: a slow machine must not refill the bucket between the four calls
    app.state.rate_limits = TokenBuckets(rate_per_s=0.5, burst=3, clock=lambda: 0.0)
    with TestClient(app) as client:
        finance, growth = books.headers("finance"), books.headers("growth")
        answers = [client.get("/v1/platform/balance", headers=finance) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[-1].json()["code"] == "rate_limited"
        assert answers[-1].headers["Retry-After"] == "2"  # one token at 0.5/s
        assert client.get("/v1/plans", headers=growth).status_code == 200  # per key


def test_a_bucket_refills_with_time() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate_per_s=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("k"), buckets.take("k"), buckets.take("k")] == [0, 0, 1]
    now[0] = 0.5
    assert buckets.take("k") == 0 and buckets.take("k") == 1
    with pytest.raises(ValueError, match="rate_per_s"):
        TokenBuckets(rate_per_s=0, burst=1)


def test_admin_creates_and_revokes_keys_over_http(tmp_path: Path) -> None:
    books = keyed_books(f"sqlite:///{tmp_path / 'books.db'}")
    with TestClient(books_app(books), headers=books.headers("admin")) as client:
        made = client.post("/v1/keys", json={"role": "risk", "name": "analyst"})
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        risk = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/models", headers=risk).status_code == 200
        assert all("key" not in k for k in client.get("/v1/keys").json()["keys"])
        client.post(f"/v1/keys/{made.json()['key_id']}/revoke")
        assert client.get("/v1/models", headers=risk).status_code == 401  # cache off in tests
        engine = create_db_engine(books.url)
        with engine.begin() as conn:
            assert create_key(conn, "admin", "x", "t")[0].created_by == "t"
        engine.dispose()
