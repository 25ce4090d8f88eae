"""Engine, session factory and schema migrations."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# "package:folder": Alembic finds it through importlib.resources, so an installed wheel works as the source tree does.
MIGRATIONS_LOCATION = "models:migrations"
Model = TypeVar("Model", bound=DeclarativeBase)
# pg_advisory_xact_lock key shared by every replica ("pm_migra" in ASCII); any fixed bigint would do.
MIGRATION_LOCK_KEY = 0x706D5F6D69677261
# One kept connection per thread that may hold a session at once (bot.server.THREADS_PER_WORKER): past the
# pool size each checkout opens and closes a connection, a whole PostgreSQL backend every time.
POOL_SIZE = 16
CONNECT_TIMEOUT_SECONDS = 10
# A pooled connection idle longer than this is pinged before use (see _ping_when_idle).
PING_AFTER_IDLE_SECONDS = 5.0
_SINGLE_STATEMENTS = "single_statements"  # an execution option: see single_statements
_CHECKED_IN_AT = "checked_in_at"  # a pool record's info key: time.monotonic() when last returned to the pool


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # timeout: wait up to 30 s for a writer instead of failing with "database is locked".
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True,
                               pool_size=POOL_SIZE)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL is safe against crashes of the bot; only a power cut may lose the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # pysqlite's own BEGIN is deferred and lazy; SQLAlchemy's begin event emits ours instead.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
            # A deferred transaction that read first cannot become a writer once another one committed
            # (SQLITE_BUSY_SNAPSHOT, no waiting): take the write lock up front and wait for it instead.
            if not connection.get_execution_options().get(_SINGLE_STATEMENTS):
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        _track_checkouts(engine)
        return engine
    # hide_parameters: a failing statement's error (and so the log) must not carry what people typed.
    # connect_timeout: a database host that never answers (a firewall dropping packets) fails start, /readyz and
    # requests in seconds instead of hanging them; a URL's own connect_timeout wins.
    own_timeout = "connect_timeout" in make_url(url).query
    engine = create_engine(url, hide_parameters=True, pool_size=POOL_SIZE,
                           connect_args={} if own_timeout else {"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    _ping_when_idle(engine)
    _track_checkouts(engine)
    return engine


_checked_out = threading.local()


def _track_checkouts(engine: Engine) -> None:
    """Which pooled connections this thread checked out, for holding_a_connection."""

    @event.listens_for(engine, "checkout")
    def _held(_dbapi_connection, _record, proxy) -> None:  # type: ignore[no-untyped-def]
        _checked_out.__dict__.setdefault("proxies", []).append(weakref.ref(proxy))


def holding_a_connection() -> bool:
    """Whether this thread holds a pooled database connection (a session or a transaction is open): what
    it waits for meanwhile, every other thread that needs the database may wait for too (SQLite's one
    write lock, a row lock, the pool's last connection)."""
    # A returned connection's proxy lets go of it, however it went back (checked in, invalidated, detached).
    held = [ref for ref in _checked_out.__dict__.get("proxies", ()) if (proxy := ref()) is not None
            and proxy.dbapi_connection is not None]
    _checked_out.proxies = held
    return bool(held)


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle for a while (SQLAlchemy's pool_pre_ping
    pings on every checkout: a round trip per transaction, a fifth of a busy review's notes' cost).

    Idle connections are the ones a restarted database or a proxy's idle timeout cuts; a ping that fails
    makes the pool open a fresh connection instead (DisconnectionError). A connection cut while in
    steady use fails its next statement instead, and SQLAlchemy then drops every older pooled connection."""

    @event.listens_for(engine, "checkin")
    def _note_when_checked_in(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return  # just connected, or in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("the pooled connection did not answer a ping") from error


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: services return rows that listeners read after the commit.
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    with sessions() as session, session.begin():
        yield session


@contextmanager
def single_statements(engine: Engine) -> Iterator[Connection]:
    """A connection on which every statement is its own transaction (no BEGIN, no COMMIT round trip):
    for work that one statement does whole."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # pysqlite already leaves transactions to us (isolation_level None): just no BEGIN IMMEDIATE.
            # SQLAlchemy's AUTOCOMMIT would, on the way back to the pool, hand pysqlite its own BEGINs again.
            yield connection.execution_options(**{_SINGLE_STATEMENTS: True})
        else:
            yield connection.execution_options(isolation_level="AUTOCOMMIT")


class _SqliteDoNothing(sqlite.dml.OnConflictDoNothing):
    _traverse_internals: list[Any] = []  # no conflict target: nothing in the clause varies


class _PostgresDoNothing(postgresql.dml.OnConflictDoNothing):
    _traverse_internals: list[Any] = []


class _SqliteInsert(sqlite.Insert):
    inherit_cache = True


class _PostgresInsert(postgresql.Insert):
    inherit_cache = True


def insert_doing_nothing_on_conflict(dialect_name: str, target: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` (any unique key) whose compiled SQL SQLAlchemy caches.

    SQLAlchemy 2.0 marks the dialects' inserts uncacheable because a conflict clause's target and SET
    may vary; then every execution compiles the statement again, a seventh of the CPU a stored note
    cost. An ON CONFLICT DO NOTHING without a target holds nothing that varies, so these subclasses
    give it a cache key (the values stay bound parameters)."""
    if dialect_name == "postgresql":
        statement: Any = _PostgresInsert(target)
        statement._post_values_clause = _PostgresDoNothing()
    else:
        statement = _SqliteInsert(target)
        statement._post_values_clause = _SqliteDoNothing()
    return statement


def insert_ignoring_conflicts(session: Session, model: type[DeclarativeBase], rows: list[dict[str, Any]]) -> int:
    """`INSERT ... ON CONFLICT DO NOTHING`: a row that another request stored first is left as it is,
    and nothing else in the transaction is lost. Returns how many rows were new."""
    if not rows:
        return 0
    table: Table = model.__table__  # type: ignore[assignment]
    # Counted from RETURNING: a driver's rowcount for a multi-row insert is not reliable (psycopg gives -1).
    statement = insert_doing_nothing_on_conflict(session.get_bind().dialect.name, table).values(rows)
    return len(session.execute(statement.returning(*table.primary_key.columns)).all())


def insert_if_absent(session: Session, model: type[DeclarativeBase], row: dict[str, Any]) -> Any | None:
    """One `INSERT ... ON CONFLICT DO NOTHING RETURNING id`: the new row's primary key, or None when
    another request stored it first (the caller reads that one). A Core statement: the caller has the
    row it wrote and needs no ORM object built from the database's copy of it."""
    table: Table = model.__table__  # type: ignore[assignment]
    return session.execute(_returning_id(session.get_bind().dialect.name, table), row).scalar_one_or_none()


@cache
def _returning_id(dialect_name: str, table: Table) -> Any:
    """One statement per table, its values bound at execution: its cache key is computed once, not
    from every row's values again."""
    return insert_doing_nothing_on_conflict(dialect_name, table).returning(*table.primary_key.columns)


def upsert(session: Session, model: type[DeclarativeBase], row: dict[str, Any], *, key: list[str],
           update: list[str]) -> None:
    """`INSERT ... ON CONFLICT (key) DO UPDATE`: the last writer's values win, and no one's insert fails."""
    table: Table = model.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(row)
    session.execute(insert.on_conflict_do_update(index_elements=key,
                                                 set_={name: insert.excluded[name] for name in update}))


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
