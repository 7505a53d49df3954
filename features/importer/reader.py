"""Reading a CSV export into raw rows keyed by fenrun column names.

Pure over an iterable of text lines (the service opens the file). A row's number is the file
line on which its record starts, the header being line 1, as an editor or spreadsheet shows it.
Cells are stripped of surrounding whitespace; columns the importer does not know are ignored.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping

from features.importer.domain import COLUMNS, REQUIRED_COLUMNS, ImportOptions, RawRow
from features.importer.errors import ImportFileError, ImportOptionError, Reject


def resolve_columns(header: list[str], options: ImportOptions) -> dict[str, int]:
    """fenrun column name → index in the header, by explicit mapping or by the same name."""
    names = [cell.strip() for cell in header]
    folded = [name.casefold() for name in names]
    positions: dict[str, int] = {}
    for column in COLUMNS:
        wanted = options.columns.get(column)
        if wanted is not None:
            if wanted not in names:
                raise ImportOptionError("--column", f"{column}={wanted}",
                                        f"no such column in the file; it has {', '.join(names)}")
            candidates = [i for i, name in enumerate(names) if name == wanted]
        else:
            candidates = [i for i, name in enumerate(folded) if name == column]
        if len(candidates) > 1:
            raise ImportFileError(f"column {names[candidates[0]]!r} appears {len(candidates)} "
                                  "times in the header")
        if candidates:
            positions[column] = candidates[0]
    missing = [column for column in REQUIRED_COLUMNS if column not in positions]
    if missing:
        raise ImportFileError(f"missing column(s) {', '.join(missing)}: map them with "
                              f"--column NAME=HEADER (the header is: {', '.join(names)})")
    if "merchant_id" not in positions and options.merchant_id is None:
        raise ImportFileError("no merchant_id column: map one with --column merchant_id=HEADER "
                              "or give --merchant ID")
    return positions


def _records(lines: Iterable[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(starting line, fields) of every non-blank record."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ImportFileError(f"line {reader.line_num}: not valid CSV ({error})") from None
        if any(cell.strip() for cell in fields):
            yield start, fields
        start = reader.line_num + 1


def read_rows(lines: Iterable[str], options: ImportOptions) -> tuple[list[RawRow], list[Reject]]:
    """Every data record of the file, or a reject when its field count differs from the header."""
    records = _records(lines, options.delimiter)
    first = next(records, None)
    if first is None:
        raise ImportFileError("the file is empty: expected a header line")
    positions = resolve_columns(first[1], options)
    width = len(first[1])
    rows: list[RawRow] = []
    rejects: list[Reject] = []
    for number, fields in records:
        if len(rows) + len(rejects) >= options.max_rows:
            raise ImportFileError(f"more than {options.max_rows} rows: split the file")
        if len(fields) != width:
            rejects.append(Reject(number, "row", f"has {len(fields)} fields, the header has "
                                                 f"{width} (an unquoted delimiter?)"))
            continue
        rows.append(RawRow(number, _cells(fields, positions)))
    if not rows and not rejects:
        raise ImportFileError("the file has a header but no rows")
    return rows, rejects


def _cells(fields: list[str], positions: Mapping[str, int]) -> dict[str, str]:
    return {column: fields[index].strip() for column, index in positions.items()}
