"""What a payout's `status` and `hold_reason` columns may hold (stored as these strings)."""

from __future__ import annotations

from enum import StrEnum


class PayoutStatus(StrEnum):
    PAID = "paid"  # left the books at once, or approved by a person
    AWAITING_APPROVAL = "awaiting_approval"  # waits for a person (see HoldReason)
    REJECTED = "rejected"  # a person said no; the balance stayed available
    FAILED = "failed"  # the bank failed its line: reversed, the balance is available again


class HoldReason(StrEnum):
    REVIEW_LIMIT = "review_limit"  # the sum is above the plan's review limit
    # the promoter was on the anomaly flag list: payouts before issue 14 only (a score alone
    # holds nothing now; open risk cases keep back their money, see `kept_back_reason`)
    RISK_REVIEW = "risk_review"
