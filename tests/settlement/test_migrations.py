"""Migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from settlement.db import SchemaOutdated, create_db_engine, ensure_schema, head_revision, upgrade
from settlement.schema import metadata


def test_upgrade_matches_the_declared_tables(db_url):
    engine = create_db_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    engine.dispose()


def test_commands_create_the_schema_only_on_an_empty_database(sqlite_url):
    engine = create_db_engine(sqlite_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'old'")
    with pytest.raises(SchemaOutdated, match="fenrun db upgrade"):
        ensure_schema(engine)


def test_0005_keeps_the_reason_of_every_event_rejected_before_it(db_url):
    from alembic import command

    from settlement.db import _alembic_config

    engine = create_db_engine(db_url)
    command.upgrade(_alembic_config(engine), "0004")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (event_id, type, ts, payload_hash, status, reason, payload) "
            "VALUES ('r1', 'touch', '2026-03-01 00:00:00', 'h', 'rejected', 'promoter_id: A has "
            "not joined', '{}'), ('a1', 'touch', '2026-03-01 00:00:00', 'h', 'applied', NULL, "
            "'{}')")
    upgrade(engine)
    with engine.connect() as conn:
        attempts = dict(conn.exec_driver_sql("SELECT event_id, attempts FROM events").all())
        history = conn.exec_driver_sql(
            "SELECT event_id, attempt, reason, rejected_at FROM event_rejections").all()
    assert attempts == {"r1": 1, "a1": 1}
    assert [tuple(row) for row in history] == [("r1", 1, "promoter_id: A has not joined", None)]
    engine.dispose()


def test_0013_drops_the_unread_indexes_and_keeps_the_rows(db_url):
    from alembic import command
    from sqlalchemy import inspect

    from settlement.db import _alembic_config

    engine = create_db_engine(db_url)
    command.upgrade(_alembic_config(engine), "0007")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO touches (event_id, customer_id, promoter_id, ts, kind) "
            "VALUES ('t1', 'c1', 'P1', '2026-03-01 00:00:00', 'click')")
    names = {index["name"] for index in inspect(engine).get_indexes("touches")}
    assert "ix_touches_promoter_id" in names
    upgrade(engine)
    inspector = inspect(engine)
    assert "ix_touches_promoter_id" not in {i["name"] for i in inspector.get_indexes("touches")}
    assert "ix_orders_customer_id" not in {i["name"] for i in inspector.get_indexes("orders")}
    assert "ix_promoters_parent_id" not in {i["name"] for i in inspector.get_indexes("promoters")}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT customer_id, promoter_id FROM touches").all() == [
            ("c1", "P1")]
    command.downgrade(_alembic_config(engine), "0007")
    assert "ix_touches_promoter_id" in {i["name"] for i in inspect(engine).get_indexes("touches")}
    engine.dispose()


def test_0008_keeps_the_devices_promoters_joined_from_before_it(db_url):
    from alembic import command

    from settlement.db import _alembic_config

    engine = create_db_engine(db_url)
    command.upgrade(_alembic_config(engine), "0007")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (event_id, type, ts, payload_hash, status, reason, payload) "
            "VALUES ('j1', 'promoter_joined', '2026-03-01 00:00:00', 'h', 'applied', NULL, "
            "'{\"promoter_id\": \"P1\", \"device_hash\": \"d1\", \"ip_hash\": \"i1\"}'), "
            "('j2', 'promoter_joined', '2026-03-01 00:00:00', 'h', 'applied', NULL, "
            "'{\"promoter_id\": \"P2\"}'), "
            "('j3', 'promoter_joined', '2026-03-01 00:00:00', 'h', 'rejected', 'x', "
            "'{\"promoter_id\": \"P3\", \"device_hash\": \"d3\"}')")
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT promoter_id, device_hash, ip_hash FROM promoter_devices").all()
    assert [tuple(row) for row in rows] == [("P1", "d1", "i1")]
    engine.dispose()
