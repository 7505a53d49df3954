"""A simulated month settles through the real CLI with no rejected event, and its books verify."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app
from features.simulator import SimulationConfig, simulate


def test_a_simulated_month_settles_and_balances(tmp_path, monkeypatch):
    monkeypatch.setenv("FENRUN_DATABASE_URL", f"sqlite:///{tmp_path / 'books.db'}")
    summary = simulate(tmp_path / "sim", SimulationConfig(promoters=400, days=30, seed=3))
    runner = CliRunner()
    settled = runner.invoke(app, ["settle", str(tmp_path / "sim" / "events.jsonl"),
                                  "--plan", str(tmp_path / "sim" / "plan.yaml")])
    assert settled.exit_code == 0, settled.output
    assert f"applied {summary.total_events}," in settled.stdout
    verified = runner.invoke(app, ["ledger", "verify"])
    assert verified.exit_code == 0, verified.output
    document = json.loads(runner.invoke(app, ["balances", "--format", "json"]).stdout)
    paid_in = summary.gmv_minor - summary.refunded_minor
    distributed = sum(
        _minor(row[k]) for row in document["promoters"].values()
        for k in ("pending", "available", "paid"))
    distributed += sum(_minor(row["payable"]) for row in document["merchants"].values())
    distributed += _minor(document["platform"]["revenue"])
    assert distributed == paid_in  # every fen the customers paid (net of refunds) is accounted for


def _minor(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, frac = text.lstrip("-").split(".")
    return sign * (int(whole) * 100 + int(frac))
