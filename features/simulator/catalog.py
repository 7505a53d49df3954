"""The mall's fixed shape: categories, channels, grades, the shopping calendar and the plan.

Numbers here are chosen to look like a Chinese 分销 mall (prices in yuan, refund-heavy apparel,
evening peaks in China time, 3.8 / 618 / 双11 / 双12 promotion days); changing them changes the data
but never its validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class Category:
    """A product category: its share of orders, price curve, basket size and refund propensity."""

    name: str
    code: str
    weight: float  # share of orders whose main category this is
    median_yuan: float  # median unit price
    price_sigma: float  # lognormal spread of unit prices
    extra_lines: float  # Poisson mean of lines beyond the first
    extra_qty: float  # Poisson mean of units beyond the first on a line
    refund_factor: float  # multiplier on the base refund rate


CATEGORIES = (
    Category("apparel", "APP", 0.26, 119.0, 0.55, 0.9, 0.15, 2.4),
    Category("beauty", "BEA", 0.18, 89.0, 0.60, 0.6, 0.20, 0.8),
    Category("food", "FOO", 0.20, 39.0, 0.50, 1.4, 0.50, 0.35),
    Category("home", "HOM", 0.12, 149.0, 0.75, 0.5, 0.20, 0.9),
    Category("electronics", "ELE", 0.08, 699.0, 0.85, 0.2, 0.02, 1.1),
    Category("mother_baby", "MAB", 0.10, 109.0, 0.60, 0.8, 0.40, 0.6),
    Category("health", "HEA", 0.06, 189.0, 0.55, 0.3, 0.30, 0.4),
)
CATEGORY_WEIGHTS = np.array([c.weight for c in CATEGORIES]) / sum(c.weight for c in CATEGORIES)
ELECTRONICS = next(i for i, c in enumerate(CATEGORIES) if c.name == "electronics")
FOOD = next(i for i, c in enumerate(CATEGORIES) if c.name == "food")
BEAUTY = next(i for i, c in enumerate(CATEGORIES) if c.name == "beauty")
SKU_CATALOG = 20_000  # sku numbers per category
SKU_STRIDE = 7_919  # prime, so line j of an order gets a distinct sku number for j < SKU_CATALOG


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    share: float  # share of promoters whose main channel this is
    conversion: float  # orders per click on this channel


CHANNELS = (
    Channel("wechat_chat", 0.28, 0.55),
    Channel("wechat_moments", 0.26, 0.35),
    Channel("wechat_group", 0.15, 0.30),
    Channel("qr_poster", 0.10, 0.25),
    Channel("h5_link", 0.07, 0.20),
    Channel("xiaohongshu", 0.08, 0.16),
    Channel("douyin", 0.06, 0.10),
)
CHANNEL_SHARES = np.array([c.share for c in CHANNELS]) / sum(c.share for c in CHANNELS)
CHANNEL_CONVERSION = np.array([c.conversion for c in CHANNELS])
H5_LINK = next(i for i, c in enumerate(CHANNELS) if c.name == "h5_link")

GRADES = ("V1", "V2", "V3", "V4")
GRADE_SHARES = (0.65, 0.23, 0.09, 0.03)

LOCAL_OFFSET_S = 8 * 3600  # shoppers live on China time (UTC+8)
# Relative order intensity by local hour 0..23: asleep at night, lunch bump, evening peak.
HOURLY = np.array([
    0.35, 0.20, 0.12, 0.08, 0.07, 0.10, 0.25, 0.50, 0.75, 0.90, 1.00, 1.10,
    1.25, 1.10, 0.95, 0.95, 1.00, 1.05, 1.10, 1.30, 1.55, 1.70, 1.50, 0.90,
])
WEEKLY = np.array([0.90, 0.88, 0.92, 0.97, 1.08, 1.25, 1.20])  # Monday..Sunday
# Promotion days by local (month, day): 女王节, 618 with its warm-up, 双11 with pre-sale, 双12.
PROMOTIONS = {
    (3, 8): 2.5, (6, 16): 1.5, (6, 17): 1.8, (6, 18): 4.0,
    **{(11, d): 1.4 for d in range(1, 11)}, (11, 11): 8.0, (11, 12): 1.6, (12, 12): 3.0,
}


def hourly_intensity(start: datetime, hours: int) -> np.ndarray:
    """Relative order intensity of each UTC hour of the period (hour 0 starts at `start`)."""
    start_s = int(start.timestamp())
    local = np.datetime64(start_s + LOCAL_OFFSET_S, "s") + np.arange(hours) * np.timedelta64(1, "h")
    days = local.astype("datetime64[D]")
    local_hour = (local - days).astype("timedelta64[h]").astype(np.int64)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    promo = np.ones(hours)
    for (m, d), factor in sorted(PROMOTIONS.items()):
        promo[(month == m) & (day == d)] = factor
    return HOURLY[local_hour] * WEEKLY[weekday] * promo


PLAN_TEMPLATE = """\
# Commission plan written by `fenrun simulate` (format of issue 2).
effective_from: {effective_from}
currency: CNY
platform_take_rate: "0.05"
levels: ["0.10", "0.05", "0.02"]
attribution: {{model: position, first: "0.6", last: "0.4", lookback_days: 30}}
customer_binding: lifetime
hold_days: {hold_days}
payout_minimum: "100.00"
review_limit: "10000.00"
categories:
  electronics: {{levels: ["0.03", "0.01", "0"], platform_take_rate: "0.02"}}
  food: {{levels: ["0.06", "0.03", "0.01"]}}
"""
LOOKBACK_DAYS = 30  # must match the plan: touches older than this never earn

# Plans v2 runs (`--plan-rules`): how buyers pay, where they live, and the rules the plan adds.
PAYMENT_CHANNELS = ("wechat_pay", "alipay", "card")
REGIONS = ("north", "south", "east", "west", "central", "overseas")
FIXED_SKUS = tuple(f"BEA-{number:05d}" for number in range(0, SKU_CATALOG, 100))  # 1% of beauty
PLAN_RULES_TEMPLATE = """\
# Plans v2 (issue 15): every rule on.
timezone: Asia/Shanghai
payment_channels: {{wechat_pay: "0.006", alipay: "0.006", card: "0.01"}}
merchant_tiers:
  - {{from_gmv: "0.00", platform_take_rate: "0.05"}}
  - {{from_gmv: "20000.00", platform_take_rate: "0.045"}}
  - {{from_gmv: "100000.00", platform_take_rate: "0.04"}}
fixed_commissions: {{{fixed}}}
grades:
  V1: {{levels: ["0.10", "0.05", "0.02"]}}
  V2: {{levels: ["0.11", "0.05", "0.02"], upgrade_at_gmv: "5000.00"}}
  V3: {{levels: ["0.12", "0.06", "0.02"], upgrade_at_gmv: "20000.00"}}
  V4: {{levels: ["0.14", "0.07", "0.03"], upgrade_at_gmv: "80000.00"}}
ladder: [{{from_gmv: "2000.00", bonus: "0.005"}}, {{from_gmv: "10000.00", bonus: "0.01"}}]
campaigns:
  - {{name: opening, from: {effective_from}, to: {opening_to}, categories: [beauty], bonus: "0.02"}}
  - {{name: 双11, from: 2026-11-10T16:00:00Z, to: 2026-11-11T16:00:00Z, bonus: "0.02"}}
caps: {{order_share: "0.25", per_promoter_day: "800.00"}}
max_levels: 2
regional_agents: {{share: "0.005"}}
promoter_overrides: {{{overrides}}}
"""
