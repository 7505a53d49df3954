"""The order-time screen is configured once at each entry point (`FENRUN_ORDER_SCREEN*`,
settlement/config.py) and `fenrun settle` (the pipelined writer) and `fenrun events retry` (the
reading path) run the screen configured; a bad setting is refused naming the variable."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from api.cli import app
from settlement.config import CAP_VARIABLE, SettlementSettings
from settlement.db import create_db_engine
from settlement.errors import InvalidEvent
from settlement.order_screen import DEFAULT_SCREEN, OrderScreen
from settlement.read_model import held_orders
from tests.conftest import DEFAULT_PLAN, EventFactory
from tests.settlement.test_order_screen import _mall

ORDERS = ["own", "upline", "honest"]  # 1,000.00 each; P earns 100.00 a order at level 1


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in ("ORDER_SCREEN", "ORDER_SCREEN_SELF_REFERRAL", "ORDER_SCREEN_CAP_PER_ORDER"):
        monkeypatch.delenv(f"FENRUN_{name}", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(f"FENRUN_{name.upper()}", value)


def test_the_defaults_are_the_screen_every_path_ran_before(monkeypatch):
    _env(monkeypatch)
    assert SettlementSettings().order_screen_for("CNY") == DEFAULT_SCREEN


def test_the_variables_give_the_screen_with_the_cap_in_minor_units(monkeypatch):
    _env(monkeypatch, order_screen_self_referral="off", order_screen_cap_per_order="500.00")
    assert SettlementSettings().order_screen_for("CNY") == OrderScreen(True, False, 50_000)
    _env(monkeypatch, order_screen_cap_per_order="500")
    assert SettlementSettings().order_screen_for("JPY") == OrderScreen(True, True, 500)
    _env(monkeypatch, order_screen="off")
    assert SettlementSettings().order_screen_for("CNY").enabled is False


@pytest.mark.parametrize("cap", ["0", "0.00", "-5", "abc", "NaN", "Infinity", "1" * 41])
def test_a_cap_that_is_no_positive_amount_is_refused_naming_the_variable(monkeypatch, cap):
    _env(monkeypatch, order_screen_cap_per_order=cap)
    with pytest.raises(ValidationError, match="order_screen_cap_per_order"):
        SettlementSettings()


@pytest.mark.parametrize("cap", ["1.234", "10000000000.01", "0.5"])
def test_a_cap_that_does_not_fit_the_books_currency_is_refused_naming_the_variable(
        monkeypatch, cap):
    _env(monkeypatch, order_screen_cap_per_order=cap)
    currency = "JPY" if cap == "0.5" else "CNY"  # JPY has no minor digits
    with pytest.raises(InvalidEvent, match=CAP_VARIABLE):
        SettlementSettings().order_screen_for(currency)


def test_on_and_off_are_the_only_switches(monkeypatch):
    _env(monkeypatch, order_screen="maybe")
    with pytest.raises(ValidationError, match="order_screen"):
        SettlementSettings()


@pytest.fixture
def settle_cli(tmp_path, monkeypatch):
    """`fenrun settle` of the order-screen mall into fresh books; returns the held orders."""
    _env(monkeypatch)
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e.payload) + "\n" for e in _mall(EventFactory())))
    runner = CliRunner()

    def settle(name: str, **env: str) -> set[str]:
        url = f"sqlite:///{tmp_path / name}.db"
        _env(monkeypatch, database_url=url, **env)
        done = runner.invoke(app, ["settle", str(events), "--plan", str(tmp_path / "plan.yaml")])
        assert done.exit_code == 0, done.output
        engine = create_db_engine(url)
        with engine.connect() as conn:
            held = held_orders(conn, ORDERS)
        engine.dispose()
        return held

    return settle


def test_fenrun_settle_runs_the_configured_screen(settle_cli):
    assert settle_cli("default") == {"own", "upline"}  # self-referral, as before
    assert settle_cli("off", order_screen="off") == set()
    assert settle_cli("no-self", order_screen_self_referral="off") == set()
    capped = settle_cli("capped", order_screen_self_referral="off",
                        order_screen_cap_per_order="50.00")
    assert capped == set(ORDERS)  # 100.00 to P on each order, above the cap
    assert settle_cli("high", order_screen_self_referral="off",
                      order_screen_cap_per_order="100.01") == set()


def test_fenrun_settle_names_a_cap_that_does_not_fit_the_currency(settle_cli, tmp_path,
                                                                   monkeypatch):
    _env(monkeypatch, database_url=f"sqlite:///{tmp_path / 'bad.db'}",
         order_screen_cap_per_order="1.005")
    events = tmp_path / "events.jsonl"
    done = CliRunner().invoke(app, ["settle", str(events), "--plan", str(tmp_path / "plan.yaml")])
    assert done.exit_code != 0 and CAP_VARIABLE in done.output
