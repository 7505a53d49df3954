"""The double-entry journal: accounts, postings and the entries each business fact produces.

Amounts are signed integers in minor units, debit positive and credit negative, and every entry sums
to zero. Entries are immutable; a correction is a new entry. Liability and income accounts are
credit-normal, so their balance as people read it is the negated sum of their postings.

How money moves:
- paid:     Dr clearing (net) / Cr merchant payable, platform revenue, promoter pending, and
            (plans v2) the payment channel's fee to its provider's payable
- refunded: Cr clearing (refund) / Dr the decrease of each party; a promoter whose commission was
            already released is clawed back through `clawback_receivable`, netted at the next payout
- released: Dr promoter pending / Cr promoter available (hold over)
- payout:   Dr promoter available, Cr clawback receivable, Cr promoter paid (the net sent out)
- withdrawal (a promoter asks for part of its available balance; `settlement.withdrawals`):
    requested: Dr promoter available / Cr promoter reserved (no longer available, not yet decided)
    approved:  Dr promoter reserved / Cr promoter in transit (decided; goes out in a bank file)
    paid:      Dr promoter in transit / Cr promoter paid (amount − fee), Cr platform revenue (fee)
    failed:    Dr promoter in transit / Cr promoter available (the bank returned it)
    rejected:  Dr promoter reserved / Cr promoter available (a reviewer said no)
- payout line failed at the bank: Dr promoter paid / Cr promoter available (the reversal)
- risk reversal (a confirmed fraud case): Dr promoter pending (the order was not released; it
            stays held) or Dr clawback receivable (released or paid: netted at the next payout)
            / Cr risk recovered (the order's merchant), per promoter and order, as a difference
            from what was reversed before, so booking it again books nothing
- guarantee top-up (promoter terms, once a guaranteed month ended; `settlement.guarantees`):
            Dr platform revenue / Cr promoter available, never taken back
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import NamedTuple

from settlement.errors import LedgerInvariantBroken
from settlement.splits import Allocation


class AccountKind(StrEnum):
    CLEARING = "clearing"  # asset: customer money the mall holds until it is distributed
    MERCHANT_PAYABLE = "merchant_payable"  # liability: owed to the merchant
    PLATFORM_REVENUE = "platform_revenue"  # income: the platform's take
    PROMOTER_PENDING = "promoter_pending"  # liability: earned, still inside the hold period
    PROMOTER_AVAILABLE = "promoter_available"  # liability: released, waiting for a payout
    PROMOTER_PAID = "promoter_paid"  # disbursed to the promoter (credit-normal tally)
    CLAWBACK_RECEIVABLE = "clawback_receivable"  # asset: released commission refunded since
    PROMOTER_RESERVED = "promoter_reserved"  # liability: a withdrawal requested, not yet decided
    PROMOTER_IN_TRANSIT = "promoter_in_transit"  # liability: approved, sent to the bank
    # liability: commission reversed on confirmed fraud, owed back to the merchant who funded it
    RISK_RECOVERED = "risk_recovered"
    PAYMENT_PROVIDER_PAYABLE = "payment_provider_payable"  # liability: fee owed to a channel


class EntryKind(StrEnum):
    """The business fact a journal entry books (stored in `journal_entries.kind`)."""

    PAID = "paid"  # an order was paid: its split is booked
    REFUNDED = "refunded"  # part of an order was refunded: the difference is booked
    RELEASED = "released"  # an order's hold ended: pending moves to available
    PAYOUT = "payout"  # a payout was sent: available (net of clawbacks) moves to paid
    PAYOUT_FAILED = "payout_failed"  # the bank failed a payout line: paid back to available
    WITHDRAWAL_REQUESTED = "wd_requested"  # available moves to reserved
    WITHDRAWAL_APPROVED = "wd_approved"  # reserved moves to in transit
    WITHDRAWAL_PAID = "wd_paid"  # in transit moves to paid (and the fee to the platform)
    WITHDRAWAL_FAILED = "wd_failed"  # in transit returns to available
    WITHDRAWAL_REJECTED = "wd_rejected"  # reserved returns to available
    RISK_REVERSAL = "risk_reversal"  # a confirmed fraud case reversed an order's commission
    GUARANTEE_TOPUP = "guarantee_topup"  # a month's guarantee topped a promoter up (guarantees.py)


CREDIT_NORMAL = frozenset(
    {
        AccountKind.MERCHANT_PAYABLE,
        AccountKind.PLATFORM_REVENUE,
        AccountKind.PROMOTER_PENDING,
        AccountKind.PROMOTER_AVAILABLE,
        AccountKind.PROMOTER_PAID,
        AccountKind.PROMOTER_RESERVED,
        AccountKind.PROMOTER_IN_TRANSIT,
        AccountKind.RISK_RECOVERED,
        AccountKind.PAYMENT_PROVIDER_PAYABLE,
    }
)
PLATFORM_OWNER = "platform"
MALL_OWNER = "mall"


class AccountKey(NamedTuple):
    kind: str
    owner_id: str
    currency: str


class Posting(NamedTuple):
    """One leg of an entry (a tuple: millions are built per settlement run)."""

    account: AccountKey
    amount_minor: int  # debit > 0, credit < 0


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of postings caused by one event (or one release or payout)."""

    entry_id: str
    kind: str
    occurred_at: datetime
    event_id: str | None
    plan_version_id: str | None
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        total = sum([amount for _account, amount in self.postings])
        if total != 0:
            raise LedgerInvariantBroken(f"entry {self.entry_id} does not balance: off by {total}")


def readable_balance(kind: str, raw_sum: int) -> int:
    """The balance as a person reads it: positive for what is owed on a credit-normal account."""
    return -raw_sum if kind in CREDIT_NORMAL else raw_sum


def _credit(kind: str, owner: str, currency: str, increase: int) -> Posting:
    return Posting(AccountKey(kind, owner, currency), -increase)


def _debit(kind: str, owner: str, currency: str, increase: int) -> Posting:
    return Posting(AccountKey(kind, owner, currency), increase)


# NamedTuples built straight from a tuple, without their Python-level __new__ (the same objects,
# at half the cost: several are built per order).
_key: Callable[[tuple[str, str, str]], AccountKey] = partial(tuple.__new__, AccountKey)
_posting: Callable[[tuple[AccountKey, int]], Posting] = partial(tuple.__new__, Posting)


def _nonzero(postings: list[Posting]) -> tuple[Posting, ...]:
    return tuple(p for p in postings if p.amount_minor != 0)


# Plain strings on the hot path (StrEnum members hash and compare slower).
_CLEARING = AccountKind.CLEARING.value
_MERCHANT_PAYABLE = AccountKind.MERCHANT_PAYABLE.value
_PLATFORM_REVENUE = AccountKind.PLATFORM_REVENUE.value
_PROMOTER_PENDING = AccountKind.PROMOTER_PENDING.value
_PROMOTER_AVAILABLE = AccountKind.PROMOTER_AVAILABLE.value
_PROMOTER_PAID = AccountKind.PROMOTER_PAID.value
_CLAWBACK_RECEIVABLE = AccountKind.CLAWBACK_RECEIVABLE.value
_PAYMENT_PROVIDER = AccountKind.PAYMENT_PROVIDER_PAYABLE.value


def allocation_postings(
    old: Allocation, new: Allocation, merchant_id: str, currency: str, released: bool
) -> tuple[Posting, ...]:
    """Postings that move the books from allocation `old` to `new` for one order.

    A payment is the move from the empty allocation; a refund is the move to the allocation of what
    remains, so posting only the difference makes a full refund return every party to zero.
    Zero legs are left out. (Built inline, without `_debit`/`_credit`: one runs per order.)
    """
    legs: list[tuple[str, str, int]] = [  # (account kind, owner, debit > 0 / credit < 0)
        (_CLEARING, MALL_OWNER, new.net_minor - old.net_minor),
        (_MERCHANT_PAYABLE, merchant_id, old.merchant_minor - new.merchant_minor),
        (_PLATFORM_REVENUE, PLATFORM_OWNER, old.platform_minor - new.platform_minor),
    ]
    if new.provider_minor != old.provider_minor:  # plans v2: the payment channel's fee
        terms = new.terms or old.terms
        channel = terms.channel if terms is not None else None
        if channel is None:
            raise LedgerInvariantBroken("a payment fee without its channel")
        legs.append((_PAYMENT_PROVIDER, channel, old.provider_minor - new.provider_minor))
    old_promoters, new_promoters = old.promoters, new.promoters
    # released: the clawback receivable is debited by what the promoter gives back
    kind = _CLAWBACK_RECEIVABLE if released else _PROMOTER_PENDING
    for promoter_id in (sorted(new_promoters.keys() | old_promoters.keys()) if old_promoters
                        else sorted(new_promoters)):
        change = new_promoters.get(promoter_id, 0) - old_promoters.get(promoter_id, 0)
        legs.append((kind, promoter_id, -change))
    return tuple(_posting((_key((kind, owner, currency)), amount))
                 for kind, owner, amount in legs if amount)


def release_postings(allocation: Allocation, currency: str) -> tuple[Posting, ...]:
    """Move each promoter's commission on one order from pending to available."""
    postings: list[Posting] = []
    for promoter_id, amount in sorted(allocation.promoters.items()):
        postings.append(_debit(_PROMOTER_PENDING, promoter_id, currency, amount))
        postings.append(_credit(_PROMOTER_AVAILABLE, promoter_id, currency, amount))
    return _nonzero(postings)


def payout_postings(
    promoter_id: str, currency: str, amount_minor: int, clawback_minor: int
) -> tuple[Posting, ...]:
    """Pay `amount_minor` out and settle the whole clawback receivable from the available balance.

    The promoter's readable available balance (available − clawback) drops by exactly the amount.
    """
    return _nonzero(
        [
            _debit(_PROMOTER_AVAILABLE, promoter_id, currency,
                   amount_minor + clawback_minor),
            _debit(_CLAWBACK_RECEIVABLE, promoter_id, currency, -clawback_minor),
            _credit(_PROMOTER_PAID, promoter_id, currency, amount_minor),
        ]
    )


_PROMOTER_RESERVED = AccountKind.PROMOTER_RESERVED.value
_PROMOTER_IN_TRANSIT = AccountKind.PROMOTER_IN_TRANSIT.value


def move_postings(promoter_id: str, currency: str, amount_minor: int, source: str,
                  target: str) -> tuple[Posting, ...]:
    """Move `amount_minor` between two of a promoter's credit-normal accounts (source decreases).

    Every withdrawal step but the payment is such a move; so is a failed payout line's reversal.
    """
    if amount_minor <= 0:
        raise LedgerInvariantBroken(f"amount_minor: a move must be positive, got {amount_minor}")
    return (_debit(source, promoter_id, currency, amount_minor),
            _credit(target, promoter_id, currency, amount_minor))


def withdrawal_paid_postings(promoter_id: str, currency: str, amount_minor: int,
                             fee_minor: int) -> tuple[Posting, ...]:
    """The bank paid a withdrawal: the promoter received amount − fee, the platform earned fee."""
    if not 0 <= fee_minor < amount_minor:
        raise LedgerInvariantBroken(
            f"fee_minor: {fee_minor} must lie in [0, amount {amount_minor})")
    return _nonzero([
        _debit(_PROMOTER_IN_TRANSIT, promoter_id, currency, amount_minor),
        _credit(_PROMOTER_PAID, promoter_id, currency, amount_minor - fee_minor),
        _credit(_PLATFORM_REVENUE, PLATFORM_OWNER, currency, fee_minor),
    ])


def risk_reversal_postings(merchant_id: str, currency: str, released: bool,
                           amounts: dict[str, int]) -> tuple[Posting, ...]:
    """Take `amounts` (promoter -> minor units, negative to give back) off each promoter's
    commission on one order: from pending when the order was not released, else as a claw-back
    receivable; the sum goes to the merchant's risk-recovered account."""
    account = _CLAWBACK_RECEIVABLE if released else _PROMOTER_PENDING
    postings = [Posting(AccountKey(account, promoter_id, currency), amount)
                for promoter_id, amount in sorted(amounts.items())]
    postings.append(_credit(AccountKind.RISK_RECOVERED.value, merchant_id, currency,
                            sum(amounts.values())))
    return _nonzero(postings)
