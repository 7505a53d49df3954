"""A promoter's ledger lines: the postings on their accounts with the entry each belongs to,
filtered and paged by posting id (keyset paging: a page never repeats or skips a line when new
postings arrive, since posting ids only grow)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, select

from settlement import tables as t
from settlement.read_accounts import PROMOTER_ACCOUNTS

MAX_PAGE = 10_000


class LedgerLine(NamedTuple):
    posting_id: int
    entry_id: str
    kind: str  # EntryKind
    occurred_at: datetime
    event_id: str | None
    account_kind: str
    currency: str
    amount_minor: int  # raw, debit positive


def promoter_lines(conn: Connection, promoter_id: str, *, limit: int, after: int | None = None,
                   account_kind: str | None = None, entry_kind: str | None = None,
                   since: datetime | None = None, until: datetime | None = None
                   ) -> list[LedgerLine]:
    """Up to `limit` lines with posting id above `after`, oldest posting first; `since` and
    `until` bound the entry's instant (inclusive, exclusive)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit: {limit} must be between 1 and {MAX_PAGE}")
    p, j = t.postings.c, t.journal_entries.c
    query = (select(p.posting_id, p.entry_id, j.kind, j.occurred_at, j.event_id, p.account_kind,
                    p.currency, p.amount_minor)
             .select_from(t.postings.join(t.journal_entries, j.entry_id == p.entry_id))
             .where(p.owner_id == promoter_id, p.account_kind.in_(PROMOTER_ACCOUNTS))
             .order_by(p.posting_id).limit(limit))
    if after is not None:
        query = query.where(p.posting_id > after)
    if account_kind is not None:
        query = query.where(p.account_kind == account_kind)
    if entry_kind is not None:
        query = query.where(j.kind == entry_kind)
    if since is not None:
        query = query.where(j.occurred_at >= since)
    if until is not None:
        query = query.where(j.occurred_at < until)
    return [LedgerLine(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]))
            for r in conn.execute(query)]


def promoter_known(conn: Connection, promoter_id: str) -> bool:
    """Whether the promoter joined (is in the books)."""
    return conn.execute(select(t.promoters.c.promoter_id)
                        .where(t.promoters.c.promoter_id == promoter_id)).first() is not None
