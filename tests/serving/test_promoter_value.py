"""Proves the promoter value service reads the stored snapshots (newest first, or the one asked
for; one written before the margin basis reads as basis "gmv"), sums segments exactly in whole
minor units on both bases, and names the promoters who cost more than they bring with confidence
on the margin basis, not the ones with too little data to tell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.profiles.store import PROMOTER_VALUE_TABLE, write_snapshot
from serving.config import ServingSettings
from serving.errors import NoSnapshot
from serving.promoter_value import UNSEGMENTED, PromoterValueService
from tests.promoter_value_store import (
    AS_OF,
    EARLIER,
    PROMOTERS,
    build_value_store,
    contribution_ltv,
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> PromoterValueService:
    return PromoterValueService(build_value_store(tmp_path_factory.mktemp("value")))


def test_snapshots_newest_first_and_the_newest_by_default(service: PromoterValueService) -> None:
    assert service.snapshots() == [AS_OF, EARLIER]
    report = service.report()
    assert report.as_of == AS_OF and report.horizon_days == 90 and report.currency == "CNY"
    assert report.basis == "margin" and report.has_segments
    assert not service.report(EARLIER).has_segments


def test_totals_are_whole_minor_units_of_every_customer(service: PromoterValueService) -> None:
    report = service.report()
    totals = report.totals
    assert totals.promoters == len(PROMOTERS)
    assert totals.customers == sum(n for _, n, *_ in PROMOTERS.values())
    assert totals.cac_minor == sum(n * cac for _, n, _, _, cac in PROMOTERS.values())
    # each customer's forecast (x.4 fen) is rounded to the fen once, then summed
    assert totals.gmv_ltv_minor == sum(n * (r + p) for _, n, r, p, _ in PROMOTERS.values())
    assert totals.contribution_ltv_minor == sum(map(contribution_ltv, PROMOTERS)) == 936_850
    assert totals.ltv_cac == pytest.approx(936_850 / 1_160_000)
    assert totals.gmv_ltv_cac == pytest.approx(totals.gmv_ltv_minor / 1_160_000)
    p = report.promoters
    money = p[["gmv_realised_minor", "gmv_predicted_minor", "gmv_ltv_minor",
               "contribution_realised_minor", "contribution_predicted_minor",
               "contribution_ltv_minor", "cac_minor"]]
    assert all(str(dtype) == "int64" for dtype in money.dtypes)
    assert (p["gmv_ltv_minor"] == p["gmv_realised_minor"] + p["gmv_predicted_minor"]).all()
    assert (p["contribution_ltv_minor"]
            == p["contribution_realised_minor"] + p["contribution_predicted_minor"]).all()
    assert (p["basis"] == "margin").all() and (report.channels["basis"] == "margin").all()


def test_segments_sum_their_promoters(service: PromoterValueService) -> None:
    segments = service.report().segments().set_index("segment")
    assert list(segments.index) == ["high-GMV veterans", "low-GMV novices", UNSEGMENTED]
    assert (segments["basis"] == "margin").all()
    novices = segments.loc["low-GMV novices"]
    assert (novices["promoters"], novices["customers"]) == (2, 60)
    assert novices["cac_minor"] == 600_000
    assert novices["contribution_ltv_minor"] == 40 * 1_050 + 20 * 1_750 == 77_000
    assert novices["gmv_ltv_minor"] == 40 * 5_000 + 20 * 8_000 == 360_000
    assert novices["ltv_cac"] == pytest.approx(77_000 / 600_000)
    assert novices["gmv_ltv_cac"] == pytest.approx(360_000 / 600_000)
    assert novices["confidently_losing"] == 2
    veterans = segments.loc["high-GMV veterans"]
    assert veterans["contribution_ltv_minor"] == 30 * 22_900 + 25 * 6_900
    assert veterans["confidently_losing"] == 1  # P-OK: 3x its cost on GMV, 0.69 on margin
    assert segments.loc[UNSEGMENTED, "promoters"] == 1  # P-NEW: no segment assigned


def test_only_a_band_wholly_below_break_even_is_confidently_losing(
        service: PromoterValueService) -> None:
    report = service.report()
    losing = report.confidently_losing()
    assert list(losing["promoter_id"]) == ["P-LOSS", "P-OK", "P-MEH"]  # costliest first
    promoters = report.promoters.set_index("promoter_id")
    ok = promoters.loc["P-OK"]
    assert ok["gmv_ltv_cac"] == pytest.approx(3.0, abs=1e-3) and ok["ltv_cac"] == 0.69
    new = promoters.loc["P-NEW"]
    assert new["ltv_cac"] < 1 < new["ltv_cac_high"]  # one customer: too little data to tell


def test_a_snapshot_written_before_the_margin_basis_reads_as_gmv(
        service: PromoterValueService) -> None:
    """The earlier snapshot has the old columns only (realised/predicted/ltv_minor, no basis)."""
    report = service.report(EARLIER)
    assert report.basis == "gmv"
    totals = report.totals
    assert totals.contribution_ltv_minor is None
    assert totals.gmv_ltv_minor == sum(n * (r + p) for _, n, r, p, _ in PROMOTERS.values())
    assert totals.ltv_cac == totals.gmv_ltv_cac == pytest.approx(totals.gmv_ltv_minor
                                                                 / 1_160_000)
    star = report.promoter("P-STAR")
    assert (star.basis, star.gmv_ltv_minor, star.contribution_ltv_minor) == (
        "gmv", 30 * 100_000, None)
    assert star.ltv_cac == star.gmv_ltv_cac == pytest.approx(10.0, abs=1e-3)
    # on GMV only the two poster promoters lose with confidence, as the old code said
    assert list(report.confidently_losing()["promoter_id"]) == ["P-LOSS", "P-MEH"]
    segments = report.segments()
    assert (segments["basis"] == "gmv").all() and "contribution_ltv_minor" not in segments
    assert (report.channels["basis"] == "gmv").all()


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
