"""Proves the segments document is read into the catalogue largest first, and that LTV/CAC is
joined per stable segment id from a value snapshot (a segment with no promoter in it gets none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from serving.promoter_value import PromoterValueService
from serving.segments import catalogue_from
from tests.promoter_value_store import build_value_store

DOCUMENT = {
    "1": {"name": "high-GMV veterans", "share": 0.2, "centroid": {"gmv_90d": 2500.0}},
    "2": {"name": "low-GMV novices", "share": 0.7, "centroid": {"gmv_90d": 10.0}},
    "3": {"name": "team-leaders recruiters", "share": 0.1, "centroid": {"gmv_90d": 900.0}},
}


def test_segments_largest_first_with_their_centres() -> None:
    catalogue = catalogue_from("4", DOCUMENT)
    assert catalogue.champion_version == "4"
    assert [s.segment_id for s in catalogue.segments] == [2, 1, 3]
    assert catalogue.segments[0].centroid == {"gmv_90d": 10.0}
    assert list(catalogue.table()["segment"]) == ["low-GMV novices", "high-GMV veterans",
                                                  "team-leaders recruiters"]


def test_ltv_cac_is_joined_by_segment_id(tmp_path: Path) -> None:
    value = PromoterValueService(build_value_store(tmp_path)).report()
    table = catalogue_from("4", DOCUMENT).table(value).set_index("segment_id")
    assert table.loc[1, "promoters"] == 2 and table.loc[1, "customers"] == 55
    # margin basis (contribution LTV, tests/promoter_value_store.py), GMV beside
    assert table.loc[1, "ltv_cac"] == pytest.approx((30 * 22_900 + 25 * 6_900) / 550_000)
    assert table.loc[1, "gmv_ltv_cac"] == pytest.approx(3_750_000 / 550_000)
    assert table.loc[2, "ltv_cac"] == pytest.approx(77_000 / 600_000)
    assert table.loc[2, "gmv_ltv_cac"] == pytest.approx(360_000 / 600_000)
    assert table.loc[[3], "promoters"].isna().all()  # nobody in it in this snapshot


def test_a_malformed_document_names_the_segment() -> None:
    with pytest.raises(ValueError, match="segment '7'"):
        catalogue_from("1", {"7": "not an object"})
