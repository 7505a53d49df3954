"""The people side of the promoter lifecycle, end to end on SQLite and PostgreSQL: apply ->
approve (promoter_joined with the inviter as parent, through ingestion) -> invite code -> an
invitee registers through the link (a register touch binds them) -> the invitee's order earns
the inviter its commission, and the ledger verifies. Bad input (malformed phone, duplicate phone,
revoked or unknown code, reused registration, rate limits, double decisions) is refused with a
reason naming the field, and changes nothing: not the people tables, not the books."""

from __future__ import annotations

import json
import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from settlement import people_tables as pt
from settlement import tables as t
from settlement.applications import ApplicationForm, approve, get_application, reject, submit
from settlement.errors import NotFound
from settlement.ingest import Ingest
from settlement.invite_codes import ALPHABET, create_code, invite_link, revoke_code
from settlement.invite_uses import LinkUse, record_use
from settlement.people_config import PeopleSettings
from settlement.people_errors import (
    ApplicationRefused,
    InvalidPersonalData,
    InviteRefused,
    TooManyAttempts,
)
from settlement.personal_data import DataCipher, generate_key, parse_keys
from settlement.plan_store import store_versions
from tests.settlement.helpers import assert_books_verified, at, promoter

PHONE, NAME, ID_NUMBER = "13812341234", "张三丰", "11010519491231002X"
SETTINGS = PeopleSettings(registrations_per_device_per_day=2, applications_per_device_per_day=2)


@pytest.fixture
def stored(books, plans):
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    return books


@pytest.fixture
def cipher() -> DataCipher:
    return DataCipher(parse_keys(generate_key()))


@pytest.fixture(scope="module")
def sqlite_books(tmp_path_factory, plans_module):
    """One set of SQLite books for a property test's many examples (a fresh one each would be
    slow); the property compares counts before and after each example, so sharing is sound."""
    from settlement.db import create_db_engine, upgrade

    engine = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'b.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        store_versions(conn, plans_module.versions)
    yield engine, DataCipher(parse_keys(generate_key()))
    engine.dispose()


@pytest.fixture(scope="module")
def plans_module():
    from settlement.plan import PlanBook, parse_plan_text
    from tests.conftest import DEFAULT_PLAN

    return PlanBook(parse_plan_text(DEFAULT_PLAN))


def _apply(books, cipher, when: str, form: ApplicationForm, settings=SETTINGS):
    with books.begin() as conn:
        return submit(conn, cipher, settings, form, at(when), "test:mall")


def _code(books, promoter_id: str, when: str) -> str:
    with books.begin() as conn:
        return create_code(conn, SETTINGS, promoter_id, "test:admin", at(when)).code


def _joined(books, cipher, user: str, when: str, inviter_code: str | None = None,
            phone: str = PHONE) -> None:
    application = _apply(books, cipher, when, ApplicationForm(
        user, NAME, phone, inviter_code=inviter_code, device_id=f"dev-{user}"))
    approve(books, cipher, SETTINGS, application.application_id, "test:reviewer", None,
            at(when.replace("T01", "T02")))


def _counts(books) -> tuple[int, ...]:
    with books.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(table)).scalar_one()
                     for table in (pt.promoter_applications, pt.invite_codes, pt.invite_uses,
                                   pt.people_audit, t.events, t.promoters, t.touches,
                                   t.customer_bindings, t.postings))


def test_apply_approve_invite_register_and_the_inviter_earns(stored, cipher, ev, caplog):
    books = stored
    with caplog.at_level(logging.DEBUG):
        root = _apply(books, cipher, "2026-03-01T01:00:00Z", ApplicationForm(
            "U1", NAME, "+86 138-1234-1234", id_number=ID_NUMBER, documents=("doc://licence",),
            device_id="dev-1", ip="10.0.0.1"))
        assert root.status == "pending" and root.phone == PHONE and root.id_number == ID_NUMBER
        assert root.masked()["phone"] == "138****1234" and root.masked()["name"] == "张**"
        approved = approve(books, cipher, SETTINGS, root.application_id, "test:reviewer",
                           "looks right", at("2026-03-01T02:00:00Z"))
        assert (approved.status, approved.decided_by, approved.reason) == (
            "approved", "test:reviewer", "looks right")

        code_1 = _code(books, "U1", "2026-03-01T03:00:00Z")
        assert len(code_1) == 10 and set(code_1) <= set(ALPHABET)
        _joined(books, cipher, "U2", "2026-03-02T01:00:00Z", inviter_code=code_1.lower(),
                phone="13900001111")
        code_2 = _code(books, "U2", "2026-03-02T03:00:00Z")
        link = invite_link(SETTINGS.invite_base_url, code_2, "wechat", "article-9")
        assert link == f"https://mall.example.com/i/{code_2}?ch=wechat&cid=article-9"

        visit = record_use(books, cipher, SETTINGS, LinkUse(
            code_2, "visit", "C1", visit_id="v-1", channel="wechat", content_id="article-9"),
            at("2026-03-03T00:00:00Z"))
        assert visit.bound_to is None
        registered = record_use(books, cipher, SETTINGS, LinkUse(
            code_2, "register", "C1", channel="wechat", content_id="article-9",
            device_id="phone-9", ip="10.0.0.9"), at("2026-03-03T00:05:00Z"))
        assert (registered.promoter_id, registered.bound_to) == ("U2", "U2")

    with books.connect() as conn:
        parent = conn.execute(select(t.promoters.c.parent_id)
                              .where(t.promoters.c.promoter_id == "U2")).scalar_one()
        touch = conn.execute(select(t.touches.c.kind, t.touches.c.channel)
                             .where(t.touches.c.customer_id == "C1")).all()
    assert parent == "U1" and sorted(tuple(r) for r in touch) == [
        ("click", "wechat"), ("register", "wechat")]

    ingest = Ingest(books, 100)
    ingest.apply([ev.paid("2026-03-04T00:00:00Z", "o1", "C1", ("s1", "clothing", "1000.00")),
                  ev.confirmed("2026-03-05T00:00:00Z", "o1")])
    ingest.release(at("2026-03-20T00:00:00Z"))
    assert promoter(books, "U2")["available"] == "100.00"  # level 1, 10%
    assert promoter(books, "U1")["available"] == "50.00"  # level 2, 5%: the inviter's inviter
    assert_books_verified(books)
    for secret in (PHONE, "13900001111", NAME, ID_NUMBER, "doc://licence", "10.0.0.9"):
        assert secret not in caplog.text


def test_stored_rows_hold_tokens_not_values(stored, cipher):
    _apply(stored, cipher, "2026-03-01T01:00:00Z", ApplicationForm(
        "U1", NAME, PHONE, id_number=ID_NUMBER, device_id="dev-1", ip="10.0.0.1"))
    with stored.connect() as conn:
        row = conn.execute(select(pt.promoter_applications)).one()._mapping
    text = " ".join(str(value) for value in row.values())
    for secret in (PHONE, NAME, ID_NUMBER, "dev-1", "10.0.0.1"):
        assert secret not in text


@pytest.fixture
def promoter_with_code(stored, cipher):
    _joined(stored, cipher, "U1", "2026-03-01T01:00:00Z")
    return _code(stored, "U1", "2026-03-01T03:00:00Z")


BAD_APPLICATIONS = [
    (ApplicationForm("U2", NAME, "12345"), InvalidPersonalData, "phone: not a mobile number"),
    (ApplicationForm("U2", NAME, "+86 138 1234 1234"), ApplicationRefused,
     "phone: already on another"),
    (ApplicationForm("U2", "", "13900001111"), InvalidPersonalData, "name: must be 1 to 64"),
    (ApplicationForm("U2", NAME, "13900001111", id_number="110105194912310021"),
     InvalidPersonalData, "id_number: the check character"),
    (ApplicationForm("U1", NAME, "13900001111"), ApplicationRefused,
     "user_id: U1 is already a promoter"),
    (ApplicationForm("U2", NAME, "13900001111", inviter_code="zzzzzzzzzz"), NotFound,
     "inviter_code: no invite code ZZZZZZZZZZ"),
    (ApplicationForm("U2", NAME, "13900001111", inviter_code="ABCD0OIL"), InvalidPersonalData,
     "inviter_code: an invite code never contains '0ILO'"),
    (ApplicationForm("bad id!", NAME, "13900001111"), InvalidPersonalData, "user_id:"),
]


@pytest.mark.parametrize(("form", "error", "message"), BAD_APPLICATIONS)
def test_a_bad_application_is_refused_and_changes_nothing(stored, cipher, promoter_with_code,
                                                          form, error, message):
    before = _counts(stored)
    with pytest.raises(error, match=message) as caught:
        _apply(stored, cipher, "2026-03-02T01:00:00Z", form)
    assert "13900001111" not in str(caught.value) and PHONE not in str(caught.value)
    assert _counts(stored) == before


def test_a_revoked_code_is_refused_with_when(stored, cipher, promoter_with_code):
    with stored.begin() as conn:
        revoked = revoke_code(conn, promoter_with_code.lower(), "test:admin", "leaked",
                              at("2026-03-01T04:00:00Z"))
    assert revoked.revoked_by == "test:admin" and revoked.revoke_reason == "leaked"
    before = _counts(stored)
    with pytest.raises(InviteRefused, match="was revoked on 2026-03-01"):
        _apply(stored, cipher, "2026-03-02T01:00:00Z",
               ApplicationForm("U2", NAME, "13900001111", inviter_code=promoter_with_code))
    with pytest.raises(InviteRefused, match="was revoked on 2026-03-01"):
        record_use(stored, cipher, SETTINGS, LinkUse(promoter_with_code, "register", "C1"),
                   at("2026-03-02T01:00:00Z"))
    with pytest.raises(InviteRefused, match="already revoked"), stored.begin() as conn:
        revoke_code(conn, promoter_with_code, "test:admin", None, at("2026-03-02T01:00:00Z"))
    assert _counts(stored) == before


def test_applications_per_device_are_limited_per_day(stored, cipher):
    for number, user in enumerate(("U1", "U2")):
        _apply(stored, cipher, f"2026-03-01T0{number + 1}:00:00Z",
               ApplicationForm(user, NAME, f"1390000000{number}", device_id="Farm-1"))
    before = _counts(stored)
    with pytest.raises(TooManyAttempts, match="device_id: 2 applications .* at most 2"):
        _apply(stored, cipher, "2026-03-01T05:00:00Z",
               ApplicationForm("U3", NAME, "13900000003", device_id=" farm-1 "))
    assert _counts(stored) == before
    _apply(stored, cipher, "2026-03-02T03:00:00Z",  # a day later the window has moved on
           ApplicationForm("U3", NAME, "13900000003", device_id="farm-1"))


def test_registrations_are_once_per_customer_and_limited_per_device(stored, cipher,
                                                                    promoter_with_code):
    code = promoter_with_code
    use = LinkUse(code, "register", "C1", device_id="phone-1")
    first = record_use(stored, cipher, SETTINGS, use, at("2026-03-02T00:00:00Z"))
    again = record_use(stored, cipher, SETTINGS, use, at("2026-03-02T00:01:00Z"))
    assert not first.duplicate and again.duplicate and again.at == first.at
    _joined(stored, cipher, "U9", "2026-03-01T01:00:00Z", phone="13700000000")
    other = _code(stored, "U9", "2026-03-01T03:00:00Z")
    record_use(stored, cipher, SETTINGS, LinkUse(code, "register", "C2", device_id="phone-1"),
               at("2026-03-02T00:02:00Z"))
    before = _counts(stored)
    with pytest.raises(InviteRefused, match=f"C1 already registered through code {code}"):
        record_use(stored, cipher, SETTINGS, LinkUse(other, "register", "C1"),
                   at("2026-03-02T00:03:00Z"))
    with pytest.raises(TooManyAttempts, match="device_id: 2 registrations"):
        record_use(stored, cipher, SETTINGS, LinkUse(code, "register", "C3", device_id="phone-1"),
                   at("2026-03-02T00:04:00Z"))
    with pytest.raises(InviteRefused, match="own invite code"):
        record_use(stored, cipher, SETTINGS, LinkUse(code, "register", "U1"),
                   at("2026-03-02T00:05:00Z"))
    with pytest.raises(InvalidPersonalData, match="visit_id"):
        record_use(stored, cipher, SETTINGS, LinkUse(code, "visit", "C4"),
                   at("2026-03-02T00:06:00Z"))
    with pytest.raises(InvalidPersonalData, match="channel"):
        record_use(stored, cipher, SETTINGS, LinkUse(code, "visit", "C4", visit_id="v1",
                                                     channel="WeChat Moments!"),
                   at("2026-03-02T00:06:00Z"))
    assert _counts(stored) == before


def test_decisions_are_audited_and_happen_once(stored, cipher):
    application = _apply(stored, cipher, "2026-03-01T01:00:00Z",
                         ApplicationForm("U1", NAME, PHONE))
    with pytest.raises(InvalidPersonalData, match="reason: a rejection says why"), \
            stored.begin() as conn:
        reject(conn, cipher, application.application_id, "test:reviewer", " ",
               at("2026-03-01T02:00:00Z"))
    with stored.begin() as conn:
        rejected = reject(conn, cipher, application.application_id, "test:reviewer",
                          "documents unreadable", at("2026-03-01T02:00:00Z"))
    assert (rejected.status, rejected.reason) == ("rejected", "documents unreadable")
    before = _counts(stored)
    with pytest.raises(ApplicationRefused, match="already rejected by test:reviewer"):
        approve(stored, cipher, SETTINGS, application.application_id, "test:other", None,
                at("2026-03-01T03:00:00Z"))
    assert _counts(stored) == before
    # the phone is free again once the application holding it was rejected
    second = _apply(stored, cipher, "2026-03-01T04:00:00Z", ApplicationForm("U1", NAME, PHONE))
    with stored.connect() as conn:
        trail = conn.execute(select(pt.people_audit.c.actor, pt.people_audit.c.action,
                                    pt.people_audit.c.detail)
                             .order_by(pt.people_audit.c.audit_id)).all()
        assert get_application(conn, cipher, second.application_id).status == "pending"
    assert [tuple(row) for row in trail] == [
        ("test:mall", "application.submitted", None),
        ("test:reviewer", "application.rejected", "documents unreadable"),
        ("test:mall", "application.submitted", None)]


def test_requirements_from_configuration_are_checked_at_approval(stored, cipher, ev):
    strict = PeopleSettings(apply_min_purchase="200.00", apply_require_training=True)
    untrained = _apply(stored, cipher, "2026-03-01T01:00:00Z", ApplicationForm("U1", NAME, PHONE))
    with pytest.raises(ApplicationRefused, match="training"):
        approve(stored, cipher, strict, untrained.application_id, "r", None,
                at("2026-03-01T02:00:00Z"))
    trained = _apply(stored, cipher, "2026-03-01T01:00:00Z",
                     ApplicationForm("U2", NAME, "13900001111", training_completed=True))
    before = _counts(stored)
    with pytest.raises(ApplicationRefused, match="bought 0.00 CNY, the mall requires 200.00"):
        approve(stored, cipher, strict, trained.application_id, "r", None,
                at("2026-03-01T02:00:00Z"))
    assert _counts(stored) == before
    Ingest(stored, 10).apply([ev.paid("2026-03-01T05:00:00Z", "o1", "U2",
                                      ("s1", "clothing", "250.00"))])
    done = approve(stored, cipher, strict, trained.application_id, "r", None,
                   at("2026-03-01T06:00:00Z"))
    assert done.status == "approved"


def test_a_suspended_inviter_cannot_invite_and_blocks_an_approval(stored, cipher, ev,
                                                                  promoter_with_code):
    waiting = _apply(stored, cipher, "2026-03-02T01:00:00Z", ApplicationForm(
        "U2", NAME, "13900001111", inviter_code=promoter_with_code))
    Ingest(stored, 10).apply([ev("promoter_suspended", "2026-03-02T02:00:00Z", promoter_id="U1")])
    before = _counts(stored)
    with pytest.raises(ApplicationRefused, match="inviter_id: U1 is suspended"):
        approve(stored, cipher, SETTINGS, waiting.application_id, "r", None,
                at("2026-03-02T03:00:00Z"))
    with pytest.raises(InviteRefused, match="inviter_code: promoter U1 .* is suspended"):
        _apply(stored, cipher, "2026-03-02T04:00:00Z", ApplicationForm(
            "U3", NAME, "13900002222", inviter_code=promoter_with_code))
    with pytest.raises(InviteRefused, match="suspended; no new invite codes"), \
            stored.begin() as conn:
        create_code(conn, SETTINGS, "U1", "test:admin", at("2026-03-02T04:00:00Z"))
    assert _counts(stored) == before


def test_a_visit_id_is_one_visit_and_the_link_content_reaches_the_books(stored, cipher,
                                                                        promoter_with_code):
    code = promoter_with_code
    visit = LinkUse(code, "visit", "C1", visit_id="v-7", channel="weibo", content_id="sku:42")
    record_use(stored, cipher, SETTINGS, visit, at("2026-03-02T00:00:00Z"))
    with stored.connect() as conn:
        payload = conn.execute(select(t.events.c.payload)
                               .where(t.events.c.event_id == "invite:visit:v-7")).scalar_one()
    stored_payload = json.loads(payload)
    assert (stored_payload["content_id"], stored_payload["invite_code"]) == ("sku:42", code)
    before = _counts(stored)
    with pytest.raises(InviteRefused, match="visit_id: v-7 was already reported"):
        record_use(stored, cipher, SETTINGS, LinkUse(code, "visit", "C2", visit_id="v-7"),
                   at("2026-03-02T00:01:00Z"))
    assert _counts(stored) == before


def test_applications_and_registrations_per_ip_are_limited(stored, cipher, promoter_with_code):
    per_ip = PeopleSettings(applications_per_ip_per_day=1, registrations_per_ip_per_day=1)
    _apply(stored, cipher, "2026-03-02T01:00:00Z",
           ApplicationForm("U2", NAME, "13900000002", ip="2001:db8::1"), per_ip)
    record_use(stored, cipher, per_ip, LinkUse(promoter_with_code, "register", "C1",
                                               ip="10.0.0.7"), at("2026-03-02T01:00:00Z"))
    before = _counts(stored)
    with pytest.raises(TooManyAttempts, match="ip: 1 applications from this ip"):
        _apply(stored, cipher, "2026-03-02T02:00:00Z",
               ApplicationForm("U3", NAME, "13900000003", ip="2001:0db8:0::1"), per_ip)
    with pytest.raises(TooManyAttempts, match="ip: 1 registrations from this ip"):
        record_use(stored, cipher, per_ip, LinkUse(promoter_with_code, "register", "C2",
                                                   ip="10.0.0.7"), at("2026-03-02T02:00:00Z"))
    assert _counts(stored) == before


FIELD_ERRORS = (InvalidPersonalData, ApplicationRefused, InviteRefused, NotFound,
                TooManyAttempts)
GOOD = {"user_id": st.from_regex(r"U[0-9]{1,3}", fullmatch=True), "name": st.just(NAME),
        "phone": st.from_regex(r"13[0-9]{9}", fullmatch=True),
        "id_number": st.none() | st.just(ID_NUMBER), "inviter_code": st.none()}
BAD = {"user_id": st.text(max_size=12), "name": st.text(max_size=70),
       "phone": st.text(max_size=20), "id_number": st.text(max_size=20),
       "inviter_code": st.text(alphabet=ALPHABET + "01ILOilo ", max_size=18)}


@st.composite
def forms(draw) -> ApplicationForm:
    """Valid forms with at most one field drawn from anything at all."""
    bad = draw(st.sampled_from([None, *BAD]))
    fields = {name: draw(BAD[name] if name == bad else GOOD[name]) for name in GOOD}
    return ApplicationForm(**fields)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(form=forms())
def test_any_application_is_stored_whole_or_refused_by_field(sqlite_books, form):
    books, cipher = sqlite_books
    before = _counts(books)
    try:
        with books.begin() as conn:
            submit(conn, cipher, SETTINGS, form, at("2026-03-01T01:00:00Z"), "test")
    except FIELD_ERRORS as error:
        assert re.match(r"^[a-z_]+(\[\d+\])?: ", str(error)), str(error)
        assert _counts(books) == before
    else:
        assert _counts(books)[0] == before[0] + 1
