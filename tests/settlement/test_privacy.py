"""A person's export holds everything kept about them, decrypted; erasing removes their personal
fields everywhere and keeps the ledger's amounts and ids (the books still verify); both are
audited. Key rotation re-encrypts every stored value, after which the old key can be dropped."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from settlement import people_tables as pt
from settlement.applications import ApplicationForm, approve, get_application, submit
from settlement.errors import NotFound
from settlement.ingest import Ingest
from settlement.invite_codes import create_code
from settlement.invite_uses import LinkUse, record_use
from settlement.people_config import PeopleSettings
from settlement.people_errors import ApplicationRefused
from settlement.personal_data import DataCipher, UndecryptableData, generate_key, parse_keys
from settlement.plan_store import store_versions
from settlement.privacy import ROTATE_BATCH, erase_person, export_person, not_current, rotate_keys
from tests.settlement.helpers import assert_books_verified, at, balances

PHONE, NAME, ID_NUMBER = "13812341234", "李四", "11010519491231002X"
SETTINGS = PeopleSettings()


@pytest.fixture
def person(books, plans, ev):
    """U1 applied (with ID number and a document), was approved, invited C1, who bought."""
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    cipher = DataCipher(parse_keys(generate_key()))
    with books.begin() as conn:
        application = submit(conn, cipher, SETTINGS, ApplicationForm(
            "U1", NAME, PHONE, id_number=ID_NUMBER, documents=("doc://id-front",),
            device_id="dev-1", ip="10.0.0.1"), at("2026-03-01T01:00:00Z"), "test:mall")
    approve(books, cipher, SETTINGS, application.application_id, "test:reviewer", None,
            at("2026-03-01T02:00:00Z"))
    with books.begin() as conn:
        code = create_code(conn, SETTINGS, "U1", "test:admin", at("2026-03-01T03:00:00Z")).code
    record_use(books, cipher, SETTINGS, LinkUse(code, "register", "C1", device_id="phone-1"),
               at("2026-03-02T00:00:00Z"))
    ingest = Ingest(books, 10)
    ingest.apply([ev.paid("2026-03-03T00:00:00Z", "o1", "C1", ("s1", "clothing", "300.00")),
                  ev.confirmed("2026-03-04T00:00:00Z", "o1")])
    ingest.release(at("2026-03-20T00:00:00Z"))
    return books, cipher, application.application_id, code


def test_export_holds_everything_about_the_person_decrypted(person):
    books, cipher, application_id, code = person
    with books.begin() as conn:
        document = export_person(conn, cipher, "U1", "test:dpo", at("2026-04-01T00:00:00Z"))
    json.dumps(document)  # JSON-ready as it is
    [application] = document["applications"]
    assert (application["phone"], application["name"], application["id_number"],
            application["documents"]) == (PHONE, NAME, ID_NUMBER, ["doc://id-front"])
    assert [c["code"] for c in document["invite_codes"]] == [code]
    assert document["promoter"]["balances"]["CNY"]["available"] == "30.00"
    assert [a["action"] for a in document["audit"]] == [
        "application.submitted", "application.approved", "invite.created"]
    with books.begin() as conn:  # the export itself is audited
        again = export_person(conn, cipher, "U1", "test:dpo", at("2026-04-02T00:00:00Z"))
    assert again["audit"][-1]["action"] == "privacy.exported"
    assert again["audit"][-1]["actor"] == "test:dpo"
    with books.begin() as conn:
        customer = export_person(conn, cipher, "C1", "test:dpo", at("2026-04-02T00:00:00Z"))
    assert customer["customer"]["bound_to"] == "U1"
    assert [o["order_id"] for o in customer["customer"]["orders"]] == ["o1"]
    assert customer["invite_link_uses"][0]["code"] == code


def test_erase_removes_personal_fields_and_keeps_the_ledger(person):
    books, cipher, application_id, _ = person
    ledger_before = balances(books)
    with books.begin() as conn:
        erased = erase_person(conn, "U1", "test:dpo", "request 42", at("2026-04-01T00:00:00Z"))
    assert erased == {"applications": 1, "invite_link_uses": 0, "payees": 0}
    with books.connect() as conn:
        row = conn.execute(select(pt.promoter_applications)).one()._mapping
        left = get_application(conn, cipher, application_id)
    assert all(row[c] is None for c in ("name_token", "phone_token", "phone_index",
                                        "id_number_token", "documents_token", "device_index",
                                        "ip_index"))
    assert (left.status, left.name, left.phone, left.erased_at) == (
        "approved", None, None, at("2026-04-01T00:00:00Z"))
    assert balances(books) == ledger_before
    assert_books_verified(books)
    with books.begin() as conn:
        assert erase_person(conn, "C1", "test:dpo", None, at("2026-04-01T00:00:00Z")) == {
            "applications": 0, "invite_link_uses": 1, "payees": 0}
        document = export_person(conn, cipher, "U1", "test:dpo", at("2026-04-02T00:00:00Z"))
    assert document["applications"][0]["phone"] is None
    assert document["promoter"]["balances"]["CNY"]["available"] == "30.00"
    erasure = [a for a in document["audit"] if a["action"] == "privacy.erased"]
    assert erasure[0]["detail"] == "applications 1, invite_link_uses 0, payees 0; request 42"


def test_erasing_a_pending_application_closes_it(books, plans):
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    cipher = DataCipher(parse_keys(generate_key()))
    with books.begin() as conn:
        pending = submit(conn, cipher, SETTINGS, ApplicationForm("U5", NAME, PHONE),
                         at("2026-03-01T01:00:00Z"), "test:mall")
        erase_person(conn, "U5", "test:dpo", None, at("2026-03-02T00:00:00Z"))
    with pytest.raises(ApplicationRefused, match="already rejected by privacy.erase"):
        approve(books, cipher, SETTINGS, pending.application_id, "r", None,
                at("2026-03-03T00:00:00Z"))


def test_unknown_people_are_not_found(person):
    books, cipher, *_ = person
    with books.begin() as conn, pytest.raises(NotFound, match="nothing is held about 'U404'"):
        export_person(conn, cipher, "U404", "test:dpo", at("2026-04-01T00:00:00Z"))
    with books.begin() as conn, pytest.raises(NotFound):
        erase_person(conn, "U404", "test:dpo", None, at("2026-04-01T00:00:00Z"))


def test_rotation_re_encrypts_everything_then_the_old_key_can_go(books, plans):
    with books.begin() as conn:
        store_versions(conn, plans.versions)
    old_key, new_key = generate_key(), generate_key()
    old = DataCipher(parse_keys(old_key))
    count = ROTATE_BATCH + 3  # more than one batch
    with books.begin() as conn:
        for number in range(count):
            submit(conn, old, SETTINGS, ApplicationForm(
                f"U{number}", NAME, f"138{number:08d}", id_number=ID_NUMBER),
                at("2026-03-01T01:00:00Z"), "test:mall")
    both = DataCipher(parse_keys(f"{new_key},{old_key}"))
    with books.connect() as conn:
        assert not_current(conn, both) == count * 3
    done = rotate_keys(books, both, "test:ops", at("2026-03-02T00:00:00Z"))
    assert (done.rotated, done.left) == (count * 4, 0)  # 3 tokens and 1 phone index each
    assert rotate_keys(books, both, "test:ops", at("2026-03-02T00:00:00Z")).rotated == 0
    new_only = DataCipher(parse_keys(new_key))
    with books.connect() as conn:
        first = conn.execute(select(pt.promoter_applications.c.application_id)
                             .order_by(pt.promoter_applications.c.application_id)).first()[0]
        assert get_application(conn, new_only, first).id_number == ID_NUMBER
        with pytest.raises(UndecryptableData):
            get_application(conn, old, first)
    with books.begin() as conn, pytest.raises(ApplicationRefused, match="phone: already"):
        submit(conn, new_only, SETTINGS, ApplicationForm("X", NAME, "13800000007"),
               at("2026-03-03T00:00:00Z"), "test:mall")
