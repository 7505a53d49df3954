"""`fenrun import-orders` loads hand-written mall exports exactly, all rows or none, once."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from api.commands.import_orders import register
from features.importer import (
    DateRules,
    ImportFileError,
    ImportOptionError,
    ImportOptions,
    ImportRejected,
    import_orders,
    parse_column_mapping,
    parse_instant,
    parse_lines,
    parse_zone,
    read_order_file,
)
from features.importer.convert import event_id
from features.importer.errors import FieldProblem
from features.importer.orders import spread
from features.profiles.service import build_profiles
from settlement import tables as t
from settlement.db import create_db_engine, upgrade
from settlement.events import parse_event
from settlement.plan import PlanBook, parse_plan_text
from settlement.plan_store import load_plan_book, store_versions
from settlement.reports import balances_document, verify_ledger
from settlement.service import apply_batch
from tests.conftest import DEFAULT_PLAN

DATA = Path(__file__).parent / "data"
SIMPLE = DATA / "orders_simple.csv"
MESSY = DATA / "mall_export_lines.csv"
BAD = DATA / "orders_bad.csv"
MESSY_COLUMNS = {
    "order_id": "订单编号", "ts": "下单时间", "customer_id": "买家", "sku": "商品编码",
    "category": "商品类目", "amount": "实付金额", "refunded_amount": "退款金额",
    "refunded_at": "退款时间", "promoter_id": "推广员", "merchant_id": "店铺",
}


def _books(url: str) -> Engine:
    engine = create_db_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, parse_plan_text(DEFAULT_PLAN))
    return engine


@pytest.fixture
def books(sqlite_url: str) -> Iterator[Engine]:
    engine = _books(sqlite_url)
    yield engine
    engine.dispose()


def _plans(engine: Engine) -> PlanBook:
    with engine.connect() as conn:
        return load_plan_book(conn)


def _import(engine: Engine, path: Path, options: ImportOptions | None = None, dry_run=False):
    plans = _plans(engine)
    return import_orders(engine, plans, read_order_file(path, options or ImportOptions(), plans),
                         dry_run)


def _document(engine: Engine) -> dict:
    with engine.connect() as conn:
        return balances_document(conn)


def _distributed_minor(engine: Engine) -> int:
    """Everything the books hold for promoters, merchants and the platform, in fen."""
    document = _document(engine)

    def fen(text: str) -> int:
        whole, _, frac = text.lstrip("-").partition(".")
        return (-1 if text.startswith("-") else 1) * (int(whole) * 100 + int(frac))

    promoters = sum(fen(row[k]) for row in document["promoters"].values()
                    for k in ("pending", "available", "paid"))
    merchants = sum(fen(row["payable"]) for row in document["merchants"].values())
    return promoters + merchants + fen(document["platform"]["revenue"])


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (t.events, t.promoters, t.touches, t.orders, t.journal_entries,
                              t.postings)}


def _reasons(error: ImportRejected) -> dict[int, str]:
    return {reject.row: f"{reject.field}: {reject.reason}" for reject in error.rejects}


# Happy path -----------------------------------------------------------------------------------

def test_simple_file_settles_to_hand_computed_balances(books: Engine) -> None:
    summary = _import(books, SIMPLE)
    assert (summary.rows, summary.orders, summary.customers, summary.promoters) == (5, 5, 4, 2)
    assert summary.gmv_minor == {"CNY": 46000} and summary.refunded_minor == {"CNY": 5000}
    # o4: c1 was touched by pA on o1 within 30 days, so position attribution splits 60/40
    assert _document(books) == {
        "currency": "CNY",
        "promoters": {"pA": {"pending": "3.00", "available": "13.00", "paid": "0.00"},
                      "pB": {"pending": "0.00", "available": "6.50", "paid": "0.00"}},
        "merchants": {"m1": {"payable": "203.50"}, "m2": {"payable": "168.00"}},
        "platform": {"revenue": "16.00"},
    }
    with books.connect() as conn:
        assert verify_ledger(conn) == []
        joined = dict(conn.execute(select(t.promoters.c.promoter_id, t.promoters.c.joined_at))
                      .all())
        parents = set(conn.execute(select(t.promoters.c.parent_id)).scalars())
        channels = set(conn.execute(select(t.touches.c.channel)).scalars())
    assert joined == {"pA": datetime(2026, 2, 1, 10, tzinfo=UTC),
                      "pB": datetime(2026, 2, 3, 12, tzinfo=UTC)}
    assert parents == {None} and channels == {"import"}


def test_messy_chinese_per_line_export_with_mixed_dates(books: Engine) -> None:
    options = ImportOptions(columns=MESSY_COLUMNS, dates=DateRules(parse_zone("Asia/Shanghai")))
    summary = _import(books, MESSY, options)
    assert (summary.rows, summary.orders, summary.lines) == (10, 7, 10)
    assert (summary.customers, summary.promoters) == (5, 2)
    assert summary.gmv_minor == {"CNY": 257820} and summary.refunded_minor == {"CNY": 33940}
    document = _document(books)
    # 小王: 399.00 x 10% + 60% of 10% of (88.00 + 100.00 net) on order 013; the 03-01 order
    # (confirmed at the file's last instant) is still held.
    assert document["promoters"]["推广员-小王"] == {"pending": "26.80", "available": "51.18",
                                                "paid": "0.00"}
    assert document["promoters"]["推广员-小李"]["available"] == "8.69"  # 7.52 + 3% of 39.00
    assert _distributed_minor(books) == 257820 - 33940
    with books.connect() as conn:
        assert verify_ledger(conn) == []
        rows = {r.order_id: r for r in conn.execute(select(t.orders))}
    assert rows["DD20260201-001"].paid_at == datetime(2026, 2, 1, 2, 15, tzinfo=UTC)
    assert rows["DD20260205-021"].paid_at == datetime(2026, 2, 5, 6, tzinfo=UTC)  # epoch
    assert rows["DD20260203-013"].paid_at == datetime(2026, 2, 3, 0, 5, tzinfo=UTC)  # dd.mm.yyyy
    assert rows["DD20260206-030"].customer_id == "买家_赵六"  # cells are stripped
    assert [line[0] for line in json.loads(rows["DD20260202-007"].lines)] == ["line-1"]
    assert [line[0] for line in json.loads(rows["DD20260203-013"].lines)] == [
        "SKU-茶叶", "SKU-茶具", "SKU-茶叶-赠品"]


def test_imported_history_feeds_the_promoter_profiles(books: Engine) -> None:
    """The profiles the models train on read imported orders like any other."""
    options = ImportOptions(columns=MESSY_COLUMNS, dates=DateRules(parse_zone("Asia/Shanghai")))
    _import(books, MESSY, options)
    profiles = build_profiles(books, "2026-03-01T00:00:00Z").set_index("promoter_id")
    assert profiles.loc["推广员-小王", "commission_30d"] == pytest.approx(51.18 + 26.80)
    assert profiles.loc["推广员-小李", "commission_30d"] == pytest.approx(8.69)
    assert (profiles["channel_share_other"] == 1.0).all()  # touches come on channel "import"


def test_reimport_is_a_no_op(books: Engine) -> None:
    _import(books, SIMPLE)
    before = (_counts(books), _document(books))
    again = _import(books, SIMPLE)
    assert (again.events_applied, again.new_promoters, again.holds_released) == (0, 0, 0)
    assert again.events_already_present == 15
    assert (_counts(books), _document(books)) == before


def test_gbk_export_needs_its_encoding(books: Engine, tmp_path: Path) -> None:
    gbk = tmp_path / "export-gbk.csv"
    gbk.write_bytes(MESSY.read_text(encoding="utf-8").encode("gbk"))
    options = ImportOptions(columns=MESSY_COLUMNS, dates=DateRules(parse_zone("Asia/Shanghai")))
    with pytest.raises(ImportFileError, match="--encoding, e.g. gbk"):
        _import(books, gbk, options)
    summary = _import(books, gbk, replace(options, encoding="gbk"))
    assert summary.gmv_minor == {"CNY": 257820}


def test_dry_run_stores_nothing(books: Engine) -> None:
    before = _counts(books)
    summary = _import(books, SIMPLE, dry_run=True)
    assert summary.dry_run and summary.events_applied == 17 and summary.holds_released == 4
    assert _counts(books) == before


# Rejects --------------------------------------------------------------------------------------

def test_every_bad_row_is_reported_and_nothing_is_stored(books: Engine) -> None:
    before = _counts(books)
    with pytest.raises(ImportRejected) as caught:
        _import(books, BAD)
    reasons = _reasons(caught.value)
    expected = {
        3: "customer_id: is required but empty",
        4: "amount: CNY has 2 minor digits",
        5: "row: has 12 fields, the header has 11",
        6: "amount: not a non-negative decimal amount",
        7: "refunded_amount: exceeds the row's amount 20.00",
        8: "ts: day/month order (or century) is ambiguous",
        9: "ts: not a date/time in a known form",
        10: "refunded_at: is before the order's ts",
        11: "promoter_id: is the buyer's own id (self-referral)",
        13: "customer_id: differs from row 12 of order 'b11'",
        15: "sku: appears twice in order 'b12' (first on row 14)",
        16: "currency: unknown currency code",
        17: "currency: the plan in force settles in CNY (got 'USD')",
        18: "ts: no commission plan is in force at 2025-06-01",
        19: "ts: a number that is neither epoch seconds",
        20: "amount: is required but empty",
        21: "row: has 12 fields, the header has 11",
        22: "amount: not a non-negative decimal amount (got '1,234.00')",
    }
    assert sorted(reasons) == sorted(expected)  # row 2 (b1) is valid, but not imported either
    for row, start in expected.items():
        assert reasons[row].startswith(start), (row, reasons[row])
    assert _counts(books) == before


def test_a_row_can_fail_for_several_reasons_at_once(books: Engine) -> None:
    text = "order_id,customer_id,ts,amount,merchant_id\n,,soon,x,m1\n"
    with pytest.raises(ImportRejected) as caught:
        parse_lines(io.StringIO(text), ImportOptions(), _plans(books))
    assert {(r.row, r.field) for r in caught.value.rejects} == {
        (2, "order_id"), (2, "customer_id"), (2, "ts"), (2, "amount")}


def test_engine_rejects_abort_the_whole_file(books: Engine) -> None:
    _import(books, SIMPLE)
    before = (_counts(books), _document(books))
    with pytest.raises(ImportRejected) as caught:
        _import(books, DATA / "orders_conflict.csv")  # o2 again, with another amount
    assert _reasons(caught.value) == {3: "order_paid: import:o2:paid is already in the books "
                                         "with different content (was the file or an option "
                                         "such as --timezone changed since it was imported?)"}
    assert (_counts(books), _document(books)) == before  # o9 and pC were rolled back too


def test_known_promoter_who_joined_after_the_order_is_rejected(books: Engine) -> None:
    plans = _plans(books)
    joined = parse_event({"event_id": "live-1", "type": "promoter_joined",
                          "ts": "2026-03-01T00:00:00Z", "promoter_id": "pA"})
    with books.begin() as conn:
        apply_batch(conn, plans, [joined])
    before = _counts(books)
    with pytest.raises(ImportRejected) as caught:
        _import(books, SIMPLE)
    assert _reasons(caught.value)[2] == "touch: promoter_id: pA joined after this touch"
    assert _counts(books) == before


def test_order_already_paid_through_live_events_is_rejected(books: Engine) -> None:
    paid = parse_event({"event_id": "live-o3", "type": "order_paid",
                        "ts": "2026-02-05T08:30:00Z", "order_id": "o3", "customer_id": "c3",
                        "merchant_id": "m1", "currency": "CNY",
                        "lines": [{"sku": "x", "category": "食品", "amount": "80.00"}]})
    plans = _plans(books)
    with books.begin() as conn:
        apply_batch(conn, plans, [paid])
    with pytest.raises(ImportRejected) as caught:
        _import(books, SIMPLE)
    assert _reasons(caught.value) == {4: "order_paid: order_id: o3 was already paid"}


def test_dst_gaps_and_folds_are_refused() -> None:
    rules = DateRules(parse_zone("Europe/Berlin"))
    for text, what in (("2026-03-29 02:30", "does not exist"),
                       ("2026-10-25 02:30", "is ambiguous")):
        with pytest.raises(FieldProblem, match=what):
            parse_instant(text, "ts", rules)
    assert parse_instant("2026-10-25 02:30+01:00", "ts", rules) == datetime(
        2026, 10, 25, 1, 30, tzinfo=UTC)


# Options and formats --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-01T10:15:00+08:00", datetime(2026, 3, 1, 2, 15)),
    ("2026-03-01T10:15:00Z", datetime(2026, 3, 1, 10, 15)),
    ("2026-03-01 10:15", datetime(2026, 3, 1, 10, 15)),
    ("2026-03-01", datetime(2026, 3, 1)),
    ("2026/3/1 10:15", datetime(2026, 3, 1, 10, 15)),
    ("2026/03/01", datetime(2026, 3, 1)),
    ("01.03.2026", datetime(2026, 3, 1)),
    ("01.03.2026 10:15:30", datetime(2026, 3, 1, 10, 15, 30)),
    ("2026年3月1日 10:15", datetime(2026, 3, 1, 10, 15)),
    ("1772360100", datetime(2026, 3, 1, 10, 15)),
    ("1772360100.25", datetime(2026, 3, 1, 10, 15, 0, 250000)),
    ("1772360100250", datetime(2026, 3, 1, 10, 15, 0, 250000)),
])
def test_unambiguous_date_forms(text: str, expected: datetime) -> None:
    assert parse_instant(text, "ts", DateRules()) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize("text", ["01/03/2026", "1-3-2026", "01.03.26", "20260301", "31.02.2026",
                                  "2026-13-01", "next tuesday"])
def test_ambiguous_or_invalid_dates_are_refused(text: str) -> None:
    with pytest.raises(FieldProblem):
        parse_instant(text, "ts", DateRules())


def test_date_format_resolves_day_month_order() -> None:
    shanghai = parse_zone("+08:00")
    day_first = DateRules(shanghai, "%d/%m/%Y %H:%M")
    month_first = DateRules(shanghai, "%m/%d/%Y %H:%M")
    assert parse_instant("01/03/2026 08:00", "ts", day_first) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_instant("01/03/2026 08:00", "ts", month_first) == datetime(2026, 1, 3,
                                                                            tzinfo=UTC)
    assert parse_instant("2026-03-01T00:00:00Z", "ts", day_first) == datetime(2026, 3, 1,
                                                                              tzinfo=UTC)


def test_column_mapping_and_its_errors(books: Engine) -> None:
    plans = _plans(books)
    text = "buyer,no,created,paid\nc1,o1,2026-02-01,1.00\n"
    mapping = parse_column_mapping(["customer_id=buyer", "order_id=no", "ts=created",
                                    "amount=paid"])
    parsed = parse_lines(io.StringIO(text), ImportOptions(columns=mapping, merchant_id="m"),
                         plans)
    order = parsed.orders[0]
    assert (order.customer_id, order.merchant_id, order.lines[0].category) == (
        "c1", "m", "uncategorized")
    with pytest.raises(ImportFileError, match="missing column.*customer_id"):
        parse_lines(io.StringIO(text), ImportOptions(merchant_id="m"), plans)
    with pytest.raises(ImportFileError, match="no merchant_id column"):
        parse_lines(io.StringIO(text), ImportOptions(columns=mapping), plans)
    with pytest.raises(ImportOptionError, match="no such column"):
        parse_lines(io.StringIO(text), ImportOptions(columns={**mapping, "sku": "item"},
                                                     merchant_id="m"), plans)
    with pytest.raises(ImportOptionError, match="unknown column name"):
        ImportOptions(columns={"buyer_id": "buyer"})
    with pytest.raises(ImportOptionError, match="NAME=HEADER"):
        parse_column_mapping(["customer_id"])
    with pytest.raises(ImportOptionError, match="not a time zone"):
        parse_zone("Mars/Olympus")


def test_per_order_refunds_spread_over_lines_in_a_tab_separated_file(books: Engine) -> None:
    options = ImportOptions(
        columns=parse_column_mapping(["order_id=order_no", "customer_id=buyer", "ts=created",
                                      "amount=line_total", "refunded_amount=order_refund",
                                      "refunded_at=refund_time", "merchant_id=shop"]),
        dates=DateRules(parse_zone("+08:00")), refund_scope="order",
        refund_delay=timedelta(days=2), delimiter="\t")
    summary = _import(books, DATA / "orders_per_order_refunds.tsv", options)
    assert summary.refunded_minor == {"CNY": 701}
    with books.connect() as conn:
        lines = json.loads(conn.execute(select(t.orders.c.lines).where(
            t.orders.c.order_id == "R-1")).scalar_one())
        refund_ts = dict(conn.execute(select(t.events.c.event_id, t.events.c.ts).where(
            t.events.c.type == "order_refunded")).all())
        assert verify_ledger(conn) == []
    assert [(line[0], line[3]) for line in lines] == [("A", 117), ("B", 233), ("C", 350)]
    assert refund_ts == {
        "import:R-1:refunded:20260203T010000Z": datetime(2026, 2, 3, 1, tzinfo=UTC),
        "import:R-2:refunded:20260204T020000Z": datetime(2026, 2, 4, 2, tzinfo=UTC)}


@given(st.integers(0, 10**7), st.lists(st.integers(0, 10**6), min_size=1, max_size=8))
def test_spread_is_exact_and_bounded(total: int, weights: list[int]) -> None:
    total = min(total, sum(weights))
    shares = spread(total, weights)
    assert sum(shares) == total
    assert all(0 <= share <= weight for share, weight in zip(shares, weights, strict=True))


def test_long_ids_get_digest_event_ids() -> None:
    long_id = "订" * 128
    assert len(event_id(long_id, "refunded:20260301T000000.123456Z")) <= 128
    assert event_id("o1", "paid") == "import:o1:paid"


# CLI ------------------------------------------------------------------------------------------

def _cli() -> typer.Typer:
    """The command on an app of its own: `api.cli` imports every command module (slow)."""
    app = typer.Typer()
    app.callback()(lambda: None)  # keep `import-orders` a subcommand, as in `fenrun`
    register(app)
    return app


def test_cli_reports_rejects_as_file_row_field_reason(sqlite_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _books(sqlite_url).dispose()
    monkeypatch.setenv("FENRUN_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(_cli(), ["import-orders", str(BAD)])
    assert result.exit_code == 1
    assert f"{BAD}:8: ts: day/month order (or century) is ambiguous" in result.stderr
    assert "nothing was imported" in result.stderr
    result = CliRunner().invoke(_cli(), ["import-orders", str(BAD), "--timezone", "Nowhere/City"])
    assert result.exit_code == 2 and "--timezone" in result.stderr


def test_cli_imports_with_column_options_and_prints_a_summary(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _books(sqlite_url).dispose()
    monkeypatch.setenv("FENRUN_DATABASE_URL", sqlite_url)
    columns = [arg for name, header in MESSY_COLUMNS.items()
               for arg in ("--column", f"{name}={header}")]
    result = CliRunner().invoke(_cli(), ["import-orders", str(MESSY), "--timezone",
                                         "Asia/Shanghai", *columns])
    assert result.exit_code == 0, result.output
    assert "10 rows, 7 orders, 10 lines, 5 customers, 2 promoters (2 new)" in result.stdout
    assert "GMV 2578.20 CNY, refunds 339.40 CNY" in result.stdout
    again = CliRunner().invoke(_cli(), ["import-orders", str(MESSY), "--timezone",
                                        "Asia/Shanghai", *columns])
    assert again.exit_code == 0 and "events applied 0, already in the books 22" in again.stdout


def test_cli_without_a_stored_plan_exits_2(sqlite_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENRUN_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(_cli(), ["import-orders", str(SIMPLE)])
    assert result.exit_code == 2 and "fenrun plan apply" in result.stderr


# Property: any valid file conserves money ------------------------------------------------------

START = datetime(2026, 1, 5, tzinfo=UTC)
FORMATS = [
    lambda at: at.isoformat().replace("+00:00", "Z"),
    lambda at: f"{at:%Y-%m-%d %H:%M:%S}",
    lambda at: f"{at:%Y/%m/%d %H:%M}",
    lambda at: f"{at:%d.%m.%Y %H:%M}",
    lambda at: str(int(at.timestamp())),
    lambda at: f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}",
]
line_st = st.tuples(st.sampled_from(["服饰", "electronics", "食品"]), st.integers(0, 50_000),
                    st.integers(0, 100))
order_st = st.tuples(
    st.sampled_from(["c1", "c2", "顾客3", "p1"]), st.sampled_from([None, "p1", "p2", "推广-3"]),
    st.integers(0, 60 * 24 * 60), st.sampled_from(range(len(FORMATS))),
    st.lists(line_st, min_size=1, max_size=3))


def _csv(orders: list, rng: random.Random) -> tuple[str, int, int]:
    rows, gmv, refunds = [], 0, 0
    for number, (customer, promoter, minute, fmt, lines) in enumerate(orders):
        promoter = None if promoter == customer else promoter  # self-referral is a reject
        ts = FORMATS[fmt](START + timedelta(minutes=minute))
        for category, amount, refund_pct in lines:
            refund = amount * refund_pct // 100
            gmv, refunds = gmv + amount, refunds + refund
            rows.append([f"订单-{number}", customer, ts, f"{amount // 100}.{amount % 100:02d}",
                         promoter or "", "m1", category,
                         f"{refund // 100}.{refund % 100:02d}" if refund else ""])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["order_id", "customer_id", "ts", "amount", "promoter_id", "merchant_id",
                     "category", "refunded_amount"])
    rng.shuffle(rows)  # lines of one order need not be adjacent
    writer.writerows(rows)
    return out.getvalue(), gmv, refunds


@pytest.fixture(scope="module")
def template_db() -> Iterator[Path]:
    """A schema-ready database with the plan stored, copied per example (migrations are slow)."""
    folder = Path(tempfile.mkdtemp(prefix="fenrun-import-"))
    _books(f"sqlite:///{folder / 'template.db'}").dispose()
    yield folder / "template.db"
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=30, deadline=None)
@given(st.lists(order_st, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_any_valid_file_distributes_exactly_paid_minus_refunded(
        template_db: Path, orders: list, rng: random.Random) -> None:
    text, gmv, refunds = _csv(orders, rng)
    folder = Path(tempfile.mkdtemp(prefix="fenrun-import-"))
    try:
        shutil.copy(template_db, folder / "f.db")
        engine = create_db_engine(f"sqlite:///{folder / 'f.db'}")
        plans = _plans(engine)
        summary = import_orders(engine, plans, parse_lines(io.StringIO(text), ImportOptions(),
                                                           plans))
        assert summary.gmv_minor.get("CNY", 0) == gmv
        assert summary.refunded_minor.get("CNY", 0) == refunds
        assert _distributed_minor(engine) == gmv - refunds
        with engine.connect() as conn:
            assert verify_ledger(conn) == []
        again = import_orders(engine, plans, parse_lines(io.StringIO(text), ImportOptions(),
                                                         plans))
        assert again.events_applied == 0
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
