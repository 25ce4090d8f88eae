"""What every listener and job needs: settings, database sessions, the Slack gateway, the clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import domains
from bot.clock import Clock, SystemClock
from bot.settings import Settings
from bot.slack.gateway import SlackGateway
from models.db import make_engine, make_session_factory


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    slack: SlackGateway
    clock: Clock


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    domains.load_all()  # so the dispatcher, in whichever process it runs, knows every reminder sender
    engine = make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        slack=SlackGateway(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url,
                           max_retry_after=settings.slack_max_retry_after),
        clock=clock or SystemClock(),
    )
