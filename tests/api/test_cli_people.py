"""`fenrun applications`, `invites` and `privacy` at the terminal: the lifecycle runs end to end,
every output masks personal fields except the export, refusals name the field and exit non-zero
changing nothing, and decisions are recorded with the person at the terminal."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.conftest import DEFAULT_PLAN

PHONE, NAME = "13812341234", "王小明"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FENRUN_DATABASE_URL", f"sqlite:///{tmp_path / 'books.db'}")
    monkeypatch.setenv("FENRUN_DATA_KEY_FILE", str(tmp_path / "keys" / "data.keys"))
    monkeypatch.delenv("FENRUN_DATA_KEYS", raising=False)
    (tmp_path / "plan.yaml").write_text(DEFAULT_PLAN)
    runner = CliRunner()

    def run(*args: object, input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    assert run("plan", "apply", tmp_path / "plan.yaml").exit_code == 0
    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


def _id(output: str) -> str:
    match = re.search(r"\b(A[0-9A-F]{16})\b", output)
    assert match, output
    return match.group(1)


def test_the_lifecycle_at_the_terminal(cli):
    first = cli("applications", "submit", "--user", "U1", "--name", NAME, "--phone", PHONE,
                "--device", "d1")
    assert first.exit_code == 0, first.output
    assert "138****1234" in first.output and "王**" in first.output and PHONE not in first.output
    key_file = cli.tmp / "keys" / "data.keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # generated on first use (embedded)
    approved = cli("applications", "approve", _id(first.output), "--note", "ok")
    assert approved.exit_code == 0 and "approved" in approved.output

    made = cli("invites", "create", "U1")
    assert made.exit_code == 0, made.output
    code = made.output.split()[0]
    link = cli("invites", "link", code.lower(), "--channel", "wechat", "--content", "post-1")
    assert link.output.strip() == f"https://mall.example.com/i/{code}?ch=wechat&cid=post-1"
    second = cli("applications", "submit", "--user", "U2", "--name", "赵六", "--phone",
                 "13900001111", "--inviter-code", code.lower())
    assert "inviter U1" in second.output
    cli("applications", "approve", _id(second.output))

    registered = cli("invites", "register", code, "--customer", "C1", "--channel", "wechat",
                     "--device", "phone-7")
    assert registered.exit_code == 0 and "bound to U1" in registered.output
    again = cli("invites", "register", code, "--customer", "C1")
    assert "already recorded" in again.output

    listed = cli("applications", "list", "--json")
    rows = json.loads(listed.output)
    assert [r["status"] for r in rows] == ["approved", "approved"]
    assert PHONE not in listed.output and NAME not in listed.output
    assert rows[0]["decided_by"].startswith("cli:") and rows[1]["inviter_id"] == "U1"
    assert cli("ledger", "verify").exit_code == 0


def test_refusals_name_the_field_and_change_nothing(cli):
    cli("applications", "submit", "--user", "U1", "--name", NAME, "--phone", PHONE)
    before = cli("applications", "list", "--json").output
    for args, message in (
            (("--user", "U2", "--name", NAME, "--phone", "138123"), "phone: not a mobile"),
            (("--user", "U2", "--name", NAME, "--phone", "+86 13812341234"),
             "phone: already on another"),
            (("--user", "U2", "--name", NAME, "--phone", "13900001111", "--inviter-code",
              "ZZZZZZZZZZ"), "inviter_code: no invite code ZZZZZZZZZZ")):
        result = cli("applications", "submit", *args)
        assert result.exit_code == 2 and message in result.output, result.output
    assert cli("applications", "list", "--json").output == before
    rejected = cli("applications", "reject", "A0000000000000000", "--reason", "x")
    assert rejected.exit_code == 2 and "no application" in rejected.output
    revoked = cli("invites", "revoke", "ZZZZZZZZZZ")
    assert revoked.exit_code == 2 and "code: no invite code" in revoked.output


def test_export_and_erase_are_audited(cli):
    submitted = cli("applications", "submit", "--user", "U1", "--name", NAME, "--phone", PHONE,
                    "--id-number", "11010519491231002X")
    cli("applications", "approve", _id(submitted.output))
    out = cli.tmp / "u1.json"
    assert cli("privacy", "export", "U1", "--output", out).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text())
    assert document["applications"][0]["phone"] == PHONE
    assert cli("privacy", "erase", "U1", input="n\n").exit_code == 1  # asked, declined
    erased = cli("privacy", "erase", "U1", "--yes", "--reason", "ticket 7")
    assert erased.exit_code == 0 and "applications 1" in erased.output
    after = json.loads(cli("privacy", "export", "U1").output)
    assert after["applications"][0]["phone"] is None
    assert [a["action"] for a in after["audit"]][-2:] == ["privacy.exported", "privacy.erased"]
    assert cli("privacy", "erase", "nobody", "--yes").exit_code == 2


def test_rotation_at_the_terminal(cli, monkeypatch):
    submitted = cli("applications", "submit", "--user", "U1", "--name", NAME, "--phone", PHONE)
    old = (cli.tmp / "keys" / "data.keys").read_text().strip()
    new = cli("privacy", "keygen").output.strip()
    monkeypatch.setenv("FENRUN_DATA_KEYS", f"{new},{old}")
    rotated = cli("privacy", "rotate")
    assert rotated.exit_code == 0 and "0 left" in rotated.output
    assert "3 values" in rotated.output  # the name, the phone and the phone's index
    assert "drop the older keys" in rotated.output
    monkeypatch.setenv("FENRUN_DATA_KEYS", new)
    assert cli("applications", "show", _id(submitted.output)).exit_code == 0


def test_the_wrong_key_names_the_key_it_needs(cli, monkeypatch):
    cli("applications", "submit", "--user", "U1", "--name", NAME, "--phone", PHONE)
    monkeypatch.setenv("FENRUN_DATA_KEYS", cli("privacy", "keygen").output.strip())
    result = cli("applications", "list")
    assert result.exit_code == 2
    assert "application.name: encrypted with data key" in result.output
    assert "which is not configured" in result.output and NAME not in result.output


@pytest.mark.integration
def test_production_books_without_a_key_refuse_clearly(cli, monkeypatch, postgres_url):
    monkeypatch.setenv("FENRUN_DATABASE_URL", postgres_url)
    assert cli("db", "upgrade").exit_code == 0
    result = cli("applications", "list")
    assert result.exit_code == 2
    assert "FENRUN_DATA_KEYS is not set" in result.output
    assert not (cli.tmp / "keys" / "data.keys").exists()  # nothing generated for production
