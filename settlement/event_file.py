"""Reading a JSON-lines event file in timestamp order without holding it in memory.

A first pass keeps only each line's instant, number and byte offset (16 bytes a line in numpy
arrays); a stable sort on the instant gives the apply order (equal instants keep file order), and
a second pass parses the lines in that order, one batch at a time. A file that is already in
order, as exports and the simulator write them, is read front to back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from settlement.errors import InvalidEvent
from settlement.events import Event, parse_json_line, parse_timestamp


@dataclass(frozen=True, slots=True)
class FileIndex:
    """Where each good line is and when it happened, in apply order."""

    line_numbers: np.ndarray  # int64, 1-based, in apply order
    offsets: np.ndarray  # int64 byte offsets, in apply order
    rejects: list[tuple[int, str]]  # (line number, reason) for lines without a usable ts

    @property
    def in_file_order(self) -> bool:
        return bool(np.all(np.diff(self.line_numbers) > 0))


def _instant_us(line: str) -> int:
    try:
        payload = json.loads(line)
    except json.JSONDecodeError as error:
        raise InvalidEvent("line", line[:40], f"not valid JSON ({error.msg})") from None
    if not isinstance(payload, dict):
        raise InvalidEvent("event", type(payload).__name__, "an event must be a JSON object")
    ts = parse_timestamp(payload.get("ts"))
    return ts.timestamp().__floor__() * 1_000_000 + ts.microsecond


def index_file(path: Path) -> FileIndex:
    """First pass: instant, line number and offset of every line that has a valid `ts`."""
    instants: list[int] = []
    numbers: list[int] = []
    offsets: list[int] = []
    rejects: list[tuple[int, str]] = []
    with path.open("rb") as handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                instants.append(_instant_us(line))
            except InvalidEvent as error:
                rejects.append((number, str(error)))
                continue
            numbers.append(number)
            offsets.append(start)
    order = np.argsort(np.asarray(instants, dtype=np.int64), kind="stable")
    return FileIndex(np.asarray(numbers, dtype=np.int64)[order],
                     np.asarray(offsets, dtype=np.int64)[order], rejects)


Batch = tuple[list[tuple[int, Event]], list[tuple[int, str]]]


def read_in_order(path: Path, index: FileIndex, batch_size: int) -> Iterator[Batch]:
    """Second pass: batches of (line number, event) in apply order, with the lines that failed."""
    sequential = index.in_file_order
    with path.open("rb") as handle:
        for start in range(0, len(index.offsets), batch_size):
            good: list[tuple[int, Event]] = []
            bad: list[tuple[int, str]] = []
            for number, offset in zip(index.line_numbers[start:start + batch_size],
                                      index.offsets[start:start + batch_size], strict=True):
                if not sequential:
                    handle.seek(int(offset))
                elif handle.tell() != offset:
                    handle.seek(int(offset))  # skips blank or rejected lines
                line = handle.readline().decode("utf-8", errors="replace")
                try:
                    good.append((int(number), parse_json_line(line)))
                except InvalidEvent as error:
                    bad.append((int(number), str(error)))
            yield good, bad
