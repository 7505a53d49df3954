"""Value types of the order importer: options, parsed rows, orders and the import summary.

No I/O here. Amounts are integer minor units of the row's currency; instants are aware UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from features.importer.dates import DateRules
from features.importer.errors import ImportOptionError

REQUIRED_COLUMNS = ("customer_id", "order_id", "ts", "amount")
OPTIONAL_COLUMNS = ("promoter_id", "merchant_id", "category", "refunded_amount", "sku",
                    "currency", "refunded_at", "confirmed_at")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
REFUND_SCOPES = ("line", "order")
MAX_ROWS = 500_000  # one transaction holds the whole file (~5 kB a row in memory): keep it bounded
MAX_REFUND_DELAY_DAYS = 365
DEFAULT_CATEGORY = "uncategorized"


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read a file. `columns` maps a fenrun column name to the file's header."""

    columns: Mapping[str, str] = field(default_factory=dict)
    dates: DateRules = field(default_factory=DateRules)
    merchant_id: str | None = None  # for rows (or files) without a merchant_id
    default_category: str = DEFAULT_CATEGORY
    refund_scope: str = "line"  # refunded_amount is per row ("line") or per order ("order")
    refund_delay: timedelta = timedelta(0)  # refund instant when refunded_at is not given
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    max_rows: int = MAX_ROWS

    def __post_init__(self) -> None:
        for name, header in self.columns.items():
            if name not in COLUMNS:
                raise ImportOptionError("--column", f"{name}={header}",
                                        f"unknown column name; use one of {', '.join(COLUMNS)}")
        if self.refund_scope not in REFUND_SCOPES:
            raise ImportOptionError("--refund-scope", self.refund_scope, "must be line or order")
        if not timedelta(0) <= self.refund_delay <= timedelta(days=MAX_REFUND_DELAY_DAYS):
            raise ImportOptionError("--refund-delay-days", self.refund_delay.days,
                                    f"must lie between 0 and {MAX_REFUND_DELAY_DAYS}")
        if len(self.delimiter) != 1:
            raise ImportOptionError("--delimiter", self.delimiter, "must be one character")
        if not 1 <= self.max_rows <= MAX_ROWS:
            raise ImportOptionError("--max-rows", self.max_rows, f"must lie in 1..{MAX_ROWS}")


def parse_column_mapping(pairs: list[str]) -> dict[str, str]:
    """`["customer_id=buyer", "ts=created"]` → `{"customer_id": "buyer", "ts": "created"}`."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, header = pair.partition("=")
        name, header = name.strip(), header.strip()
        if not sep or not name or not header:
            raise ImportOptionError("--column", pair, "must look like NAME=HEADER, e.g. ts=created")
        if name in mapping and mapping[name] != header:
            raise ImportOptionError("--column", pair, f"{name} is already mapped to "
                                                      f"{mapping[name]!r}")
        mapping[name] = header
    return mapping


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data record: its starting line in the file and its cells by fenrun column name."""

    number: int
    cells: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Row:
    """One validated row; `refunded_minor` is None when the cell was blank."""

    number: int
    order_id: str
    customer_id: str
    paid_at: datetime
    amount_minor: int
    currency: str
    merchant_id: str
    category: str
    sku: str | None
    promoter_id: str | None
    refunded_minor: int | None
    refunded_at: datetime | None
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Line:
    """One order line with what was refunded of it and when (the instant is set if refunded)."""

    sku: str
    category: str
    amount_minor: int
    refunded_minor: int
    refunded_at: datetime | None
    row: int


@dataclass(frozen=True, slots=True)
class Order:
    """The rows of one order_id, checked to agree on everything but their lines."""

    order_id: str
    customer_id: str
    merchant_id: str
    currency: str
    promoter_id: str | None
    paid_at: datetime
    confirmed_at: datetime
    lines: tuple[Line, ...]

    @property
    def first_row(self) -> int:
        return min(line.row for line in self.lines)

    @property
    def amount_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)

    @property
    def refunded_minor(self) -> int:
        return sum(line.refunded_minor for line in self.lines)


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What a file held and what importing it changed in the books."""

    rows: int
    orders: int
    lines: int
    customers: int
    promoters: int
    new_promoters: int
    gmv_minor: dict[str, int]
    refunded_minor: dict[str, int]
    first_at: datetime | None
    last_at: datetime | None
    events_applied: int = 0
    events_already_present: int = 0
    holds_released: int = 0
    dry_run: bool = False
