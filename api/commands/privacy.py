"""`fenrun privacy keygen|export|erase|rotate`: keys for personal data, and a person's rights.

`export PERSON` prints (or writes, mode 0600) everything held about one person, decrypted, as
JSON: the one output besides the bank file that shows personal values, so it is audited.
`erase PERSON` removes their personal fields and keeps the ledger's amounts and ids. `rotate`
re-encrypts every stored value under the newest key (settlement/README.md, "Personal data").
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.common import cli_actor, fail, open_books, open_cipher
from api.exits import exit_codes

privacy_app = typer.Typer(help="Personal data: keys, export, erasure.", no_args_is_help=True)


@privacy_app.command("keygen")
def keygen_command() -> None:
    """Print a new personal-data key for FENRUN_DATA_KEYS (put it first; keep the old one
    listed until `fenrun privacy rotate` reports nothing left)."""
    from settlement.personal_data import generate_key

    typer.echo(generate_key())


@privacy_app.command("export")
def export_command(
    person: Annotated[str, typer.Argument(help="a user, promoter or customer id")],
    output: Annotated[Path | None, typer.Option(
        "--output", help="write the JSON here (mode 0600) instead of stdout")] = None,
) -> None:
    """Everything held about one person, personal fields decrypted, as JSON; audited."""
    from settlement.privacy import export_person

    engine, cipher = open_books(create=False), open_cipher()
    with exit_codes(), engine.begin() as conn:
        document = export_person(conn, cipher, person, cli_actor(), datetime.now(UTC))
    text = json.dumps(document, indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
        return
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    except OSError as error:
        fail(f"--output: cannot write {output}: {error.strerror}", code=1)
    typer.echo(f"export of {person} written to {output}", err=True)


@privacy_app.command("erase")
def erase_command(
    person: Annotated[str, typer.Argument(help="a user, promoter or customer id")],
    reason: Annotated[str | None, typer.Option("--reason", help="the request it answers")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="erase without asking")] = False,
) -> None:
    """Erase one person's personal fields; the ledger's amounts and ids stay. Audited."""
    from settlement.privacy import erase_person

    if not yes and not typer.confirm(f"erase the personal data of {person}? it cannot be undone"):
        fail("nothing erased", code=1)
    engine = open_books(create=False)
    with exit_codes(), engine.begin() as conn:
        erased = erase_person(conn, person, cli_actor(), reason, datetime.now(UTC))
    typer.echo(f"erased {person}: " + ", ".join(f"{k} {v}" for k, v in erased.items())
               + "; ledger amounts and ids kept")


@privacy_app.command("rotate")
def rotate_command() -> None:
    """Re-encrypt every stored personal value under the newest key of FENRUN_DATA_KEYS."""
    from settlement.privacy import rotate_keys

    engine, cipher = open_books(create=False), open_cipher()
    with exit_codes():
        done = rotate_keys(engine, cipher, cli_actor(), datetime.now(UTC))
    typer.echo(f"{done.rotated} values re-encrypted or re-indexed under key "
               f"{cipher.current_key_id}; {done.left} left under other keys")
    if done.left:
        raise typer.Exit(1)
    if len(cipher.key_ids) > 1:
        typer.echo("every value is under the newest key: drop the older keys from "
                   "FENRUN_DATA_KEYS after a day (the daily limits still count device and IP "
                   "indexes made under them)")


def register(app: typer.Typer) -> None:
    app.add_typer(privacy_app, name="privacy")
