"""Monitoring's sightings in the STIX bundle and in MISP (through signed events, the Slack double and the MISP double)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.signed_requests import SIGNING_SECRET, SlackSim, eventually, wait_for_dm
from bot.monitoring import service as monitoring
from bot.reminders.dispatcher import dispatch_due
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.double import BOT_TOKEN, FakeSlack
from models import Reminder, ReminderStatus
from tests.conftest import LEAD
from tests.fake_misp import MISP_KEY, FakeMisp
from tests.handlers.test_monitoring import (  # noqa: F401 - fixtures used below
    alert_channel,
    bot_alert,
    deliver,
    fresh_watchlist,
    watched,
)
from tests.handlers.test_reports import publish


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack, alert_channel: str, fake_misp: FakeMisp) -> Settings:  # noqa: F811
    return Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                    SLACK_API_URL=fake_slack.api_url, DATABASE_URL=database_url, MONITOR_CHANNELS=alert_channel,
                    MISP_URL=fake_misp.url, MISP_KEY=MISP_KEY)


def misp_reminders(in_transaction: Any) -> list[tuple[ReminderStatus, int]]:
    with in_transaction() as session:
        return [(r.status, r.attempts) for r in session.scalars(
            select(Reminder).where(Reminder.kind == monitoring.MISP_SIGHTING).order_by(Reminder.id))]


def stix_sightings(slack: SlackSim, fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    before = set(fake.files)
    slack.ask("export stix", user=LEAD, channel=channel)
    [new] = eventually(lambda: [f for key, f in fake.files.items() if key not in before and f["channels"]],
                       what="the bundle shared")
    return [item for item in json.loads(new["content"])["objects"] if item["type"] == "sighting"]


def test_a_sighting_reaches_misp_once_and_a_misp_outage_is_retried(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,  # noqa: F811
    deliver: Callable[..., None], fake_misp: FakeMisp, runtime: Runtime, clock: FrozenClock,  # noqa: F811
    in_transaction: Any,
) -> None:
    _, channel = watched
    publish(slack, fake_slack, channel)
    [event] = eventually(lambda: list(fake_misp.events.values()), what="the MISP event")
    c2 = next(a for a in event["Attribute"] if a["value"] == "203.0.113.66")

    fake_misp.fail("POST", "/sightings/add", status=500)
    alert = bot_alert(fake_slack, alert_channel, field_value="203.0.113.66")
    deliver(alert)
    deliver(alert, retry_num=1)  # Slack's redelivery: no second sighting, so nothing more for MISP
    wait_for_dm(fake_slack, LEAD, "showed up again")
    eventually(lambda: misp_reminders(in_transaction) == [(ReminderStatus.PENDING, 1)], what="the failed MISP call")
    assert fake_misp.sightings == []

    clock.advance(timedelta(hours=1))
    dispatch_due(runtime, worker_id="test")
    assert misp_reminders(in_transaction) == [(ReminderStatus.SENT, 2)]
    assert [s["attribute_uuid"] for s in fake_misp.sightings] == [c2["uuid"]]
    dispatch_due(runtime, worker_id="test")
    assert len(fake_misp.sightings) == 1


def test_a_sighting_before_the_indicators_reach_misp_is_not_sent_there_but_is_in_the_bundle(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,  # noqa: F811
    deliver: Callable[..., None], fake_misp: FakeMisp, in_transaction: Any,  # noqa: F811
) -> None:
    _, channel = watched
    deliver(bot_alert(fake_slack, alert_channel, field_value="203.0.113.66"))
    eventually(lambda: misp_reminders(in_transaction) == [(ReminderStatus.SKIPPED, 1)], what="the MISP step skipped")
    assert fake_misp.sightings == [] and not fake_misp.events
    [sighting] = stix_sightings(slack, fake_slack, channel)
    assert sighting["count"] == 1 and sighting["sighting_of_ref"].startswith("indicator--")


def test_a_sighting_judged_not_related_leaves_the_bundle(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,  # noqa: F811
    deliver: Callable[..., None],  # noqa: F811
) -> None:
    _, channel = watched
    deliver(bot_alert(fake_slack, alert_channel, field_value="5f4dcc3b5aa765d61d8327deb882cf99"))
    dm = wait_for_dm(fake_slack, LEAD, "showed up again")
    assert len(stix_sightings(slack, fake_slack, channel)) == 1
    not_related = dm["blocks"][-1]["elements"][1]
    slack.press(not_related["action_id"], not_related["value"], user=LEAD)
    eventually(lambda: any(r["text"].startswith("Recorded as not related") for r in fake_slack.responses),
               what="the verdict recorded")
    assert stix_sightings(slack, fake_slack, channel) == []


def test_a_sighting_judged_not_related_before_misp_was_reachable_never_reaches_misp(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,  # noqa: F811
    deliver: Callable[..., None], fake_misp: FakeMisp, runtime: Runtime, clock: FrozenClock,  # noqa: F811
    in_transaction: Any,
) -> None:
    _, channel = watched
    publish(slack, fake_slack, channel)
    fake_misp.fail("POST", "/sightings/add", status=500)
    deliver(bot_alert(fake_slack, alert_channel, field_value="203.0.113.66"))
    not_related = wait_for_dm(fake_slack, LEAD, "showed up again")["blocks"][-1]["elements"][1]
    eventually(lambda: misp_reminders(in_transaction) == [(ReminderStatus.PENDING, 1)], what="the failed MISP call")
    slack.press(not_related["action_id"], not_related["value"], user=LEAD)
    eventually(lambda: any(r["text"].startswith("Recorded as not related") for r in fake_slack.responses),
               what="the verdict recorded")

    clock.advance(timedelta(hours=1))
    dispatch_due(runtime, worker_id="test")
    assert fake_misp.sightings == []
    assert misp_reminders(in_transaction) == [(ReminderStatus.SKIPPED, 2)]
