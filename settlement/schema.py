"""Every table of the settlement database on one `metadata`: what Alembic compares against.

Importing the two table modules is what declares their tables; nothing else needs this module.
"""

from __future__ import annotations

from settlement import (
    finance_tables,
    people_tables,
    rate_tables,
    risk_tables,
    stream_tables,
    tables,
)
from settlement.schema_types import metadata

__all__ = ["finance_tables", "metadata", "people_tables", "rate_tables", "risk_tables",
           "stream_tables", "tables"]
