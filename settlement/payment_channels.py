"""Payment channels behind one interface: send a batch of lines, read back what the bank did.

`settlement.bank_batches` decides what goes out and books the results; a channel only carries
them. The embedded default, `BankFileChannel`, writes the CSV batch file a bank's bulk-payment
upload takes and reads the result file the bank gives back. A live channel (a payment API)
implements the same two methods. The file functions are pure so the format is tested apart.

Batch file columns: batch_id, line_id, payee_name, account, bank, amount, currency, memo (amount
a decimal string). The only output that carries a payee's name and account in clear.
Result file columns: batch_id, line_id, status (paid | failed), reason (optional; why it failed).
A result file is checked whole before anything is applied: a wrong header, a line that is not
an integer, a status other than paid/failed, a line named twice, lines of several batches or
more than `MAX_RESULT_LINES` rows refuse the whole file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from settlement.errors import InvalidBankFile

BATCH_COLUMNS = ("batch_id", "line_id", "payee_name", "account", "bank", "amount", "currency",
                 "memo")
RESULT_COLUMNS = ("batch_id", "line_id", "status", "reason")
RESULT_STATUSES = ("paid", "failed")
MAX_RESULT_LINES = 100_000
MAX_RESULT_BYTES = 20_000_000
MAX_REASON_CHARS = 500


class BankFileLine(NamedTuple):
    """One payment as the bank needs it (clear payee details: never printed or logged)."""

    batch_id: str
    line_id: int
    payee_name: str
    account: str
    bank: str
    amount: str  # decimal string
    currency: str
    memo: str


class LineResult(NamedTuple):
    batch_id: str
    line_id: int
    status: str  # paid | failed
    reason: str | None


class PaymentChannel(Protocol):
    """What every way of paying promoters offers."""

    name: str

    def send(self, batch_id: str, lines: Sequence[BankFileLine]) -> str:
        """Hand the batch over; returns where it went (a file path, a provider's reference)."""

    def read_results(self, source: str) -> list[LineResult]:
        """The bank's verdict per line, checked whole (raises InvalidBankFile)."""


def batch_file_text(lines: Sequence[BankFileLine]) -> str:
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(BATCH_COLUMNS)
    writer.writerows(lines)
    return handle.getvalue()


def _line_id(text: str, number: int) -> int:
    if not text.strip().isdigit() or len(text.strip()) > 9:
        raise InvalidBankFile(f"line {number}: line_id {text!r} is not a positive integer")
    return int(text)


def _result(row: list[str], width: int, number: int) -> LineResult:
    """One row of a result file, checked on its own."""
    if len(row) != width:
        raise InvalidBankFile(f"line {number}: {len(row)} fields, expected {width}")
    batch_id, line_text, status = (cell.strip() for cell in row[:3])
    reason = row[3].strip() if len(row) > 3 and row[3].strip() else None
    if not batch_id:
        raise InvalidBankFile(f"line {number}: batch_id is empty")
    if status not in RESULT_STATUSES:
        raise InvalidBankFile(f"line {number}: status {status!r} must be paid or failed")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise InvalidBankFile(f"line {number}: reason longer than {MAX_REASON_CHARS} chars")
    return LineResult(batch_id, _line_id(line_text, number), status, reason)


def parse_result_text(text: str) -> list[LineResult]:
    """Every line of a result file, or InvalidBankFile naming the first problem (row number
    counts the header as row 1)."""
    if len(text.encode("utf-8")) > MAX_RESULT_BYTES:
        raise InvalidBankFile(f"result file: larger than {MAX_RESULT_BYTES} bytes")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    if not rows:
        raise InvalidBankFile("result file: empty (expected a header "
                              f"{','.join(RESULT_COLUMNS)})")
    header = [cell.strip() for cell in rows[0]]
    if header[:3] != list(RESULT_COLUMNS[:3]) or header[3:] not in ([], ["reason"]):
        raise InvalidBankFile(f"header: {','.join(header)!r} is not "
                              f"{','.join(RESULT_COLUMNS)} (reason optional)")
    if len(rows) - 1 > MAX_RESULT_LINES:
        raise InvalidBankFile(f"result file: {len(rows) - 1} lines, at most {MAX_RESULT_LINES}")
    results: list[LineResult] = []
    seen: set[int] = set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        result = _result(row, len(header), number)
        if result.line_id in seen:
            raise InvalidBankFile(f"line {number}: line_id {result.line_id} is named twice")
        if results and result.batch_id != results[0].batch_id:
            raise InvalidBankFile(f"line {number}: batch_id {result.batch_id!r} differs from "
                                  f"{results[0].batch_id!r}; one result file per batch")
        seen.add(result.line_id)
        results.append(result)
    if not results:
        raise InvalidBankFile("result file: no lines")
    return results


class BankFileChannel:
    """The embedded default: batch files into `directory`, result files read from a path."""

    name = "bank_file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, batch_id: str, lines: Sequence[BankFileLine]) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{batch_id}.csv"
        path.write_text(batch_file_text(lines), encoding="utf-8", newline="")
        return str(path)

    def read_results(self, source: str) -> list[LineResult]:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidBankFile(f"result file: cannot read {source} "
                                  f"({type(error).__name__})") from None
        return parse_result_text(text)
