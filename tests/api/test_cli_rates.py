"""`fenrun rates`: suggest stores a run and prints its tally, list filters by status, approve
writes a plan version that `fenrun plan show` lists as an override, reject needs a reason,
shadow suggestions and the kill switch refuse approval, and bad arguments name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.serving.rates_fixtures import mall_files, new_books, policy_store

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'books.db'}"
    new_books(url).dispose()
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    monkeypatch.setenv("FENRUN_MLFLOW_TRACKING_URI", policy_store())
    monkeypatch.setenv("FENRUN_RATES_MODE", "live")
    monkeypatch.setenv("FENRUN_RATES_NOTICE_DAYS", "1")
    runner = CliRunner()

    def run(*args: object):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


def _ids(listing: str) -> list[str]:
    return [line.split()[0] for line in listing.splitlines() if line.startswith("rs_")]


def test_suggest_list_approve_reject_show(cli) -> None:
    as_of = mall_files().events[-1].ts.isoformat()
    done = cli("rates", "suggest", "--as-of", as_of, "--seed", "1")
    assert done.exit_code == 0, done.stderr
    assert "(live mode)" in done.stdout and "pending" in done.stdout
    pending = _ids(cli("rates", "list", "--status", "pending").stdout)
    assert len(pending) >= 2
    soon = datetime.now(UTC) + timedelta(hours=1)
    refused = cli("rates", "approve", pending[0], "--by", "ana", "--effective-from",
                  soon.isoformat())
    assert refused.exit_code == 2 and "notice period" in refused.stderr
    later = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    approved = cli("rates", "approve", pending[0], "--by", "ana", "--note", "good traffic",
                   "--effective-from", later.isoformat())
    assert approved.exit_code == 0, approved.stderr
    assert "plan version" in approved.stdout
    shown = cli("plan", "show").stdout
    assert "promoter overrides (level-1 base rate): 1" in shown
    assert cli("rates", "reject", pending[1], "--by", "bo", "--note", " ").exit_code == 2
    assert cli("rates", "reject", pending[1], "--by", "bo", "--note", "not now").exit_code == 0
    detail = cli("rates", "show", pending[0]).stdout
    assert "decided approved by ana" in detail and "min_evidence" in detail
    assert _ids(cli("rates", "list", "--status", "rejected").stdout) == [pending[1]]
    promoter, _, _, new_rate = approved.stdout.split("promoter ")[1].split()[:4]
    logged = cli("rates", "assignments", "--promoter", promoter).stdout.splitlines()[1:]
    assert [line.split()[:2] for line in logged] == [[promoter, new_rate]]
    assert pending[0] not in cli("rates", "list", "--status", "pending").stdout


def test_bad_arguments_and_the_kill_switch(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = cli("rates", "list", "--status", "pendng")
    assert bad.exit_code == 2 and "--status" in bad.stderr
    assert cli("rates", "show", "rs_nope").exit_code == 2
    monkeypatch.setenv("FENRUN_RATES_KILL_SWITCH", "true")
    as_of = mall_files().events[-1].ts.isoformat()
    stopped = cli("rates", "suggest", "--as-of", as_of)
    assert stopped.exit_code == 0 and "kill switch is on" in stopped.stdout
    refused = cli("rates", "approve", "rs_any", "--by", "ana")
    assert refused.exit_code == 2 and "kill switch" in refused.stderr
