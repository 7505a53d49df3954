"""What a customer contributes to the mall: gross margin on what they bought, minus commissions.

"The mall" is the operator of the multi-merchant mall, the business that runs the commission
programme and answers for its cost. Its **gross margin** on a category is the share of an order's
net amount it keeps before promotion costs: on a self-operated category its retail margin, on a
category sold by a hosted merchant its take (set that category's margin to the plan's
`platform_take_rate`, or to take + what the merchant's margin is worth to the operator). It is
configuration (`FENRUN_MARGIN_DEFAULT_RATE`, `FENRUN_MARGIN_CATEGORIES`), not read from the plan:
the plan's take is only the fee line of a split, and a mall that also sells its own goods earns
far more than its take on them.

Per acquired customer, as of one instant, in minor units of the history's currency:

    contribution realised  = Σ_orders net_o × margin(category_o)  − commission on later orders
    contribution predicted = predicted net revenue × (margin mix − commission rate)
    contribution LTV       = realised + predicted;  CAC = commission on the first order
    margin mix             = Σ_o w_o × margin(category_o) / Σ_o w_o
    commission rate        = Σ_o commission_o / Σ_o w_o

with w_o the order's net amount (gross when every order was refunded) and commission all levels,
net of claw-backs. The first order's commission is CAC, the denominator of LTV/CAC, so it is not
also subtracted from LTV. Bonuses: the plan has none; when it gains them they are subtracted
like commission. An order counts at the margin of its main category (the one holding most of its
amount): the history keeps no per-line amounts.

Why exact: margins are decimal strings, held as fractions over one common denominator; sums are
integers and each customer's amount is rounded half-even once, where it is made, so every total
built from it is an exact sum (the same rule as the forecasts in `promoter_value.whole_minor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm
from typing import TYPE_CHECKING

from settlement.money import half_even_div

if TYPE_CHECKING:  # pandas and numpy are imported where used: the CLI reads the settings light
    import numpy as np
    import pandas as pd

MAX_CATEGORIES = 1_000  # a configuration, not a catalogue
# Rates have at most six decimal places, so net × rate × common denominator stays within int64
# for any customer with less than 9 × 10^12 minor units of orders.
MAX_RATE_DENOMINATOR = 10**6


class MarginError(ValueError):
    """A margin setting that is not a rate between 0 and 1; the message names the variable."""


@dataclass(frozen=True)
class MarginRates:
    """The mall's gross margin per category (exact), with a default for every other category."""

    default: Fraction
    by_category: Mapping[str, Fraction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, rate in {"default": self.default, **self.by_category}.items():
            if not 0 <= rate <= 1:
                raise MarginError(f"margin of {name}: {rate} must lie between 0 and 1")
        if self.denominator > MAX_RATE_DENOMINATOR:
            raise MarginError(f"margins: at most six decimal places (common denominator "
                              f"{self.denominator} > {MAX_RATE_DENOMINATOR})")

    def rate_for(self, category: str) -> Fraction:
        return self.by_category.get(category, self.default)

    def describe(self) -> str:
        """E.g. "25 % (beauty 40 %, digital 8 %)", for a command's output."""
        def pct(rate: Fraction) -> str:
            return f"{float(rate * 100):g} %"

        named = ", ".join(f"{c} {pct(r)}" for c, r in sorted(self.by_category.items()))
        return pct(self.default) + (f" ({named})" if named else "")

    @property
    def denominator(self) -> int:
        """The common denominator of every rate: rate × denominator is an integer."""
        return lcm(self.default.denominator, *(r.denominator for r in self.by_category.values()))


def half_even_array(numerators: np.ndarray, denominator: int) -> np.ndarray:
    """Integer numerators / a positive integer denominator, rounded half-even, element-wise."""
    import numpy as np

    quotient, remainder = np.divmod(numerators, denominator)
    twice = 2 * remainder
    up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    return (quotient + up).astype("int64")


def customer_contribution(orders: pd.DataFrame, commission_by_order: pd.Series,
                          first_order_id: pd.Series, rates: MarginRates) -> pd.DataFrame:
    """Per customer: `contribution_realised_minor` (int) and `contribution_rate` (Fraction per
    minor unit of predicted net revenue), as defined in the module doc.

    `orders`: customer_id, order_id, main_category, gross_minor, net_minor (as of the instant);
    `commission_by_order`: commission per order id; `first_order_id`: per customer id.
    """
    import numpy as np
    import pandas as pd

    scale = rates.denominator
    scaled = {c: int(r * scale) for c, r in rates.by_category.items()}
    rate_scaled = orders["main_category"].map(scaled).fillna(int(rates.default * scale))
    frame = pd.DataFrame({
        "customer_id": orders["customer_id"].to_numpy(),
        "net": orders["net_minor"].to_numpy("int64"),
        "gross": orders["gross_minor"].to_numpy("int64"),
        "rate": rate_scaled.to_numpy("int64"),
        "commission": orders["order_id"].map(commission_by_order).fillna(0).to_numpy("int64")})
    frame["margin_net"] = frame["net"] * frame["rate"]
    frame["margin_gross"] = frame["gross"] * frame["rate"]
    g = frame.groupby("customer_id", sort=True)[
        ["net", "gross", "commission", "margin_net", "margin_gross"]].sum()
    first = first_order_id.reindex(g.index).map(commission_by_order).fillna(0).astype("int64")
    margin_minor = half_even_array(g["margin_net"].to_numpy("int64"), scale)
    realised = margin_minor - (g["commission"].to_numpy("int64") - first.to_numpy())
    by_net = g["net"].to_numpy() > 0
    weight = np.where(by_net, g["net"], g["gross"])
    weighted = np.where(by_net, g["margin_net"], g["margin_gross"])
    commission = g["commission"].to_numpy("int64")
    rate = [Fraction(int(m) - int(c) * scale, int(w) * scale) if w > 0 else rates.default
            for m, c, w in zip(weighted, commission, weight, strict=True)]
    return pd.DataFrame({"customer_id": g.index, "contribution_realised_minor": realised,
                         "contribution_rate": rate})


def predicted_contribution(predicted_minor: np.ndarray, rate: pd.Series) -> np.ndarray:
    """Whole predicted net revenue × each customer's contribution rate, rounded half-even once."""
    import numpy as np

    return np.array([half_even_div(int(p) * r.numerator, r.denominator)
                     for p, r in zip(predicted_minor, rate, strict=True)], dtype="int64")
