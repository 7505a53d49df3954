"""Errors of the promoter lifecycle's people side; each a `SettlementError` with a stable code,
mapped once to an HTTP status (api/errors.py) and an exit code (api/exits.py).

Messages name the field and say why; they never repeat a personal value (a phone, a name, an ID
number), since error messages end up in terminals, HTTP answers and logs.
"""

from __future__ import annotations

from settlement.errors import SettlementError


class InvalidPersonalData(SettlementError):
    """A field of an application or an invite use is malformed (a phone that is not one...)."""

    code = "invalid_personal_data"

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


class ApplicationRefused(SettlementError):
    """An application cannot be submitted or decided as asked (phone taken, inviter suspended,
    a requirement not met, already decided)."""

    code = "application_refused"


class InviteRefused(SettlementError):
    """An invite code cannot be used or changed as asked (revoked, already registered...)."""

    code = "invite_refused"


class TooManyAttempts(SettlementError):
    """A device or an IP address reached its limit of applications or registrations per day."""

    code = "too_many_attempts"


class ErasureRefused(SettlementError):
    """A person cannot be erased yet: money is on its way to their payee (a withdrawal waiting
    for a reviewer or the bank, a payout line the bank has not answered); the message names it."""

    code = "erasure_refused"
