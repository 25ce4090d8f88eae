"""PostgreSQL pooled connections: pinged before use only after sitting idle, replaced when the ping fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import OperationalError

from models import db
from models.db import make_engine


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to cut connections")
    return database_url


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def cut(engine: Engine, pid: int) -> None:
    """What a database restart or a proxy's idle timeout does to a pooled connection."""
    with make_engine(engine.url.render_as_string(hide_password=False)).connect() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()


def test_an_idle_connection_cut_by_the_server_is_replaced_before_use(postgres_url: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    engine = make_engine(postgres_url)
    try:
        first = backend_pid(engine)
        cut(engine, first)
        assert backend_pid(engine) != first  # the ping failed, the pool connected again: no error
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged_and_a_cut_fails_one_statement_only(
    postgres_url: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = make_engine(postgres_url)
    statements: list[str] = []
    try:
        first = backend_pid(engine)
        cut(engine, first)
        event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        with pytest.raises(OperationalError):
            backend_pid(engine)
        assert statements == ["SELECT pg_backend_pid()"]  # no ping went before it
        assert backend_pid(engine) != first  # the pool dropped the cut connection: the next one works
    finally:
        engine.dispose()
