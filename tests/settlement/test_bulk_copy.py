"""Proves that the binary COPY stream settle formats row by row is byte for byte the one psycopg's
own `Copy` writes for the same rows and types (NULLs, text beyond ASCII, bools, ints, instants)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from settlement.bulk import binary_copy_data, copy_data_through_psycopg

TYPES = ["text", "int8", "int4", "bool", "timestamptz", "text"]
ROWS = [
    ("O1", 12_345, 1, True, datetime(2026, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC), None),
    ("订单-2 \"quoted\"", -(2**62), -7, False, datetime(2026, 1, 2, tzinfo=UTC), "{\"a\":1}"),
    ("", 0, 0, None, None, ""),
    ("O3", 9, 2**31 - 1, True,
     datetime(2026, 6, 1, 8, tzinfo=UTC).astimezone(UTC) + timedelta(microseconds=1), "x"),
]


def test_rows_format_as_psycopgs_copy_writes_them(postgres_url: str) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as raw:
        for rows in (ROWS, ROWS[:1], []):
            assert binary_copy_data(raw, TYPES, rows) == copy_data_through_psycopg(raw, TYPES, rows)


def test_the_stream_loads_back_the_same_rows(postgres_url: str) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as raw:
        raw.execute("CREATE TEMP TABLE t (a text, b int8, c int4, d bool, e timestamptz, f text)")
        with raw.cursor() as cursor, cursor.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(binary_copy_data(raw, TYPES, ROWS))
        got = raw.execute("SELECT * FROM t").fetchall()
    assert [tuple(row) for row in got] == [tuple(row) for row in ROWS]
