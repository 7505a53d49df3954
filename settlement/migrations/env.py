"""Alembic environment: runs migrations on the engine handed over by `settlement.db`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from settlement.schema import metadata  # every table, the live path's too

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///.fenrun/fenrun.db")

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
