"""Why a rate was suggested, in words and numbers a growth manager can read.

Drivers are measured, not guessed: for each of a few inputs, the promoter's value is replaced by
the mall's typical value (median, or the most common category) and the response model predicts
the margin gain of the same change again. The inputs whose replacement moves that gain the most
are the ones that drove the suggestion; each is reported with its value, the typical value and
how much of the gain it accounts for. This is a one-at-a-time attribution (it ignores how inputs
interact), stated as such in the words.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd

from settlement.rate_suggestions import Driver, GuardrailStep, PredictedChange

# input -> (label, how its value reads)
DRIVER_INPUTS: dict[str, str] = {
    "log_level": "sales per cycle",
    "zero_share": "share of cycles without sales",
    "tenure": "cycles since joining",
    "channel": "main channel",
    "category": "main category",
    "grade": "grade",
    "n_children": "promoters it invited",
    "flagged": "on the risk flag list",
}
CATEGORICAL = ("channel", "category", "flagged")
TOP_DRIVERS = 3


def typical_values(inputs: pd.DataFrame) -> dict[str, float]:
    """The mall's typical value of each driver input (median; most common for categories)."""
    typical: dict[str, float] = {}
    for name in DRIVER_INPUTS:
        column = inputs[name]
        if name in CATEGORICAL:
            typical[name] = float(column.mode().iloc[0]) if len(column) else 0.0
        else:
            typical[name] = float(column.median()) if len(column) else 0.0
    return typical


def driver_effects(inputs: pd.DataFrame, gain_of: Callable[[pd.DataFrame], np.ndarray],
                   typical: dict[str, float]) -> dict[str, np.ndarray]:
    """Per input: how much of each row's predicted margin gain goes away when that input is set
    to its typical value (`gain_of(frame)` predicts the gain of each row's change)."""
    base = gain_of(inputs)
    effects = {}
    for name, value in typical.items():
        swapped = inputs.copy()
        swapped[name] = np.asarray(value).astype(inputs[name].dtype)
        same = inputs["category"] == value
        if name == "category" and same.any():  # the category's margin moves with it
            swapped["margin_rate"] = float(inputs.loc[same, "margin_rate"].median())
        effects[name] = base - gain_of(swapped)
    return effects


def _read(name: str, value: float, names: dict[str, tuple[str, ...]]) -> str:
    if name == "log_level":
        return f"{np.expm1(value):.2f}"
    if name == "zero_share":
        return f"{value:.0%}"
    if name in names:
        index = int(value)
        return names[name][index] if 0 <= index < len(names[name]) else "unknown"
    if name == "flagged":
        return "yes" if value else "no"
    return f"{value:g}"


def top_drivers(row: pd.Series, effects: dict[str, float], typical: dict[str, float],
                names: dict[str, tuple[str, ...]]) -> tuple[Driver, ...]:
    """The few inputs with the largest effect on this row's gain, largest first."""
    ranked = sorted(effects.items(), key=lambda item: -abs(item[1]))[:TOP_DRIVERS]
    drivers = []
    for name, effect in ranked:
        if abs(effect) < 0.005:
            continue
        value = _read(name, float(row[name]), names)
        usual = _read(name, typical[name], names)
        detail = (f"{DRIVER_INPUTS[name]} {value} (typical {usual}) "
                  f"{'adds' if effect > 0 else 'takes'} {abs(effect):.2f} "
                  f"{'to' if effect > 0 else 'from'} the predicted margin gain")
        drivers.append(Driver(name, value, detail))
    return tuple(drivers)


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def change_words(current: Decimal, proposed: Decimal) -> str:
    if proposed > current:
        return f"Raise the level-1 rate from {percent(current)} to {percent(proposed)}"
    if proposed < current:
        return f"Lower the level-1 rate from {percent(current)} to {percent(proposed)}"
    return f"Keep the level-1 rate at {percent(current)}"


def trail_words(trail: tuple[GuardrailStep, ...]) -> str:
    notes = [f"{g.name} {g.outcome.replace('_', ' ')} ({g.detail})" for g in trail
             if g.outcome != "pass"]
    return "Guardrails: " + ("; ".join(notes) if notes else "all passed") + "."


def prediction_words(predicted: dict[str, PredictedChange], currency: str,
                     cycle_days: int) -> str:
    if not predicted:
        return "No prediction: no response model is registered."
    m = predicted["margin"]
    return (f"Predicted per {cycle_days}-day cycle: margin {m.delta} {currency} "
            f"({m.low} to {m.high}), commission {predicted['commission'].delta}, "
            f"GMV {predicted['gmv'].delta}.")


def driver_words(drivers: tuple[Driver, ...]) -> str:
    if not drivers:
        return ""
    return ("Driven most by (one input at a time set to the mall's typical value): "
            + "; ".join(d.detail for d in drivers) + ".")
