"""A person's rights over their data: export everything held about them, erase their personal
fields; and re-encrypting every stored value under the newest key (key rotation).

Export gathers, for one person id (a user who applied, a promoter, a customer who used a link):
their applications with personal fields decrypted, invite codes, uses of invite links, the
books' record of them as a promoter (joined, parent, balances) and as a customer (binding,
orders), and the audit trail about them. Erase sets the personal fields to NULL (names, phones,
ID numbers, documents, device and IP indexes); the ledger's amounts and ids stay, as accounting
law requires, and so do the audit rows (which hold no personal value). Both are audited.

Other modules that store personal data add a section to `SECTIONS`, an eraser to `ERASERS` and
their columns to `ENCRYPTED`, so export, erase and rotation cover them with no other change
(payees, `settlement.payees`, are covered so).

Money on its way to a payee: a person whose withdrawal is still waiting for a reviewer, approved
but not yet settled by the bank (sent in a batch or not), or who has a payout line in a batch the
bank has not answered, cannot be erased yet: the erase is refused whole (`ErasureRefused`, naming
each withdrawal or payout), nothing is changed. The payee's details are what that money needs to
reach them (the batch file is written and may be downloaded again from them), and keeping them
until the payment settles is the legal obligation the erasure waits for. Reject the request, or
apply the bank's result, then erase. Paid payouts not yet in a batch do not block: an erased
payee is retired, so the next batch leaves them out and reports that the promoter has no payee.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, update

from settlement import applications as apps
from settlement import finance_tables as f
from settlement import payees, people_audit
from settlement import people_tables as pt
from settlement import tables as t
from settlement.bank_batches import LineSource, LineStatus
from settlement.errors import NotFound
from settlement.invite_codes import codes_of
from settlement.money import format_amount
from settlement.payouts import lock_disbursements
from settlement.people_books import bound_promoter, promoter_status
from settlement.people_errors import ErasureRefused
from settlement.personal_data import DataCipher
from settlement.read_accounts import books_currencies, promoter_balances
from settlement.service import in_transaction
from settlement.withdrawals import WithdrawalStatus

MAX_ROWS_PER_SECTION = 10_000
MAX_BLOCKERS_NAMED = 10  # an erase refused for money in flight names at most this many
ROTATE_BATCH = 500  # rows per transaction: bounds lock time while rotating a large table
ERASED_REASON = "erased at the person's request before a decision"

Section = Callable[[Connection, DataCipher, str], Any]
Eraser = Callable[[Connection, str, datetime], int]  # returns the rows it erased


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _applications(conn: Connection, cipher: DataCipher, person_id: str) -> list[dict[str, Any]]:
    found = apps.list_applications(conn, cipher, user_id=person_id, limit=MAX_ROWS_PER_SECTION)
    return [{**a.masked(), "name": a.name, "phone": a.phone, "id_number": a.id_number,
             "documents": list(a.documents)} for a in found]


def _invite_codes(conn: Connection, cipher: DataCipher, person_id: str) -> list[dict[str, Any]]:
    return [{"code": c.code, "created_at": _when(c.created_at), "created_by": c.created_by,
             "revoked_at": _when(c.revoked_at), "revoke_reason": c.revoke_reason}
            for c in codes_of(conn, person_id)]


def _link_uses(conn: Connection, cipher: DataCipher, person_id: str) -> list[dict[str, Any]]:
    u = pt.invite_uses.c
    rows = conn.execute(select(u.at, u.kind, u.code, u.promoter_id, u.channel, u.content_id)
                        .where(u.customer_id == person_id).order_by(u.at)
                        .limit(MAX_ROWS_PER_SECTION))
    return [{"at": _when(r.at), "kind": r.kind, "code": r.code, "promoter_id": r.promoter_id,
             "channel": r.channel, "content_id": r.content_id} for r in rows]


def _as_promoter(conn: Connection, cipher: DataCipher, person_id: str) -> dict[str, Any] | None:
    status = promoter_status(conn, person_id)
    if status is None:
        return None
    balances = {}
    for currency in books_currencies(conn):
        b = promoter_balances(conn, currency, [person_id]).get(person_id)
        if b is not None:
            balances[currency] = {
                "pending": format_amount(b.pending_minor, currency),
                "available": format_amount(b.available_minor, currency),
                "paid": format_amount(b.paid_minor, currency),
                "clawback": format_amount(b.clawback_minor, currency)}
    return {"joined_at": _when(status.joined_at), "parent_id": status.parent_id,
            "suspended": status.suspended, "balances": balances}


def _as_customer(conn: Connection, cipher: DataCipher, person_id: str) -> dict[str, Any]:
    o = t.orders.c
    orders = conn.execute(select(o.order_id, o.paid_at, o.currency, o.gross_minor,
                                 o.refunded_minor).where(o.customer_id == person_id)
                          .order_by(o.paid_at).limit(MAX_ROWS_PER_SECTION))
    return {"bound_to": bound_promoter(conn, person_id),
            "orders": [{"order_id": r.order_id, "paid_at": _when(r.paid_at),
                        "currency": r.currency, "paid": format_amount(r.gross_minor, r.currency),
                        "refunded": format_amount(r.refunded_minor, r.currency)}
                       for r in orders]}


def _audit(conn: Connection, cipher: DataCipher, person_id: str) -> list[dict[str, Any]]:
    return [{"at": _when(r.at), "actor": r.actor, "action": r.action, "object_id": r.object_id,
             "detail": r.detail} for r in people_audit.about(conn, person_id)]


SECTIONS: dict[str, Section] = {
    "applications": _applications,
    "invite_codes": _invite_codes,
    "invite_link_uses": _link_uses,
    "promoter": _as_promoter,
    "customer": _as_customer,
    "payees": payees.export_payees,
    "audit": _audit,
}


def _known(conn: Connection, person_id: str) -> bool:
    a, u = pt.promoter_applications.c, pt.invite_uses.c
    return (promoter_status(conn, person_id) is not None
            or conn.execute(select(a.application_id).where(a.user_id == person_id)).first()
            is not None
            or conn.execute(select(u.use_id).where(u.customer_id == person_id)).first()
            is not None)


def export_person(conn: Connection, cipher: DataCipher, person_id: str, actor: str,
                  at: datetime) -> dict[str, Any]:
    """Everything held about one person, personal fields decrypted, as a JSON-ready document;
    audited (the export itself is in the trail of the next export)."""
    if not _known(conn, person_id):
        raise NotFound(f"person_id: nothing is held about {person_id!r}")
    document: dict[str, Any] = {"person_id": person_id, "exported_at": at.isoformat()}
    for name, section in SECTIONS.items():
        document[name] = section(conn, cipher, person_id)
    people_audit.record(conn, at, actor, "privacy.exported", person_id)
    return document


def _erase_applications(conn: Connection, person_id: str, at: datetime) -> int:
    a = pt.promoter_applications.c
    conn.execute(update(pt.promoter_applications).where(
        a.user_id == person_id, a.status == apps.PENDING).values(
        status=apps.REJECTED, decided_at=at, decided_by="privacy.erase", reason=ERASED_REASON))
    return conn.execute(update(pt.promoter_applications).where(
        a.user_id == person_id, a.erased_at.is_(None)).values(
        name_token=None, phone_token=None, phone_index=None, id_number_token=None,
        documents_token=None, device_index=None, ip_index=None, erased_at=at)).rowcount


def _erase_link_uses(conn: Connection, person_id: str, at: datetime) -> int:
    u = pt.invite_uses.c
    return conn.execute(update(pt.invite_uses).where(
        u.customer_id == person_id,
        (u.device_index.is_not(None)) | (u.ip_index.is_not(None))).values(
        device_index=None, ip_index=None)).rowcount


ERASERS: dict[str, Eraser] = {
    "applications": _erase_applications,
    "invite_link_uses": _erase_link_uses,
    "payees": payees.erase_payees,
}


def money_in_flight(conn: Connection, person_id: str) -> list[str]:
    """What is on its way to the person's payees and still needs their details (see the module
    docstring), one phrase each, at most `MAX_BLOCKERS_NAMED`; empty when erasure may go on."""
    w, line = f.withdrawals.c, f.bank_lines.c
    found = []
    for w_id, status, batch_id in conn.execute(
            select(w.withdrawal_id, w.status, w.batch_id).where(
                w.promoter_id == person_id,
                w.status.in_((WithdrawalStatus.REQUESTED, WithdrawalStatus.APPROVED)))
            .order_by(w.withdrawal_id).limit(MAX_BLOCKERS_NAMED)):
        if status == WithdrawalStatus.REQUESTED:
            found.append(f"withdrawal {w_id} is waiting for a reviewer (reject it first)")
        elif batch_id is None:
            found.append(f"withdrawal {w_id} is approved and not yet sent to the bank")
        else:
            found.append(f"withdrawal {w_id} was sent in bank batch {batch_id}, "
                         "awaiting the bank's result")
    for source_id, batch_id in conn.execute(
            select(line.source_id, line.batch_id).where(
                line.promoter_id == person_id, line.source == LineSource.PAYOUT,
                line.status == LineStatus.SENT)
            .order_by(line.batch_id, line.line_id).limit(MAX_BLOCKERS_NAMED)):
        found.append(f"payout {source_id} was sent in bank batch {batch_id}, "
                     "awaiting the bank's result")
    return found[:MAX_BLOCKERS_NAMED]


def erase_person(conn: Connection, person_id: str, actor: str, reason: str | None,
                 at: datetime) -> dict[str, int]:
    """Erase one person's personal fields everywhere (rows erased per kind); ledger amounts and
    ids are kept. A pending application is closed as rejected (it can no longer be reviewed).
    Erasing twice erases nothing the second time, and is audited both times. Refused whole
    (`ErasureRefused`) while money is on its way to the person's payee (`money_in_flight`)."""
    if not _known(conn, person_id):
        raise NotFound(f"person_id: nothing is held about {person_id!r}")
    lock_disbursements(conn)  # no withdrawal or batch starts between this check and the erase
    in_flight = money_in_flight(conn, person_id)
    if in_flight:
        raise ErasureRefused(f"person_id: {person_id!r} cannot be erased while money is on its "
                             f"way to their payee: {'; '.join(in_flight)}; erase once the bank's "
                             "result settles it (nothing was erased)")
    erased = {name: eraser(conn, person_id, at) for name, eraser in ERASERS.items()}
    detail = ", ".join(f"{name} {count}" for name, count in erased.items())
    people_audit.record(conn, at, actor, "privacy.erased", person_id, None,
                        f"{detail}; {reason}" if reason else detail)
    return erased


@dataclass(frozen=True, slots=True)
class EncryptedColumns:
    """Where a table keeps tokens (column -> context) and blind indexes of them
    (index column -> (token column, context)), keyed by a sortable primary key column."""

    table: Table
    key: str
    tokens: dict[str, str]
    indexes: dict[str, tuple[str, str]] = field(default_factory=dict)


ENCRYPTED: list[EncryptedColumns] = [
    EncryptedColumns(pt.promoter_applications, "application_id",
                     {"name_token": apps.NAME, "phone_token": apps.PHONE,
                      "id_number_token": apps.ID_NUMBER, "documents_token": apps.DOCUMENTS},
                     {"phone_index": ("phone_token", apps.PHONE)}),
    EncryptedColumns(f.payees, "payee_id",
                     {"holder_name_sealed": payees.HOLDER_CONTEXT,
                      "account_sealed": payees.ACCOUNT_CONTEXT}),
]


def _erased(token: str | None) -> bool:
    """No value to rotate: NULL, or "" (an erased payee's columns, which are NOT NULL)."""
    return not token


@dataclass
class Rotation:
    """What `rotate_keys` did: values re-encrypted or re-indexed, and what still is not under
    the newest key (0 when the old key may be dropped)."""

    rotated: int = 0
    left: int = 0


def _rotated_row(cipher: DataCipher, spec: EncryptedColumns, row: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, context in spec.tokens.items():
        token = row[column]
        if not _erased(token) and not cipher.is_current(token):
            values[column] = cipher.rotate(token, context)
    for column, (token_column, context) in spec.indexes.items():
        token = row[token_column]
        if not _erased(token) and row[column] is not None:
            index = cipher.blind_index(cipher.decrypt(token, context), context)
            if index != row[column]:
                values[column] = index
    return values


def _rotate_batch(engine: Engine, cipher: DataCipher, spec: EncryptedColumns,
                  after: Any) -> tuple[Any, int, int]:
    key = spec.table.c[spec.key]

    def work(conn: Connection) -> tuple[Any, int, int]:
        query = select(spec.table).order_by(key).limit(ROTATE_BATCH)
        rows = conn.execute(query if after is None else query.where(key > after)).all()
        changed = 0
        for row in rows:
            values = _rotated_row(cipher, spec, row._mapping)
            if values:
                conn.execute(update(spec.table).where(key == row._mapping[spec.key])
                             .values(**values))
                changed += len(values)
        return (rows[-1]._mapping[spec.key] if rows else None), len(rows), changed

    return in_transaction(engine, work)


def not_current(conn: Connection, cipher: DataCipher) -> int:
    """How many stored tokens are under a key other than the newest."""
    prefix = f"pd1:{cipher.current_key_id}:%"
    total = 0
    for spec in ENCRYPTED:
        for column in spec.tokens:
            c = spec.table.c[column]
            total += int(conn.execute(select(func.count()).where(
                c.is_not(None), c != "", c.not_like(prefix))).scalar_one())
    return total


def rotate_keys(engine: Engine, cipher: DataCipher, actor: str, at: datetime) -> Rotation:
    """Re-encrypt every token and recompute every blind index under the newest key, a batch of
    `ROTATE_BATCH` rows per transaction; safe to stop and rerun (current values are skipped)."""
    result = Rotation()
    for spec in ENCRYPTED:
        after: Any = None
        while True:
            after, seen, changed = _rotate_batch(engine, cipher, spec, after)
            result.rotated += changed
            if seen < ROTATE_BATCH:
                break
    with engine.begin() as conn:
        result.left = not_current(conn, cipher)
        people_audit.record(conn, at, actor, "privacy.rotated", "*", cipher.current_key_id,
                            f"values rotated {result.rotated}, left {result.left}")
    return result
