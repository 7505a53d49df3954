"""Column batches of orders and touches, the simulator's in-memory form before it writes events.

Columns are numpy arrays; times are integer seconds since the period start and money is integer
fen. A customer code >= 0 names a customer; a negative code -1-p is promoter p shopping as a
customer under its own id (allowed, as long as it never touches through its own link).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

NONE = -1  # "no such instant" for confirm/refund columns


@dataclass(slots=True)
class OrderBatch:
    """Orders with their lines in flat arrays (`n_lines` per order, lines in order sequence)."""

    paid_s: np.ndarray
    promoter: np.ndarray  # the promoter whose link sold it (ground truth, not written as such)
    customer: np.ndarray
    merchant: np.ndarray
    device: np.ndarray
    ip: np.ndarray
    confirm_s: np.ndarray
    refund_s: np.ndarray
    fraud: np.ndarray  # fraud type code, 0 = none
    n_lines: np.ndarray
    line_category: np.ndarray
    line_sku: np.ndarray
    line_amount: np.ndarray  # fen
    line_refund: np.ndarray  # fen refunded on this line (0 = none)
    line_quantity: np.ndarray  # units on the line (written only for plans v2 runs)

    def __len__(self) -> int:
        return len(self.paid_s)

    def take(self, index: np.ndarray) -> OrderBatch:
        """The orders at `index`, in that order, with their lines."""
        starts = np.concatenate([[0], np.cumsum(self.n_lines)[:-1]]).astype(np.int64)
        counts = self.n_lines[index]
        line_index = np.repeat(starts[index] - np.cumsum(counts) + counts, counts)
        line_index += np.arange(len(line_index))
        parts = {}
        for f in fields(self):
            column = getattr(self, f.name)
            parts[f.name] = column[line_index] if f.name.startswith("line_") else column[index]
        return OrderBatch(**parts)


@dataclass(slots=True)
class TouchBatch:
    """Clicks and registrations through promoters' links."""

    ts_s: np.ndarray
    customer: np.ndarray
    promoter: np.ndarray
    channel: np.ndarray
    register: np.ndarray  # bool: kind "register" (binds the customer) instead of "click"
    device: np.ndarray
    ip: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_s)

    def take(self, index: np.ndarray) -> TouchBatch:
        return TouchBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def concat_orders(batches: list[OrderBatch]) -> OrderBatch:
    return OrderBatch(**{
        f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(OrderBatch)
    })


def concat_touches(batches: list[TouchBatch]) -> TouchBatch:
    return TouchBatch(**{
        f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(TouchBatch)
    })


class OrderBuilder:
    """Row-at-a-time assembly for the few thousand hand-shaped fraud orders."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, ...]] = []
        self.lines: list[tuple[int, int, int, int]] = []

    def add(
        self, paid_s: int, promoter: int, customer: int, merchant: int, device: int, ip: int,
        lines: list[tuple[int, int, int, int]], confirm_s: int, refund_s: int, fraud: int,
    ) -> None:
        """`lines` holds (category, sku, amount fen, refunded fen) tuples."""
        self.rows.append(
            (paid_s, promoter, customer, merchant, device, ip, confirm_s, refund_s, fraud,
             len(lines))
        )
        self.lines.extend(lines)

    def build(self) -> OrderBatch:
        rows = np.array(self.rows, dtype=np.int64).reshape(-1, 10)
        lines = np.array(self.lines, dtype=np.int64).reshape(-1, 4)
        names = [f.name for f in fields(OrderBatch)]
        columns = {name: rows[:, i] for i, name in enumerate(names[:10])}
        columns.update({name: lines[:, i] for i, name in enumerate(names[10:14])})
        columns["line_quantity"] = np.ones(len(lines), dtype=np.int64)  # one unit a line
        return OrderBatch(**columns)


class TouchBuilder:
    def __init__(self) -> None:
        self.rows: list[tuple[int, ...]] = []

    def add(self, ts_s: int, customer: int, promoter: int, channel: int, register: bool,
            device: int, ip: int) -> None:
        self.rows.append((ts_s, customer, promoter, channel, int(register), device, ip))

    def build(self) -> TouchBatch:
        rows = np.array(self.rows, dtype=np.int64).reshape(-1, 7)
        columns = {f.name: rows[:, i] for i, f in enumerate(fields(TouchBatch))}
        columns["register"] = columns["register"].astype(bool)
        return TouchBatch(**columns)
