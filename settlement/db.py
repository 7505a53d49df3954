"""Database engines and the schema: SQLite by default, PostgreSQL in production.

The schema is owned by Alembic migrations shipped in this package. Commands that write upgrade
an empty database on their own; a database at an older revision is left alone until
`fenrun db upgrade`, so nobody migrates production by accident. Commands that only read open the
books with `open_existing`, which never creates a file, a directory or a schema: pointed at the
wrong place they fail naming it, instead of printing an all-clear over empty books.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from settlement.errors import SettlementError

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 256 * 1024  # per connection


class SchemaOutdated(SettlementError):
    code = "schema_outdated"


class BooksMissing(SettlementError):
    """A read-only command was pointed at a database that does not exist or holds no books."""

    code = "books_missing"


def shown_url(url: str) -> str:
    """The URL as it may be printed: any password replaced by ***."""
    return make_url(url).render_as_string(hide_password=True)


def create_db_engine(url: str) -> Engine:
    """An engine with the settings fenrun relies on (WAL and immediate write locks on SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Sessions in UTC: instants come back already in the zone the code works in.
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                             connect_args={"options": "-c timezone=UTC"})
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, see below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # The default 2 MB page cache makes a year of events crawl once the indexes outgrow it.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: two writers never both read, then fail to upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    if head is None:
        raise SettlementError("no migration found")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Migrate the schema to the newest revision."""
    command.upgrade(_alembic_config(engine), "head")


def ensure_schema(engine: Engine) -> None:
    """Create the schema on an empty database; refuse to run on an outdated one."""
    revision = current_revision(engine)
    if revision == head_revision():
        return
    if revision is None and not inspect(engine).get_table_names():
        upgrade(engine)
        return
    raise SchemaOutdated(
        f"database schema is at revision {revision}, code expects {head_revision()}: "
        "run `fenrun db upgrade`"
    )


def open_existing(url: str) -> Engine:
    """An engine on books that already exist at the newest schema; creates nothing.

    Raises `BooksMissing` (naming the URL, password hidden) when the SQLite file is absent, the
    server refuses the connection or the database has no fenrun schema, and `SchemaOutdated` when
    the schema is behind the code.
    """
    parsed = make_url(url)
    shown = shown_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise BooksMissing(f"no books at {shown}: the database file does not exist "
                               "(set FENRUN_DATABASE_URL, or settle or import into it first)")
    engine = create_db_engine(url)
    try:
        revision = current_revision(engine)
    except DBAPIError as error:
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        raise BooksMissing(f"cannot open the books at {shown}: {reason}") from None
    if revision is None:
        engine.dispose()
        raise BooksMissing(f"no books at {shown}: the database holds no fenrun schema "
                           "(set FENRUN_DATABASE_URL, or settle or import into it first)")
    if revision != head_revision():
        engine.dispose()
        raise SchemaOutdated(f"database schema is at revision {revision}, code expects "
                             f"{head_revision()}: run `fenrun db upgrade`")
    return engine
