"""Proves profiles are point-in-time: books that also hold everything after T give the same
profiles as of T as books settled only up to T; snapshots round-trip exactly."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from features.profiles import build_profiles
from features.profiles.store import list_snapshots, read_snapshot, write_snapshot
from settlement.db import create_db_engine
from tests.training.mall import build_mall, settle


@pytest.fixture(scope="module")
def mall(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return build_mall(tmp_path_factory.mktemp("leak"), promoters=300, days=90, seed=5)


def test_events_after_as_of_change_nothing(mall) -> None:  # noqa: ANN001
    cut = (mall.last_at - timedelta(days=30)).replace(microsecond=0)
    cut_url, _ = settle(mall.folder, "cut", until=cut)
    full, partial = create_db_engine(mall.database_url), create_db_engine(cut_url)
    later = build_profiles(full, cut)
    then = build_profiles(partial, cut)
    assert len(then) > 100 and then["gmv_90d"].sum() > 0 and then["refund_rate"].sum() > 0
    pd.testing.assert_frame_equal(later, then)
    # ...and the full books do know more: the profile as of the end differs.
    assert not build_profiles(full, mall.last_at)["gmv_total"].equals(later["gmv_total"])


def test_snapshot_round_trip(mall, tmp_path: Path) -> None:  # noqa: ANN001
    profiles = build_profiles(create_db_engine(mall.database_url), mall.last_at)
    path = write_snapshot(profiles, tmp_path)
    assert path.name.startswith("as_of=")
    pd.testing.assert_frame_equal(read_snapshot(tmp_path, mall.last_at), profiles)
    assert list_snapshots(tmp_path) == [pd.Timestamp(mall.last_at)]
