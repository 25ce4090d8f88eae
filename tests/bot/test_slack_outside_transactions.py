"""No Slack call while the database is held: a slow Slack must stall the one request that asked, not the
database (SQLite's one write lock, a row lock, the pool's last connection) and every request behind it."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import select

from bot.demo.signed_requests import SlackSim, eventually
from bot.runtime import Runtime
from bot.slack.cache import TtlCache
from bot.slack.double import FakeSlack
from models import Postmortem
from models.db import holding_a_connection, single_statements, transaction
from tests.conftest import LEAD, OUTSIDER


def test_the_gateway_says_when_it_is_asked_while_a_transaction_holds_the_database(
    runtime: Runtime, started: tuple[int, str], fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture,
    no_slack_call_holds_the_database: list[str],
) -> None:
    _, channel = started
    runtime.slack.forget_members(channel=channel)
    with caplog.at_level(logging.WARNING, logger="bot.slack.gateway"):
        runtime.slack.channel_members(channel=channel)
        assert not caplog.records  # outside any transaction: nothing to say
        asked = len(fake_slack.calls_to("conversations.members"))
        with transaction(runtime.sessions) as session:
            session.scalars(select(Postmortem)).all()
            assert holding_a_connection()
            # A join or leave just made it forget the members: the last answer serves, Slack is not asked.
            runtime.slack.forget_members(channel=channel)
            assert LEAD in runtime.slack.channel_members(channel=channel)
            assert len(fake_slack.calls_to("conversations.members")) == asked
            runtime.slack.user(OUTSIDER)  # never asked before: Slack it is, and it is said
    assert not holding_a_connection()
    [said] = [record.getMessage() for record in caplog.records]
    assert said == "users.info called while holding a database connection: a slow Slack holds the database too"
    assert no_slack_call_holds_the_database == [said]  # what fails every other test that does it
    no_slack_call_holds_the_database.clear()


def test_a_single_statement_connection_is_let_go_before_slack_is_asked(runtime: Runtime, started: tuple[int, str]) -> None:
    with single_statements(runtime.engine) as connection:
        connection.execute(select(Postmortem.id)).all()
        assert holding_a_connection()
    assert not holding_a_connection()


@pytest.mark.parametrize("flow", ["notes", "status", "actions all", "monitor", "export stix"])
def test_a_command_waiting_on_a_slow_slack_holds_up_no_note_elsewhere(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, flow: str, database_url: str,
) -> None:
    """While a command waits 4 s for Slack's members list of its channel, a note in another review
    channel is stored at once: the waiting command holds no database connection, so no lock and no
    pool slot either."""
    from tests.serving import seed_review

    _, slow_channel = started
    quick_channel = seed_review(database_url, fake_slack, facilitator=LEAD, members=[], title="Second incident")
    runtime.slack.channel_members(channel=quick_channel)
    runtime.slack.forget_members(channel=slow_channel)
    asked = len(fake_slack.calls_to("conversations.members"))
    fake_slack.slow("conversations.members", seconds=4)
    finished: dict[str, float] = {}

    def slow_command() -> None:
        slack.ask(flow, user=LEAD, channel=slow_channel, timeout=20)
        finished["slow"] = time.monotonic()

    waiting = threading.Thread(target=slow_command)
    waiting.start()
    eventually(lambda: len(fake_slack.calls_to("conversations.members")) > asked, timeout=10,
               what=f"/postmortem {flow} asking Slack for the channel's members")
    quick = slack.ask("note Beacon to 203.0.113.10 every 60 s", user=LEAD, channel=quick_channel, timeout=20)
    finished["quick"] = time.monotonic()
    waiting.join(timeout=30)
    assert quick.text.startswith(":memo: Added to"), quick.text
    assert finished["quick"] < finished["slow"] - 2


def test_the_last_answer_outlives_a_forget_but_not_its_time() -> None:
    now = [0.0]
    cache: TtlCache[frozenset[str]] = TtlCache(ttl_seconds=30, clock=lambda: now[0])
    cache.get_or_load("C1", lambda: frozenset({"U1"}))
    cache.forget("C1")  # someone joined or left
    assert cache.remembered("C1") is None and cache.last_answer("C1") == frozenset({"U1"})
    now[0] = 31.0
    assert cache.last_answer("C1") is None  # older than the cache's own time: never served, even in a transaction
