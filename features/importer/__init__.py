"""Import a real mall's order history (CSV) into the settlement books, all rows or none."""

from features.importer.dates import DateRules, parse_instant, parse_zone
from features.importer.domain import ImportOptions, ImportSummary, parse_column_mapping
from features.importer.errors import (
    ImporterError,
    ImportFileError,
    ImportOptionError,
    ImportRejected,
    Reject,
)
from features.importer.service import ParsedFile, import_orders, parse_lines, read_order_file

__all__ = [
    "DateRules", "ImportFileError", "ImportOptionError", "ImportOptions", "ImportRejected",
    "ImportSummary", "ImporterError", "ParsedFile", "Reject", "import_orders",
    "parse_column_mapping", "parse_instant", "parse_lines", "parse_zone", "read_order_file",
]
