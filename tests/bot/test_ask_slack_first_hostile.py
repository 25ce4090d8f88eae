"""Hostile review of ask_slack_first: it must ask Slack no more than the checks inside the transaction
did, so that a review channel Slack no longer answers for (the bot removed from it: channel_not_found)
breaks nothing that did not need that channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from bot.demo.signed_requests import SlackSim, eventually
from bot.runtime import Runtime
from bot.slack.double import FakeSlack
from models import Postmortem, PostmortemStatus
from tests.conftest import LEAD, RESPONDER_BERLIN
from tests.serving import seed_review


def _lost_channel(database_url: str, fake_slack: FakeSlack, runtime: Runtime, in_transaction: Any, *,
                  closed: bool) -> str:
    """Another post-mortem LEAD facilitates, whose channel Slack answers channel_not_found for."""
    lost = seed_review(database_url, fake_slack, facilitator=LEAD, members=[], title="Old incident")
    if closed:
        with in_transaction() as session:
            session.execute(update(Postmortem).where(Postmortem.channel_id == lost)
                            .values(status=PostmortemStatus.CLOSED))
    fake_slack.inject("conversations.members", error="channel_not_found", channel=lost, times=50)
    runtime.slack.forget_members(channel=lost)
    return lost


def test_note_form_in_a_working_review_channel_ignores_another_postmortems_lost_channel(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, database_url: str,
    in_transaction: Any,
) -> None:
    _, channel = started
    lost = _lost_channel(database_url, fake_slack, runtime, in_transaction, closed=False)
    runtime.slack.forget_members(channel=channel)
    assert slack.command("note", user=LEAD, channel=channel).status == 200
    eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form", what="the note form")
    assert not [c for c in fake_slack.calls_to("conversations.members") if c.get("channel") == lost]


def test_action_form_in_a_working_review_channel_ignores_another_postmortems_lost_channel(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, database_url: str,
    in_transaction: Any,
) -> None:
    _, channel = started
    lost = _lost_channel(database_url, fake_slack, runtime, in_transaction, closed=False)
    runtime.slack.forget_members(channel=channel)
    assert slack.command("action", user=LEAD, channel=channel).status == 200
    eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_form", what="the action form")
    assert not [c for c in fake_slack.calls_to("conversations.members") if c.get("channel") == lost]


def test_scorecard_of_a_facilitator_is_not_refused_for_an_old_postmortems_lost_channel(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, database_url: str,
    in_transaction: Any,
) -> None:
    """viewer() needs the first post-mortem LEAD still facilitates; a later one's lost channel is not asked."""
    _, channel = started
    _lost_channel(database_url, fake_slack, runtime, in_transaction, closed=True)
    runtime.slack.forget_members(channel=channel)
    answer = slack.ask("scorecard all", user=LEAD).json()
    assert answer["text"].startswith("Security scorecard"), answer


def test_outsider_is_still_refused_with_cold_caches(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime,
) -> None:
    _, channel = started
    for text in ("notes", "status", "actions all", "note Beacon to 203.0.113.10"):
        runtime.slack.forget_members(channel=channel)
        answer = slack.ask(text, user="U0OUTSIDE1", channel=channel).text
        assert answer.startswith("I can't find a post-mortem you take part in here"), (text, answer)
