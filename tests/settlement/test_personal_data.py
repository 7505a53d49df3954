"""Personal data is encrypted with authentication, bound to its field, readable through a key
rotation and re-encrypted by it, found by blind index under old and new keys, and never leaks a
key or a plaintext into errors, reprs or logs."""

from __future__ import annotations

import logging
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from settlement.personal_data import (
    MAX_KEYS,
    DataCipher,
    DataKeyInvalid,
    DataKeyMissing,
    DataKeySettings,
    UndecryptableData,
    generate_key,
    is_embedded,
    load_cipher,
    parse_keys,
)

PHONE = "13812341234"
OLD, NEW = generate_key(), generate_key()


def cipher(*keys: str) -> DataCipher:
    return DataCipher(parse_keys(",".join(keys)))


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300), st.text(min_size=1, max_size=40))
def test_round_trip_for_any_text(plaintext, context):
    c = cipher(NEW)
    token = c.encrypt(plaintext, context)
    assert c.decrypt(token, context) == plaintext


def test_same_value_encrypts_differently_each_time():
    c = cipher(NEW)
    first, second = c.encrypt(PHONE, "promoter.phone"), c.encrypt(PHONE, "promoter.phone")
    assert first != second and PHONE not in first


def test_a_token_moved_to_another_field_is_refused():
    c = cipher(NEW)
    token = c.encrypt(PHONE, "promoter.phone")
    with pytest.raises(UndecryptableData, match="promoter.id_number: .*altered or belongs"):
        c.decrypt(token, "promoter.id_number")


def test_an_altered_token_is_refused():
    c = cipher(NEW)
    token = c.encrypt(PHONE, "promoter.phone")
    body = token.rsplit(":", 1)[1]
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    with pytest.raises(UndecryptableData, match="fails authentication"):
        c.decrypt(token.rsplit(":", 1)[0] + ":" + flipped, "promoter.phone")
    with pytest.raises(UndecryptableData, match="not an encrypted token"):
        c.decrypt(PHONE, "promoter.phone")


def test_the_wrong_key_names_the_missing_key_id_and_not_the_key():
    token = cipher(OLD).encrypt(PHONE, "promoter.phone")
    with pytest.raises(UndecryptableData) as caught:
        cipher(NEW).decrypt(token, "promoter.phone")
    message = str(caught.value)
    assert cipher(OLD).current_key_id in message and "not configured" in message
    assert OLD not in message and NEW not in message and PHONE not in message


def test_rotation_keeps_old_tokens_readable_then_re_encrypts_them():
    old_token = cipher(OLD).encrypt(PHONE, "promoter.phone")
    both = cipher(NEW, OLD)  # the new key first, the old one kept
    assert both.decrypt(old_token, "promoter.phone") == PHONE
    assert not both.is_current(old_token)
    rotated = both.rotate(old_token, "promoter.phone")
    assert both.is_current(rotated) and both.rotate(rotated, "promoter.phone") == rotated
    only_new = cipher(NEW)  # the old key dropped once everything is rotated
    assert only_new.decrypt(rotated, "promoter.phone") == PHONE
    with pytest.raises(UndecryptableData):
        only_new.decrypt(old_token, "promoter.phone")


def test_blind_index_finds_a_value_under_old_and_new_keys():
    old_index = cipher(OLD).blind_index(PHONE, "promoter.phone")
    both = cipher(NEW, OLD)
    assert old_index in both.blind_indexes(PHONE, "promoter.phone")
    assert both.blind_index(PHONE, "promoter.phone") == both.blind_indexes(PHONE,
                                                                           "promoter.phone")[0]
    assert old_index not in both.blind_indexes("13812341235", "promoter.phone")
    assert old_index not in both.blind_indexes(PHONE, "payee.account")
    assert PHONE not in old_index


def test_malformed_keys_are_refused_without_echoing_them():
    with pytest.raises(DataKeyInvalid, match="key #2 is not 32 bytes") as caught:
        parse_keys(f"{NEW},not-a-key-at-all")
    assert "not-a-key-at-all" not in str(caught.value)
    with pytest.raises(DataKeyInvalid, match="listed twice"):
        parse_keys(f"{NEW},{NEW}")
    with pytest.raises(DataKeyInvalid, match=f"at most {MAX_KEYS}"):
        parse_keys(",".join(generate_key() for _ in range(MAX_KEYS + 1)))
    with pytest.raises(DataKeyMissing):
        parse_keys(" , ")


def test_repr_shows_key_ids_only():
    c = cipher(NEW, OLD)
    assert NEW not in repr(c) and OLD not in repr(c) and c.key_ids[0] in repr(c)


def test_keys_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FENRUN_DATA_KEYS", f"{NEW}, {OLD}")
    c = load_cipher(DataKeySettings(data_key_file=tmp_path / "k"), embedded=False)
    assert c.key_ids == cipher(NEW, OLD).key_ids
    assert not (tmp_path / "k").exists()


def test_production_without_a_key_refuses_clearly(monkeypatch, tmp_path):
    monkeypatch.delenv("FENRUN_DATA_KEYS", raising=False)
    with pytest.raises(DataKeyMissing, match="FENRUN_DATA_KEYS is not set"):
        load_cipher(DataKeySettings(data_key_file=tmp_path / "k"), embedded=False)
    assert not (tmp_path / "k").exists()


def test_embedded_generates_a_private_key_file_once_with_a_warning(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv("FENRUN_DATA_KEYS", raising=False)
    path = tmp_path / "dir" / "data.keys"
    settings_ = DataKeySettings(data_key_file=path)
    with caplog.at_level(logging.DEBUG):
        first = load_cipher(settings_, embedded=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_text = path.read_text().strip()
    assert str(path) in caplog.text and key_text not in caplog.text
    second = load_cipher(settings_, embedded=True)
    assert first.key_ids == second.key_ids  # read back, not generated again
    token = first.encrypt(PHONE, "promoter.phone")
    assert second.decrypt(token, "promoter.phone") == PHONE


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_key_file_others_can_read_is_refused(monkeypatch, tmp_path):
    monkeypatch.delenv("FENRUN_DATA_KEYS", raising=False)
    path = tmp_path / "data.keys"
    path.write_text(NEW + "\n")
    path.chmod(0o644)
    with pytest.raises(DataKeyInvalid, match="chmod 600"):
        load_cipher(DataKeySettings(data_key_file=path), embedded=True)


def test_oversized_values_and_blank_contexts_are_refused():
    c = cipher(NEW)
    with pytest.raises(ValueError, match="at most"):
        c.encrypt("x" * 20_000, "promoter.documents")
    with pytest.raises(ValueError, match="context"):
        c.encrypt(PHONE, "")


def test_embedded_means_sqlite():
    assert is_embedded("sqlite:///.fenrun/fenrun.db")
    assert not is_embedded("postgresql+psycopg://u@h/db")
