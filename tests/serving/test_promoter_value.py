"""Proves the promoter value service reads the stored snapshots (newest first, or the one asked
for), sums segments exactly in whole minor units, and names the promoters who cost more than they
bring with confidence, not the ones with too little data to tell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.profiles.store import PROMOTER_VALUE_TABLE, write_snapshot
from serving.config import ServingSettings
from serving.errors import NoSnapshot
from serving.promoter_value import UNSEGMENTED, PromoterValueService
from tests.promoter_value_store import AS_OF, EARLIER, PROMOTERS, build_value_store


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> PromoterValueService:
    return PromoterValueService(build_value_store(tmp_path_factory.mktemp("value")))


def test_snapshots_newest_first_and_the_newest_by_default(service: PromoterValueService) -> None:
    assert service.snapshots() == [AS_OF, EARLIER]
    report = service.report()
    assert report.as_of == AS_OF and report.horizon_days == 90 and report.currency == "CNY"
    assert report.has_segments
    assert not service.report(EARLIER).has_segments


def test_totals_are_whole_minor_units_of_every_customer(service: PromoterValueService) -> None:
    report = service.report()
    totals = report.totals
    assert totals.promoters == len(PROMOTERS)
    assert totals.customers == sum(n for _, n, *_ in PROMOTERS.values())
    assert totals.cac_minor == sum(n * cac for _, n, _, _, cac in PROMOTERS.values())
    # each customer's forecast (x.4 fen) is rounded to the fen once, then summed
    assert totals.ltv_minor == sum(n * (r + p) for _, n, r, p, _ in PROMOTERS.values())
    money = report.promoters[["realised_minor", "predicted_minor", "ltv_minor", "cac_minor"]]
    assert all(str(dtype) == "int64" for dtype in money.dtypes)
    assert (report.promoters["ltv_minor"]
            == report.promoters["realised_minor"] + report.promoters["predicted_minor"]).all()


def test_segments_sum_their_promoters(service: PromoterValueService) -> None:
    segments = service.report().segments().set_index("segment")
    assert list(segments.index) == ["high-GMV veterans", "low-GMV novices", UNSEGMENTED]
    novices = segments.loc["low-GMV novices"]
    assert (novices["promoters"], novices["customers"]) == (2, 60)
    assert novices["cac_minor"] == 600_000
    assert novices["ltv_cac"] == pytest.approx(novices["ltv_minor"] / 600_000)
    assert novices["confidently_losing"] == 2
    assert segments.loc[UNSEGMENTED, "promoters"] == 1  # P-NEW: no segment assigned


def test_only_a_band_wholly_below_break_even_is_confidently_losing(
        service: PromoterValueService) -> None:
    report = service.report()
    losing = report.confidently_losing()
    assert list(losing["promoter_id"]) == ["P-LOSS", "P-MEH"]  # costliest first
    new = report.promoters.set_index("promoter_id").loc["P-NEW"]
    assert new["ltv_cac"] < 1 < new["ltv_cac_high"]  # one customer: too little data to tell


def test_missing_snapshots_are_a_named_error(tmp_path: Path) -> None:
    empty = PromoterValueService(ServingSettings(feature_store_dir=str(tmp_path)))
    assert empty.snapshots() == []
    with pytest.raises(NoSnapshot, match="fenrun ltv promoters"):
        empty.report()
    build_value_store(tmp_path)
    service = PromoterValueService(ServingSettings(feature_store_dir=str(tmp_path)))
    # An instant between or after the snapshots gets the newest at or before it.
    assert service.report(pd.Timestamp("2026-05-01T00:00:00Z")).as_of == AS_OF
    assert service.report(pd.Timestamp("2026-03-31T00:00:00Z")).as_of == EARLIER
    with pytest.raises(NoSnapshot, match="at or before 2026-02-01") as caught:
        service.report(pd.Timestamp("2026-02-01T00:00:00Z"))
    assert str(tmp_path) not in str(caught.value)


def test_a_half_written_pair_is_not_listed(tmp_path: Path) -> None:
    """A promoter table without its channel table (a run that died between the two writes)."""
    build_value_store(tmp_path)
    service = PromoterValueService(ServingSettings(feature_store_dir=str(tmp_path)))
    lone = service.report().promoters.assign(as_of=pd.Timestamp("2026-06-01T00:00:00Z"))
    write_snapshot(lone, tmp_path, PROMOTER_VALUE_TABLE)
    assert pd.Timestamp("2026-06-01T00:00:00Z") not in service.snapshots()
