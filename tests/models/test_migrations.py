"""Migrations run once even when replicas start together: the advisory lock makes them take turns."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from models.db import MIGRATION_LOCK_KEY, make_engine, readiness_problem, upgrade

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
SCHEMA = "migration_race"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_schema_url() -> Iterator[str]:
    """A URL whose connections see only an empty schema of their own (the suite's `public` stays as it is)."""
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: the PostgreSQL migration lock is not exercised")
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{SCHEMA}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
    admin.dispose()


def waiting_for_migration_lock(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = (:key >> 32) AND objid = (:key & 4294967295)"), {"key": MIGRATION_LOCK_KEY}).scalar_one()


def db_upgrade_process(database_url: str) -> subprocess.Popen[str]:
    """A replica's one-shot migration, as its own process (Alembic's context is per process, not per thread)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "db", "upgrade"], text=True,
                            env={**clean, "SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": database_url,
                                 "PYTHONPATH": str(REPO_ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_replicas_migrating_a_fresh_schema_at_once_both_succeed(fresh_schema_url: str) -> None:
    observer = make_engine(fresh_schema_url)
    with observer.connect() as holder:
        # Hold the lock first, so both replicas are certainly inside `upgrade` at the same time.
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        holder.commit()
        replicas = [db_upgrade_process(fresh_schema_url) for _ in range(2)]
        deadline = time.monotonic() + 60
        while waiting_for_migration_lock(observer) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting_for_migration_lock(observer) == 2  # the overlap: both replicas wait on the lock together
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        holder.commit()
    results = [(replica.wait(timeout=60), replica.stdout.read(), replica.stderr.read()) for replica in replicas]  # type: ignore[union-attr]

    assert [(code, out) for code, out, _ in results] == [(0, "postmortem-bot: database schema is up to date.\n")] * 2, results
    assert readiness_problem(observer) is None
    with observer.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    observer.dispose()


def test_sqlite_upgrade_needs_no_lock_and_is_idempotent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'twice.db'}")
    assert readiness_problem(engine) is not None
    upgrade(engine)
    upgrade(engine)
    assert readiness_problem(engine) is None
    engine.dispose()
