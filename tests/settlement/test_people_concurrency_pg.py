"""Racing people on PostgreSQL: four submits with one phone store one application; an approval
racing a rejection decides once (and the books agree with the decision); four reports of one
registration record one touch."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from settlement import people_tables as pt
from settlement import tables as t
from settlement.applications import ApplicationForm, approve, get_application, reject, submit
from settlement.db import create_db_engine, upgrade
from settlement.invite_codes import create_code
from settlement.invite_uses import LinkUse, record_use
from settlement.people_config import PeopleSettings
from settlement.people_errors import ApplicationRefused
from settlement.personal_data import DataCipher, generate_key, parse_keys
from settlement.plan_store import store_versions
from tests.settlement.helpers import assert_books_verified, at

pytestmark = pytest.mark.integration
SETTINGS = PeopleSettings()
WRITERS = 4


@pytest.fixture
def pg(postgres_url, plans):
    engine = create_db_engine(postgres_url)
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, plans.versions)
    yield engine
    engine.dispose()


def _race(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return call()
        except ApplicationRefused as error:
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_one_phone_racing_four_submits_is_stored_once(pg):
    cipher = DataCipher(parse_keys(generate_key()))

    def submit_as(user):
        def call():
            with pg.begin() as conn:
                return submit(conn, cipher, SETTINGS, ApplicationForm(user, "Ann", "13812341234"),
                              at("2026-03-01T00:00:00Z"), "test")
        return call

    results = _race([submit_as(f"U{n}") for n in range(WRITERS)])
    refused = [r for r in results if isinstance(r, ApplicationRefused)]
    assert len(refused) == WRITERS - 1
    assert all("phone: already on another" in str(r) for r in refused)
    with pg.connect() as conn:
        assert conn.execute(select(func.count()).select_from(pt.promoter_applications)
                            ).scalar_one() == 1


def test_an_approval_racing_a_rejection_decides_once(pg):
    cipher = DataCipher(parse_keys(generate_key()))
    for round_ in range(3):
        user = f"U{round_}"
        with pg.begin() as conn:
            application = submit(conn, cipher, SETTINGS,
                                 ApplicationForm(user, "Ann", f"1381234123{round_}"),
                                 at("2026-03-01T00:00:00Z"), "test")
        app_id = application.application_id

        def rejecting(app_id=app_id):
            with pg.begin() as conn:
                return reject(conn, cipher, app_id, "r2", "no", at("2026-03-01T01:00:00Z"))

        results = _race([
            lambda app_id=app_id: approve(pg, cipher, SETTINGS, app_id, "r1", None,
                                          at("2026-03-01T01:00:00Z")), rejecting])
        assert sum(isinstance(r, ApplicationRefused) for r in results) == 1
        with pg.connect() as conn:
            final = get_application(conn, cipher, app_id)
            joined = conn.execute(select(func.count()).select_from(t.promoters)
                                  .where(t.promoters.c.promoter_id == user)).scalar_one()
        assert joined == (1 if final.status == "approved" else 0)
    assert_books_verified(pg)


def test_one_registration_reported_four_times_at_once_is_recorded_once(pg, ev):
    from settlement.ingest import Ingest

    cipher = DataCipher(parse_keys(generate_key()))
    Ingest(pg, 10).apply([ev.join("2026-03-01T00:00:00Z", "P1")])
    with pg.begin() as conn:
        code = create_code(conn, SETTINGS, "P1", "test", at("2026-03-01T01:00:00Z")).code
    use = LinkUse(code, "register", "C1", device_id="phone")
    results = _race([lambda: record_use(pg, cipher, SETTINGS, use, at("2026-03-02T00:00:00Z"))
                     for _ in range(WRITERS)])
    assert sorted(r.duplicate for r in results) == [False] + [True] * (WRITERS - 1)
    with pg.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.touches)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(pt.invite_uses)).scalar_one() == 1
