"""What a plans v2 order was fixed with when it was paid, reused by every refund of it.

Attribution shares, chains and suspensions are the order's beneficiaries (as before); the rest is
here: the merchant tier's take rate, the payment channel, each beneficiary's grade, each level-1
promoter's ladder position at the start of the order, each beneficiary's day allowance, the
regional agent, and the lines' quantities. Only the remaining line amounts change on a refund.
Stored inside the order's allocation JSON (`terms`), so an order of a v1 plan stores nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True, slots=True)
class OrderTerms:
    take: Fraction | None = None  # the merchant tier's take rate; None: the plan's own rates
    channel: str | None = None  # payment channel whose fee the merchant bears
    grades: dict[str, str] = field(default_factory=dict)  # beneficiary -> grade in force
    # level-1 promoter -> its month's attributed GMV before this order (int while whole)
    ladder_start: dict[str, Fraction | int] = field(default_factory=dict)
    allowances: dict[str, int] = field(default_factory=dict)  # beneficiary -> day allowance
    agent: str | None = None  # the regional agent paid on this order
    region: str | None = None
    quantities: dict[str, int] = field(default_factory=dict)  # sku -> units, where not 1

    def to_json(self) -> dict[str, Any]:
        return {
            "take": None if self.take is None else _text(self.take),
            "channel": self.channel, "grades": self.grades,
            "ladder": {pid: _text(value) for pid, value in self.ladder_start.items()},
            "allow": self.allowances, "agent": self.agent, "region": self.region,
            "qty": self.quantities,
        }

    @staticmethod
    def from_json(raw: dict[str, Any]) -> OrderTerms:
        return OrderTerms(
            take=None if raw["take"] is None else Fraction(raw["take"]),
            channel=raw["channel"], grades=raw["grades"],
            ladder_start={pid: _number(v) for pid, v in raw["ladder"].items()},
            allowances=raw["allow"], agent=raw["agent"], region=raw.get("region"),
            quantities=raw["qty"])


def _text(value: Fraction | int) -> str:
    return f"{value.numerator}/{value.denominator}"


def _number(text: str) -> Fraction | int:
    value = Fraction(text)
    return value.numerator if value.denominator == 1 else value
