"""The closed set of errors the order importer raises.

`ImportOptionError` and `ImportFileError` are argument-level (the CLI exits 2): nothing was read
or nothing could be. `ImportRejected` carries every row that failed, by row number (exit 1).
Whatever is raised, nothing of the file is stored.
"""

from __future__ import annotations

from dataclasses import dataclass


class ImporterError(Exception):
    """Base of every error the importer raises on purpose."""

    code = "import_error"


class ImportOptionError(ImporterError):
    """An option (column mapping, time zone, date format...) is invalid."""

    code = "import_option"

    def __init__(self, option: str, value: object, reason: str) -> None:
        self.option, self.value, self.reason = option, value, reason
        super().__init__(f"{option}: {reason} (got {value!r})")


class ImportFileError(ImporterError):
    """The file as a whole cannot be imported: unreadable, no header, a required column missing."""

    code = "import_file"


@dataclass(frozen=True, slots=True, order=True)
class Reject:
    """Why one row of the file cannot be imported; `row` is the file line where it starts."""

    row: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class FieldProblem(ValueError):
    """One cell is invalid; turned into a `Reject` with the row number by the caller."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}: {reason} (got {value!r})")

    def at(self, row: int) -> Reject:
        return Reject(row, self.field, f"{self.reason} (got {self.value!r})")


class ImportRejected(ImporterError):
    """Rows were rejected, by validation or by the settlement engine; nothing was stored."""

    code = "import_rejected"

    def __init__(self, rejects: list[Reject]) -> None:
        self.rejects = sorted(set(rejects))
        super().__init__(f"{len(self.rejects)} problem(s) in "
                         f"{len({r.row for r in self.rejects})} row(s); nothing was imported")
