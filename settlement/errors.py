"""The closed set of errors the settlement core raises.

Each carries a stable `code`; the API maps codes to HTTP statuses in one table and the CLI prints
the message. Messages name the field and the offending value so a person can fix the input.
"""

from __future__ import annotations


class SettlementError(Exception):
    """Base of every error the settlement core raises on purpose."""

    code = "settlement_error"


class InvalidEvent(SettlementError):
    """An event (or a field of it) is malformed: wrong type, missing field, bad amount."""

    code = "invalid_event"

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}: {reason} (got {value!r})")


class RejectedEvent(SettlementError):
    """A well-formed event that the current state does not allow (unknown parent, 2nd join...)."""

    code = "rejected_event"


class MissingReference(RejectedEvent):
    """The event names a promoter or order that does not exist (yet).

    The batch path rejects it; the streaming path may hold it until what it needs arrives.
    """

    code = "missing_reference"


class SelfReferral(RejectedEvent):
    """A promoter would be credited for their own purchase or be their own inviter."""

    code = "self_referral"


class EventConflict(SettlementError):
    """An `event_id` was reused with a different payload; the first delivery stands."""

    code = "event_conflict"


class PlanError(SettlementError):
    """A commission plan is invalid, or no plan version covers an instant."""

    code = "plan_error"


class PayoutError(SettlementError):
    """A payout cannot be made or approved as asked."""

    code = "payout_error"


class NotFound(SettlementError):
    """A promoter, order or payout that was asked for does not exist."""

    code = "not_found"


class LedgerInvariantBroken(SettlementError):
    """A posting set does not balance or would break an invariant; never caught and ignored."""

    code = "ledger_invariant_broken"


class RateSuggestionError(SettlementError):
    """A rate suggestion cannot be stored, decided or applied as asked (already decided, shadow
    mode, an effective instant inside the notice period...)."""

    code = "rate_suggestion_error"


class InvalidPayee(SettlementError):
    """Payee details are malformed (a card number that is not digits, no holder name...)."""

    code = "invalid_payee"


class WithdrawalRefused(SettlementError):
    """A withdrawal the rules do not allow as asked: above the available balance, below the
    minimum, over the daily count, a request key reused for another request, a wrong state."""

    code = "withdrawal_refused"


class InvalidBankFile(SettlementError):
    """A bank result file that cannot be applied (wrong columns, unknown lines, a bad status);
    nothing of it is applied."""

    code = "invalid_bank_file"
