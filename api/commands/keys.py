"""`fenrun keys create|list|revoke`: API keys of the HTTP API, one role each.

The full key is printed once, at creation; the books keep only its SHA-256 (`settlement.api_keys`).
A revoked key stops working within the API's key cache time (`FENRUN_API_KEY_CACHE_S`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.common import cli_actor, fail, open_books
from settlement.api_keys import ROLES, create_key, list_keys, revoke_key
from settlement.errors import SettlementError

keys_app = typer.Typer(help="API keys of the HTTP API.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help=f"one of {', '.join(ROLES)}")],
    name: Annotated[str, typer.Option("--name", help="who uses it (shown as who decided)")],
) -> None:
    """Create a key and print it once; store it now, it cannot be shown again."""
    engine = open_books()
    try:
        with engine.begin() as conn:
            key, text = create_key(conn, role, name, created_by=cli_actor())
    except SettlementError as error:
        fail(str(error))
    typer.echo(f"key {key.key_id} ({key.role}, {key.name}); shown once, store it now:")
    typer.echo(text)


@keys_app.command("list")
def keys_list() -> None:
    """Every key: id, role, name, created, revoked (never the secret)."""
    with open_books(create=False).connect() as conn:
        keys = list_keys(conn)
    typer.echo(f"{'key_id':<18}{'role':<9}{'name':<24}{'created_at':<27}revoked_at")
    for key in keys:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
        typer.echo(f"{key.key_id:<18}{key.role:<9}{key.name:<24}"
                   f"{key.created_at.isoformat(timespec='seconds'):<27}{revoked}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="the key's id (fr_<id>_...)")]) -> None:
    """Revoke a key; it is kept, marked revoked, for the record."""
    try:
        with open_books(create=False).begin() as conn:
            key = revoke_key(conn, key_id)
    except SettlementError as error:
        fail(str(error))
    typer.echo(f"key {key.key_id} ({key.role}, {key.name}) revoked at {key.revoked_at}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
