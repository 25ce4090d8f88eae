"""Engine, session factory and schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

# "package:folder": Alembic finds it through importlib.resources, so an installed wheel works as the source tree does.
MIGRATIONS_LOCATION = "models:migrations"
# pg_advisory_xact_lock key shared by every replica ("pm_migra" in ASCII); any fixed bigint would do.
MIGRATION_LOCK_KEY = 0x706D5F6D69677261


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # timeout: wait up to 30 s for a writer instead of failing with "database is locked".
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL is safe against crashes of the bot; only a power cut may lose the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: services return rows that listeners read after the commit.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    with sessions() as session, session.begin():
        yield session


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration, one process at a time.

    On PostgreSQL a transaction-level advisory lock makes replicas that start together take turns:
    the first migrates, the others wait for its commit and then find nothing to do. The migrations
    run in that same transaction, so the lock lasts exactly as long as they do. SQLite serialises
    writers by itself.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(connection), "head")


@cache
def _head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def readiness_problem(engine: Engine) -> str | None:
    """None when the database answers and its schema is at the newest migration; otherwise why not."""
    try:
        with engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception:  # any driver error means "not ready"; the reason must not leak connection details
        return "database unreachable"
    if current != _head_revisions():
        return "database schema is not at the newest migration: run `postmortem-bot db upgrade`"
    return None
