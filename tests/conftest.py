"""Fixtures: both databases, a fresh fake Slack per test, and the real app served over HTTP."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from bot.clock import FrozenClock
from bot.demo.serving import serving
from bot.demo.signed_requests import SIGNING_SECRET, SlackSim
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.slack.double import BOT_TOKEN, FakeSlack
from models import Base
from models.db import make_engine, transaction, upgrade
from tests.fake_misp import FakeMisp
from tests.support import utc

LEAD = "U0LEAD0001"  # America/New_York
RESPONDER_BERLIN = "U0BERLIN01"
RESPONDER_TOKYO = "U0TOKYO001"
OUTSIDER = "U0OUTSIDE1"
SOME_BOT = "U0SOMEBOT1"
NOW = utc(2026, 11, 20, 15, 0)


class _SlackCallsHoldingTheDatabase(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "while holding a database connection" in record.getMessage():
            self.seen.append(record.getMessage())


@pytest.fixture(autouse=True)
def no_slack_call_holds_the_database() -> Iterator[list[str]]:
    """The gateway says when Slack is asked while this thread holds a database connection (a slow Slack
    would then hold the database, and every other request behind it): in any test, that fails it."""
    watch = _SlackCallsHoldingTheDatabase()
    gateway_log = logging.getLogger("bot.slack.gateway")
    gateway_log.addHandler(watch)
    try:
        yield watch.seen
    finally:
        gateway_log.removeHandler(watch)
    assert not watch.seen, watch.seen


def _backends() -> list[object]:
    postgres_url = os.environ.get("TEST_DATABASE_URL")
    skip = pytest.mark.skip(reason="TEST_DATABASE_URL is not set: PostgreSQL run skipped")
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(postgres_url or "", id="postgresql", marks=() if postgres_url else skip),
    ]


@pytest.fixture(scope="session", params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = str(request.param)
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    engine = make_engine(url)
    upgrade(engine)  # the migrations, not create_all: the tests exercise what production runs
    engine.dispose()
    yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    fake.add_user(LEAD, name="Lea Lead", tz="America/New_York", email="lea@example.com")
    fake.add_user(RESPONDER_BERLIN, name="Ben Berlin", tz="Europe/Berlin", email="ben@example.com")
    fake.add_user(RESPONDER_TOKYO, name="Toko Tokyo", tz="Asia/Tokyo")
    fake.add_user(OUTSIDER, name="Otto Outsider", tz="Europe/London")
    fake.add_user(SOME_BOT, name="other-bot", is_bot=True)
    yield fake
    fake.stop()


@pytest.fixture
def fake_misp() -> Iterator[FakeMisp]:
    fake = FakeMisp().start()
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack) -> Settings:
    return Settings(
        _env_file=None,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        DATABASE_URL=database_url,
    )


@pytest.fixture
def runtime(settings: Settings, engine: Engine, clock: FrozenClock) -> Runtime:
    runtime = build_runtime(settings, clock=clock)
    return runtime


@pytest.fixture
def app_url(runtime: Runtime) -> Iterator[str]:
    with serving(runtime) as url:
        yield url


@pytest.fixture
def slack(app_url: str, fake_slack: FakeSlack) -> SlackSim:
    return SlackSim(app_url, fake_slack)


@pytest.fixture
def in_transaction(runtime: Runtime):  # type: ignore[no-untyped-def]
    """Read the database as the services see it."""
    return lambda: transaction(runtime.sessions)


REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def started(slack: SlackSim, fake_slack: FakeSlack, runtime: Runtime):  # type: ignore[no-untyped-def]
    """A post-mortem set up through the real flow: (postmortem id, review channel id)."""
    from bot.demo.signed_requests import wait_for_dm
    from models import Postmortem
    from tests.handlers.test_start import REPORT, open_form

    view = open_form(slack, fake_slack)
    slack.submit_view(view, user=LEAD, values=REPORT)
    wait_for_dm(fake_slack, LEAD, "is ready")
    with transaction(runtime.sessions) as session:
        from sqlalchemy import select

        postmortem = session.scalars(select(Postmortem)).one()
        return postmortem.id, postmortem.channel_id
