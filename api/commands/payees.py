"""`fenrun payees add|list`: where a promoter's withdrawals and payouts are paid.

The holder's name and the account are personal data: asked for at a hidden prompt unless given
(so they stay out of the shell history), stored encrypted (`settlement.payees`), and printed
masked; only the bank batch file carries them in clear.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.common import cli_actor, open_books
from api.exits import exit_codes
from settlement.config import SettlementSettings
from settlement.payees import Payee, PayeeMethod, add_payee, list_payees
from settlement.personal_data import DataCipher, DataKeySettings, is_embedded, load_cipher

payees_app = typer.Typer(help="Payees: where promoters are paid.", no_args_is_help=True)
METHODS = ", ".join(m.value for m in PayeeMethod)


def open_cipher(settings: SettlementSettings | None = None) -> DataCipher:
    """The personal-data cipher for the configured books (FENRUN_DATA_KEYS; see settlement)."""
    url = (settings or SettlementSettings()).database_url
    with exit_codes():
        return load_cipher(DataKeySettings(), embedded=is_embedded(url))


def print_payees(payees: list[Payee]) -> None:
    typer.echo(f"{'payee_id':>8} {'promoter':<20} {'method':<10} {'holder':<12} "
               f"{'account':<24} {'bank':<16} status")
    for p in payees:
        status = f"retired {p.retired_at:%Y-%m-%d}" if p.retired_at else "active"
        typer.echo(f"{p.payee_id:>8} {p.promoter_id:<20} {p.method:<10} {p.holder_masked:<12} "
                   f"{p.account_masked:<24} {p.bank_name or '-':<16} {status}")


@payees_app.command("add")
def payees_add(
    promoter_id: Annotated[str, typer.Argument(help="a joined promoter")],
    method: Annotated[str, typer.Option("--method", help=METHODS)],
    holder_name: Annotated[str, typer.Option("--name", prompt="holder name", hide_input=True,
                                             help="the account holder's real name")],
    account: Annotated[str, typer.Option("--account", prompt="account", hide_input=True,
                                         help="card number or WeChat/Alipay account")],
    bank: Annotated[str | None, typer.Option("--bank", help="the card's bank")] = None,
) -> None:
    """Give a promoter a new payee (its previous one is retired)."""
    settings = SettlementSettings()
    engine = open_books(settings, create=False)
    cipher = open_cipher(settings)
    with exit_codes(), engine.begin() as conn:
        payee = add_payee(conn, cipher, promoter_id, method, holder_name, account, bank,
                          cli_actor(), datetime.now(UTC))
    print_payees([payee])


@payees_app.command("list")
def payees_list(
    promoter_id: Annotated[str | None, typer.Option("--promoter", help="one promoter")] = None,
) -> None:
    """Payees, newest first, masked."""
    with open_books(create=False).connect() as conn:
        print_payees(list_payees(conn, promoter_id))


def register(app: typer.Typer) -> None:
    app.add_typer(payees_app, name="payees")
