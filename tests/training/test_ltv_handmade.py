"""Proves the LTV pipeline works on a hand-written order history settled through the engine (not
the simulator): point-in-time refunds, acquirers, labels, CAC, and `fenrun ltv evaluate`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from serving.config import ServingSettings
from serving.promoter_value import PromoterValueService
from settlement.db import create_db_engine
from tests.training.ltv_fixtures import handmade_events, settle_into
from training.ltv.evaluation import evaluate_ltv
from training.ltv.features import acquisitions, customer_features, window_labels
from training.ltv.history import History, load_history
from training.ltv.promoter_value import customer_value, promoter_value


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('handmade') / 'books.db'}"
    settle_into(url, handmade_events())
    return url


@pytest.fixture(scope="module")
def history(books: str) -> History:
    engine = create_db_engine(books)
    with engine.connect() as conn:
        loaded = load_history(conn)
    engine.dispose()
    return loaded


def _by_customer(frame: pd.DataFrame, column: str) -> dict[str, float]:
    return frame.set_index("customer_id")[column].to_dict()


def test_refunds_count_only_from_their_own_date(history: History) -> None:
    # A2 (80.50) was refunded on 2025-02-20 (China time): before that alice had 200.50 net.
    before = customer_features(history, pd.Timestamp("2025-02-15T00:00Z"))
    after = customer_features(history, pd.Timestamp("2025-03-01T00:00Z"))
    assert _by_customer(before, "net_total_minor")["alice"] == 20050
    assert _by_customer(after, "net_total_minor")["alice"] == 12000
    assert _by_customer(after, "refunded_orders")["alice"] == 1


def test_acquirers_and_unpromoted_orders(history: History) -> None:
    acquired = acquisitions(history, pd.Timestamp("2025-06-01T00:00Z"))
    assert _by_customer(acquired, "promoter_id") == {
        "alice": "PA", "bob": "PB", "carol": "none", "dave": "PB", "erin": "PA"}
    assert _by_customer(acquired, "channel")["alice"] == "wechat"


def test_labels_are_the_window_net_revenue(history: History) -> None:
    labels = window_labels(history, pd.Timestamp("2025-03-31T00:00Z"),
                           pd.Timestamp("2025-05-31T00:00Z"))
    assert _by_customer(labels, "actual_minor") == {
        "alice": 4500, "bob": 1500, "dave": 31000, "erin": 2500}


def test_cac_is_the_commission_of_the_first_order(history: History) -> None:
    customers = customer_value(history, pd.Timestamp("2025-06-01T00:00Z"), 30)
    assert _by_customer(customers, "cac_minor") == {"alice": 1200, "bob": 9999, "dave": 3000,
                                                    "erin": 250}
    # alice's later orders: A2 earned 805 then was refunded in full, A3 earned 450.
    assert _by_customer(customers, "commission_later_minor")["alice"] == 450
    value = promoter_value(customers, replicates=50)
    pa = value.promoters.set_index("promoter_id").loc["PA"]
    assert pa["customers"] == 2 and pa["cac_minor"] == 1450
    assert pa["ltv_cac_low"] <= pa["ltv_cac_shrunk"] <= pa["ltv_cac_high"]


def test_small_history_falls_back_to_bgnbd(history: History) -> None:
    result = evaluate_ltv(history, pd.Timestamp("2025-04-01T00:00Z"), 30)
    assert result.model.kind == "bgnbd"
    assert set(result.predictions["customer_id"]) == {"alice", "bob", "carol", "dave"}
    assert (result.predictions["predicted"] >= 0).all()


def test_cli_writes_predictions_and_prints_the_table(books: str, tmp_path: Path) -> None:
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(
        app, ["ltv", "evaluate", "--cutoff", "2025-04-01", "--horizon-days", "30",
              "--out", str(out)], env={"FENRUN_DATABASE_URL": books})
    assert result.exit_code == 0, result.output
    assert "bgnbd" in result.output and "historical_avg" in result.output
    written = pd.read_csv(out, dtype=str)
    assert list(written.columns) == ["customer_id", "predicted", "actual"]
    # Amounts in yuan, as the orders were typed, not fen.
    assert _by_customer(written, "actual") == {"alice": "45.00", "bob": "0.00", "carol": "0.00",
                                               "dave": "310.00"}
    assert written["predicted"].str.fullmatch(r"\d+\.\d{2}").all()


def test_cli_refuses_a_window_past_the_books(books: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ltv", "evaluate", "--cutoff", "2025-05-01", "--horizon-days", "90",
              "--out", str(tmp_path / "p.csv")], env={"FENRUN_DATABASE_URL": books})
    assert result.exit_code == 2
    assert "incomplete" in result.output


def test_cli_takes_a_promotion_calendar(books: str, tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text("timezone: Asia/Shanghai\npromotions:\n"
                        "  - {date: 2025-03-08, kind: main, name: 女王节}\n", encoding="utf-8")
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(
        app, ["ltv", "evaluate", "--cutoff", "2025-04-01", "--horizon-days", "30",
              "--out", str(out), "--calendar", str(calendar)],
        env={"FENRUN_DATABASE_URL": books})
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 4


def test_cli_names_the_field_of_a_bad_calendar(books: str, tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text("promotions:\n  - {date: 2025-02-30, kind: main}\n", encoding="utf-8")
    out = tmp_path / "predictions.csv"
    result = CliRunner().invoke(
        app, ["ltv", "evaluate", "--cutoff", "2025-04-01", "--horizon-days", "30",
              "--out", str(out)],
        env={"FENRUN_DATABASE_URL": books, "FENRUN_LTV_CALENDAR": str(calendar)})
    assert result.exit_code == 2
    assert "--calendar" in result.output and "promotions[0]" in result.output
    assert not out.exists()


def test_cli_promoters_stores_the_snapshot_the_dashboard_reads(books: str, tmp_path: Path) -> None:
    env = {"FENRUN_DATABASE_URL": books, "FENRUN_FEATURE_STORE_DIR": str(tmp_path / "store"),
           "FENRUN_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    args = ["ltv", "promoters", "--as-of", "2025-06-01", "--horizon-days", "30",
            "--no-use-champion"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "no segment column" in result.output  # no segments champion in this registry
    wechat = next(line.split() for line in result.output.splitlines()
                  if line.strip().startswith("wechat"))
    assert wechat[1:2] == ["4"] and "144.49" in wechat  # 4 customers; CAC 14.50 + 129.99 CNY
    service = PromoterValueService(ServingSettings(feature_store_dir=str(tmp_path / "store")))
    assert service.snapshots() == [pd.Timestamp("2025-06-01T00:00:00Z")]
    report = service.report()
    promoters = report.promoters.set_index("promoter_id")
    assert promoters["cac_minor"].to_dict() == {"PA": 1450, "PB": 12999}
    assert report.basis == "margin" and report.horizon_days == 30
    assert str(promoters["gmv_ltv_minor"].dtype) == "int64"
    assert str(promoters["contribution_ltv_minor"].dtype) == "int64"
    assert promoters["segment_id"].isna().all()
    again = CliRunner().invoke(app, args, env=env)  # a rerun replaces the same as-of
    assert again.exit_code == 0, again.output
    assert service.snapshots() == [pd.Timestamp("2025-06-01T00:00:00Z")]


@pytest.mark.parametrize(("categories", "named"), [
    ('{"beauty": "1.5"}', "FENRUN_MARGIN_CATEGORIES['beauty']"),
    ('{"beauty": ', "FENRUN_MARGIN_*"),  # not JSON
])
def test_cli_promoters_refuses_a_bad_margin_by_name(books: str, tmp_path: Path,
                                                    categories: str, named: str) -> None:
    result = CliRunner().invoke(
        app, ["ltv", "promoters", "--as-of", "2025-06-01", "--no-use-champion"],
        env={"FENRUN_DATABASE_URL": books, "FENRUN_FEATURE_STORE_DIR": str(tmp_path),
             "FENRUN_MARGIN_CATEGORIES": categories})
    assert result.exit_code == 2
    assert named in result.output
    assert not list(tmp_path.iterdir())  # nothing stored


def test_cli_promoters_before_the_first_order_is_refused(books: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ltv", "promoters", "--as-of", "2024-12-31", "--no-use-champion"],
        env={"FENRUN_DATABASE_URL": books, "FENRUN_FEATURE_STORE_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "--as-of: no order was paid by 2024-12-31" in result.output
    assert not any(tmp_path.iterdir())  # nothing stored
