"""`POST /v1/events` runs the order-time screen configured when the app was made
(`FENRUN_ORDER_SCREEN*`, read once): the same self-referral orders are held by default, and not
with the screen off, whatever the variables say after start-up."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from settlement.db import create_db_engine
from settlement.read_model import held_orders
from tests.api.books_app import books_app, keyed_books
from tests.conftest import EventFactory
from tests.settlement.test_order_screen import _mall


def _post_mall(url: str, make_app) -> set[str]:
    books = keyed_books(url)
    with TestClient(make_app(books), headers=books.headers("mall")) as client:
        posted = client.post("/v1/events",
                             json={"events": [e.payload for e in _mall(EventFactory())]})
        assert posted.status_code == 200, posted.text
        assert {r["status"] for r in posted.json()["results"]} == {"applied"}
    engine = create_db_engine(url)
    with engine.connect() as conn:
        held = held_orders(conn, ["own", "upline", "honest"])
    engine.dispose()
    return held


def test_the_api_runs_the_screen_configured_at_start_up(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("FENRUN_ORDER_SCREEN", raising=False)
    assert _post_mall(f"sqlite:///{tmp_path / 'on.db'}", books_app) == {"own", "upline"}

    def off_at_start(books):
        monkeypatch.setenv("FENRUN_ORDER_SCREEN", "off")
        app = books_app(books)
        monkeypatch.setenv("FENRUN_ORDER_SCREEN", "on")  # read once: changes nothing now
        return app

    assert _post_mall(f"sqlite:///{tmp_path / 'off.db'}", off_at_start) == set()


def test_the_api_holds_orders_above_the_configured_cap(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FENRUN_ORDER_SCREEN_SELF_REFERRAL", "off")
    monkeypatch.setenv("FENRUN_ORDER_SCREEN_CAP_PER_ORDER", "99.99")
    held = _post_mall(f"sqlite:///{tmp_path / 'cap.db'}", books_app)
    assert held == {"own", "upline", "honest"}  # 100.00 to P on each
