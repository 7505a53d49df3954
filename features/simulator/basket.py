"""What an order holds and what happens to it afterwards: lines, merchant, confirmation, refund.

Everything is vectorised over many orders at once. Amounts are integer fen built from whole-yuan
prices (often ending in .90), so every line is a clean two-digit decimal when written.
"""

from __future__ import annotations

import numpy as np

from features.simulator.batches import NONE
from features.simulator.catalog import CATEGORIES, CATEGORY_WEIGHTS, SKU_CATALOG, SKU_STRIDE
from features.simulator.timeline import DAY_S, HOUR_S

MAX_LINES = 8
MAIN_CATEGORY_LINE_SHARE = 0.85  # the rest of the lines come from anywhere in the mall
AUTO_CONFIRM_DAYS = 15  # the mall confirms receipt itself after this long
REFUND_LINE_SHARE = 0.75
PARTIAL_REFUND_SHARE = 0.2

_MEDIAN_LOG = np.log([c.median_yuan for c in CATEGORIES])
_SIGMA = np.array([c.price_sigma for c in CATEGORIES])
_EXTRA_LINES = np.array([c.extra_lines for c in CATEGORIES])
_EXTRA_QTY = np.array([c.extra_qty for c in CATEGORIES])
_REFUND_FACTOR = np.array([c.refund_factor for c in CATEGORIES])


def unit_prices_fen(
    rng: np.random.Generator, category: np.ndarray, scale: float = 1.0
) -> np.ndarray:
    """Shelf prices: lognormal yuan by category, rounded to whole yuan, many ending in .90."""
    yuan = np.exp(_MEDIAN_LOG[category] + _SIGMA[category] * rng.normal(size=len(category)))
    whole = np.maximum(1, np.rint(yuan * scale)).astype(np.int64)
    return whole * 100 - 10 * (rng.random(len(category)) < 0.6)


def draw_lines(
    rng: np.random.Generator, main: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lines for orders with main category `main`: (n_lines, category, sku, amount fen,
    quantity); the amount is the line total (unit price x quantity)."""
    n_lines = np.minimum(1 + rng.poisson(_EXTRA_LINES[main]), MAX_LINES).astype(np.int64)
    total = int(n_lines.sum())
    order_of_line = np.repeat(np.arange(len(main)), n_lines)
    position = np.arange(total) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    stray = (rng.random(total) > MAIN_CATEGORY_LINE_SHARE) & (position > 0)
    category = main[order_of_line].astype(np.int64)
    category[stray] = rng.choice(len(CATEGORY_WEIGHTS), int(stray.sum()), p=CATEGORY_WEIGHTS)
    base = rng.integers(0, SKU_CATALOG, len(main))[order_of_line]
    sku = (base + position * SKU_STRIDE) % SKU_CATALOG  # distinct within an order
    quantity = 1 + rng.poisson(_EXTRA_QTY[category])
    amount = unit_prices_fen(rng, category) * quantity
    return n_lines, category, sku, amount, quantity.astype(np.int64)


def draw_merchants(rng: np.random.Generator, main: np.ndarray, per_category: int) -> np.ndarray:
    """A merchant of the main category, a few big shops taking most orders (Zipf-like)."""
    weights = 1.0 / np.arange(1, per_category + 1) ** 1.1
    rank = rng.choice(per_category, len(main), p=weights / weights.sum())
    return main.astype(np.int64) * per_category + rank


def confirm_instants(rng: np.random.Generator, paid_s: np.ndarray) -> np.ndarray:
    """Receipt confirmed after shipping and delivery, or automatically after 15 days."""
    delay = rng.gamma(2.0, 2.4 * DAY_S, len(paid_s)).astype(np.int64)
    return paid_s + HOUR_S + np.minimum(delay, AUTO_CONFIRM_DAYS * DAY_S)


def draw_refunds(
    rng: np.random.Generator, main: np.ndarray, n_lines: np.ndarray, line_amount: np.ndarray,
    confirm_s: np.ndarray, base_rate: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Returns after receipt: (refund instant or NONE per order, refunded fen per line).

    A refund never exceeds its line; partial refunds (price adjustments) keep at least one fen.
    """
    n = len(main)
    wants = (rng.random(n) < np.minimum(base_rate * _REFUND_FACTOR[main], 0.9)) & (confirm_s >= 0)
    refund_s = np.where(wants, confirm_s + HOUR_S + rng.exponential(3 * DAY_S, n).astype(np.int64),
                        NONE)
    line_wanted = np.repeat(wants, n_lines)
    first_line = np.zeros(len(line_amount), dtype=bool)
    first_line[np.cumsum(n_lines) - n_lines] = True
    picked = line_wanted & ((rng.random(len(line_amount)) < REFUND_LINE_SHARE) | first_line)
    share = np.where(rng.random(len(line_amount)) < PARTIAL_REFUND_SHARE,
                     rng.uniform(0.2, 0.8, len(line_amount)), 1.0)
    partial = np.maximum(1, (line_amount * share).astype(np.int64))
    line_refund = np.where(picked, np.minimum(partial, line_amount), 0)
    return refund_s, line_refund
