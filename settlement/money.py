"""Money in integer minor units, parsed from and printed as decimal strings.

Amounts never pass through float. Exact intermediate values are `fractions.Fraction`; they are
rounded once, at the end, by one of the two rules the commission plan names (down for promoters,
half-even for the platform fee).

Limits. Balances are BIGINT columns (at most 2^63 - 1, about 9.2e18 minor units), and a sum that
leaves that range becomes a REAL on SQLite and an error on PostgreSQL. So every amount is bounded
where it comes in, with room to spare:
- a line (and a refund line, a payout minimum, a review limit) at most `MAX_LINE_MINOR` = 10^12
  minor units (10,000,000,000.00 CNY);
- an order's total at most `MAX_ORDER_MINOR` = 10^13;
- an account's balance at most `MAX_BALANCE_MINOR` = 10^17 in magnitude: the settlement engine
  rejects an order that would take the clearing account (which holds every other account's
  money) beyond it, which leaves 90x headroom under BIGINT for reports that add balances up.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from settlement.errors import InvalidEvent, PlanError

# ISO 4217 minor-unit exponents for the currencies a mall is likely to settle in.
MINOR_DIGITS: dict[str, int] = {
    "CNY": 2, "HKD": 2, "TWD": 2, "USD": 2, "EUR": 2, "GBP": 2, "SGD": 2, "MYR": 2, "THB": 2,
    "AUD": 2, "CAD": 2, "IDR": 2, "PHP": 2, "INR": 2, "JPY": 0, "KRW": 0, "VND": 0, "KWD": 3,
}

MAX_LINE_MINOR = 10**12
MAX_ORDER_MINOR = 10**13
MAX_BALANCE_MINOR = 10**17
MAX_AMOUNT_TEXT_CHARS = 40  # longer text is no amount within the limits; never parse it

_AMOUNT = re.compile(r"^(?P<int>\d+)(?:\.(?P<frac>\d+))?$")


def minor_digits(currency: str, field: str = "currency") -> int:
    """The number of minor digits of `currency`; unknown codes are rejected, not guessed."""
    try:
        return MINOR_DIGITS[currency]
    except KeyError:
        raise InvalidEvent(field, currency, "unknown currency code") from None


def parse_amount(text: object, currency: str, field: str = "amount",
                 max_minor: int = MAX_LINE_MINOR) -> int:
    """Parse a non-negative decimal string such as "12.30" into minor units (1230 for CNY).

    Only strings are accepted: a JSON number may already have been rounded by a float parser.
    More fractional digits than the currency has is an error, never a silent rounding; so is an
    amount above `max_minor` (a line's limit unless the caller names another).
    """
    if not isinstance(text, str):
        raise InvalidEvent(field, text, "amount must be a decimal string such as \"12.30\"")
    if len(text) > MAX_AMOUNT_TEXT_CHARS:
        raise InvalidEvent(field, text[:20] + "...",
                           f"longer than {MAX_AMOUNT_TEXT_CHARS} characters")
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise InvalidEvent(field, text, "not a non-negative decimal amount")
    digits = minor_digits(currency)
    frac = match.group("frac") or ""
    if len(frac) > digits:
        raise InvalidEvent(field, text, f"{currency} has {digits} minor digits")
    minor = int(match.group("int")) * 10**digits + int(frac.ljust(digits, "0") or "0")
    check_limit(minor, max_minor, currency, field, text)
    return minor


def check_limit(minor: int, max_minor: int, currency: str, field: str, value: object) -> None:
    """Raise `InvalidEvent` naming `field` when `minor` is above `max_minor`."""
    if minor > max_minor:
        raise InvalidEvent(field, value,
                           f"at most {format_amount(max_minor, currency)} {currency} is accepted")


def format_amount(minor: int, currency: str) -> str:
    """Print minor units as a decimal string with exactly the currency's digits ("-0.05")."""
    digits = MINOR_DIGITS.get(currency, 2)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def floor_minor(value: Fraction) -> int:
    """Round an exact amount down to a whole minor unit (promoters never get a part-fen)."""
    return value.numerator // value.denominator


def half_even_minor(value: Fraction) -> int:
    """Round an exact amount to the nearest minor unit, ties to even (the platform fee rule)."""
    return half_even_div(value.numerator, value.denominator)


def half_even_div(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) to the nearest integer, ties to even."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def parse_rate(text: object, field: str) -> Fraction:
    """A rate such as "0.05" as an exact fraction; rates are strings so nothing is lost."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise PlanError(f"{field}: rate {text!r} must be a decimal string such as \"0.05\"")
    try:
        value = Fraction(Decimal(str(text).strip()))
    except (ArithmeticError, ValueError):
        raise PlanError(f"{field}: {text!r} is not a decimal number") from None
    if value < 0 or value > 1:
        raise PlanError(f"{field}: rate {text} must lie between 0 and 1")
    return value
