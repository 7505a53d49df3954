"""Commands that only read the books never create them: pointed at a missing or empty database
they fail naming the URL (password hidden) instead of printing zero balances and an all-clear."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import DEFAULT_PLAN

READ_ONLY = [
    ["balances"],
    ["ledger", "verify"],
    ["payouts", "list"],
    ["payouts", "approve", "1", "--note", "checked"],
    ["release", "--as-of", "2026-03-01T00:00:00Z"],
    ["payouts", "run", "--as-of", "2026-03-01T00:00:00Z", "--no-hold-flagged"],
    ["plan", "list"],
    ["plan", "show"],
    ["events", "rejected"],
    ["events", "retry", "--all"],
]


def _run(url: str, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setenv("FENRUN_DATABASE_URL", url)
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_a_missing_sqlite_file_is_an_error_and_nothing_is_created(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "elsewhere"
    url = f"sqlite:///{folder / 'fenrun.db'}"
    result = _run(url, monkeypatch, *args)
    assert result.exit_code == 2, result.output
    assert f"no books at {url}: the database file does not exist" in result.stderr
    assert "ledger verified" not in result.stdout
    assert not folder.exists()


def test_an_empty_sqlite_file_is_an_error_and_stays_empty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fenrun.db"
    path.touch()
    result = _run(f"sqlite:///{path}", monkeypatch, "ledger", "verify")
    assert result.exit_code == 2
    assert "holds no fenrun schema" in result.stderr
    assert inspect(create_engine(f"sqlite:///{path}")).get_table_names() == []


def test_write_commands_still_create_the_books(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    url = f"sqlite:///{tmp_path / 'new' / 'fenrun.db'}"
    assert _run(url, monkeypatch, "plan", "apply", str(tmp_path / "plan.yaml")).exit_code == 0
    assert _run(url, monkeypatch, "ledger", "verify").exit_code == 0


def test_an_empty_postgres_database_is_an_error(postgres_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(postgres_url, monkeypatch, "balances")
    assert result.exit_code == 2
    assert "holds no fenrun schema" in result.stderr
    assert inspect(create_engine(postgres_url)).get_table_names() == []


def test_a_missing_postgres_database_is_named_without_its_password(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = make_url(postgres_url).set(password="s3cret", database="fenrun_no_such_db")
    url = missing.render_as_string(hide_password=False)
    result = _run(url, monkeypatch, "ledger", "verify")
    assert result.exit_code == 2
    assert f"cannot open the books at {missing.render_as_string(hide_password=True)}" in (
        result.stderr)
    assert "s3cret" not in result.output
