"""Where a promoter's money goes: a WeChat Pay, Alipay or bank card payee, stored sealed.

The holder's name and the account number are personal data: they are stored only as tokens of
`settlement.personal_data` (bound to their column) plus their masks (`settlement.masking`), so
every listing shows `张*` / `****0123` without a key, and only the bank batch file
(`payee_details`) decrypts them. A promoter has one active payee; adding another retires the
previous one (kept for the audit trail of what was paid where). A payee no withdrawal was ever
paid to is *new*: the first withdrawal to it waits for a reviewer (`settlement.withdrawals`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select, update

from settlement import finance_tables as f
from settlement import tables as t
from settlement.errors import InvalidPayee, NotFound
from settlement.masking import mask_account, mask_name
from settlement.personal_data import DataCipher

HOLDER_CONTEXT = "payee.holder_name"
ACCOUNT_CONTEXT = "payee.account"
MAX_NAME_CHARS = 100
MAX_ACCOUNT_CHARS = 100
MAX_BANK_CHARS = 100
_CARD = re.compile(r"^\d{12,19}$")  # bank card numbers (UnionPay 16-19; some 12-15)
_WALLET = re.compile(r"^[\w.@+\-]{3,100}$")  # a WeChat or Alipay id, phone or e-mail


class PayeeMethod(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    BANK_CARD = "bank_card"


@dataclass(frozen=True, slots=True)
class Payee:
    """A payee as every output shows it: masked."""

    payee_id: int
    promoter_id: str
    method: str
    holder_masked: str
    account_masked: str
    bank_name: str | None
    created_at: datetime
    created_by: str
    retired_at: datetime | None


class PayeeDetails(NamedTuple):
    """The clear values, for the bank file only: never printed, logged or served."""

    holder_name: str
    account: str
    bank_name: str | None


def _check(method: str, holder_name: str, account: str, bank_name: str | None) -> str:
    """The normalised account, or InvalidPayee naming the field (never echoing the value)."""
    if method not in PayeeMethod.__members__.values():
        raise InvalidPayee(f"method: {method!r} must be one of "
                           f"{', '.join(m.value for m in PayeeMethod)}")
    if not holder_name.strip() or len(holder_name) > MAX_NAME_CHARS:
        raise InvalidPayee(f"holder_name: must be 1 to {MAX_NAME_CHARS} characters")
    normalised = account.strip()
    if method == PayeeMethod.BANK_CARD:
        normalised = normalised.replace(" ", "")  # cards are written in groups of four
        if not _CARD.match(normalised):
            raise InvalidPayee("account: a bank card number is 12 to 19 digits")
        if not bank_name or not bank_name.strip() or len(bank_name) > MAX_BANK_CHARS:
            raise InvalidPayee(f"bank_name: a bank card needs its bank (1 to {MAX_BANK_CHARS} "
                               "characters)")
    elif bank_name is not None:
        raise InvalidPayee(f"bank_name: only a bank card has a bank, not {method}")
    elif not _WALLET.match(normalised):
        raise InvalidPayee(f"account: a {method} account is 3 to {MAX_ACCOUNT_CHARS} letters, "
                           "digits or . @ + - _")
    return normalised


def add_payee(conn: Connection, cipher: DataCipher, promoter_id: str, method: str,
              holder_name: str, account: str, bank_name: str | None, created_by: str,
              at: datetime) -> Payee:
    """Store a new active payee for a joined promoter, retiring its previous one."""
    normalised = _check(method, holder_name, account, bank_name)
    known = conn.execute(select(t.promoters.c.promoter_id)
                         .where(t.promoters.c.promoter_id == promoter_id)).first()
    if known is None:
        raise NotFound(f"promoter_id: {promoter_id!r} has not joined")
    c = f.payees.c
    conn.execute(update(f.payees).where(c.promoter_id == promoter_id, c.retired_at.is_(None))
                 .values(retired_at=at))
    payee_id = conn.execute(f.payees.insert().values(
        promoter_id=promoter_id, method=method,
        holder_name_sealed=cipher.encrypt(holder_name.strip(), HOLDER_CONTEXT),
        account_sealed=cipher.encrypt(normalised, ACCOUNT_CONTEXT),
        bank_name=bank_name.strip() if bank_name else None,
        holder_masked=mask_name(holder_name) or "", account_masked=mask_account(normalised) or "",
        created_at=at, created_by=created_by,
    ).returning(c.payee_id)).scalar_one()
    return get_payee(conn, int(payee_id))


_MASKED = (f.payees.c.payee_id, f.payees.c.promoter_id, f.payees.c.method,
           f.payees.c.holder_masked, f.payees.c.account_masked, f.payees.c.bank_name,
           f.payees.c.created_at, f.payees.c.created_by, f.payees.c.retired_at)


def _payee(row: Any) -> Payee:
    m = row._mapping
    return Payee(**{name: m[name] for name in Payee.__slots__})  # type: ignore[arg-type]


def get_payee(conn: Connection, payee_id: int) -> Payee:
    row = conn.execute(select(*_MASKED).where(f.payees.c.payee_id == payee_id)).first()
    if row is None:
        raise NotFound(f"payee_id: no payee {payee_id}")
    return _payee(row)


def active_payee(conn: Connection, promoter_id: str) -> Payee | None:
    """The promoter's current payee, or None if it never gave one."""
    c = f.payees.c
    row = conn.execute(select(*_MASKED).where(c.promoter_id == promoter_id,
                                              c.retired_at.is_(None))).first()
    return None if row is None else _payee(row)


def list_payees(conn: Connection, promoter_id: str | None = None,
                limit: int = 1000) -> list[Payee]:
    """Payees (masked), newest first, at most `limit`."""
    query = select(*_MASKED).order_by(f.payees.c.payee_id.desc()).limit(limit)
    if promoter_id is not None:
        query = query.where(f.payees.c.promoter_id == promoter_id)
    return [_payee(row) for row in conn.execute(query)]


def payee_details(conn: Connection, cipher: DataCipher, payee_id: int) -> PayeeDetails:
    """The clear name and account of a payee: only the bank file calls this."""
    c = f.payees.c
    row = conn.execute(select(c.holder_name_sealed, c.account_sealed, c.bank_name)
                       .where(c.payee_id == payee_id)).first()
    if row is None:
        raise NotFound(f"payee_id: no payee {payee_id}")
    return PayeeDetails(cipher.decrypt(row[0], HOLDER_CONTEXT),
                        cipher.decrypt(row[1], ACCOUNT_CONTEXT), row[2])


ERASED = "(erased)"


def export_payees(conn: Connection, cipher: DataCipher, promoter_id: str) -> list[dict[str, Any]]:
    """Everything held about a promoter's payees, in clear: for the person's own privacy export
    (`fenrun privacy export`), nothing else."""
    c = f.payees.c
    rows = conn.execute(select(f.payees).where(c.promoter_id == promoter_id)
                        .order_by(c.payee_id))
    out = []
    for row in rows:
        erased = row.account_masked == ERASED
        out.append({
            "payee_id": row.payee_id, "method": row.method, "bank_name": row.bank_name,
            "holder_name": None if erased else cipher.decrypt(row.holder_name_sealed,
                                                              HOLDER_CONTEXT),
            "account": None if erased else cipher.decrypt(row.account_sealed, ACCOUNT_CONTEXT),
            "created_at": row.created_at.isoformat(), "created_by": row.created_by,
            "retired_at": row.retired_at.isoformat() if row.retired_at else None})
    return out


def erase_payees(conn: Connection, promoter_id: str, at: datetime) -> int:
    """Erase the personal fields of a promoter's payees (`fenrun privacy erase`): name and account
    gone, sealed and masked; the rows, ids and the amounts paid to them stay, as accounting law
    requires. An erased payee is retired: nothing can be sent to it any more."""
    c = f.payees.c
    return int(conn.execute(update(f.payees).where(c.promoter_id == promoter_id).values(
        holder_name_sealed="", account_sealed="", holder_masked=ERASED, account_masked=ERASED,
        retired_at=func.coalesce(c.retired_at, at))).rowcount)
