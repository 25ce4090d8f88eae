"""STIX 2.1 with every published report and on `/postmortem export stix`, and the MISP push on publish,
through signed requests, the fake Slack and the fake MISP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.signed_requests import SIGNING_SECRET, SlackSim, eventually, wait_for_dm
from bot.postmortems.access import NOT_FOUND
from bot.reminders import service as reminders
from bot.reminders.dispatcher import dispatch_due
from bot.reports.flows import EXPORT_USAGE, MISP_ON_ITS_WAY, MISP_PUSH
from bot.runtime import Runtime
from bot.settings import Settings
from bot.slack.double import BOT_TOKEN, FakeSlack
from models import MispPush, Reminder, ReminderStatus
from tests.bot.test_stix import of_type, valid_stix
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN
from tests.fake_misp import MISP_KEY, FakeMisp
from tests.handlers.test_reports import publish

NOTE = "note Phishing from hr@evil-login.com, payload at http://evil-login.com/vpn\\x.php, C2 198.51.100.7"
PATTERNS = {"[email-addr:value = 'hr@evil-login.com']", "[domain-name:value = 'evil-login.com']",
            "[url:value = 'http://evil-login.com/vpn\\\\x.php']", "[ipv4-addr:value = '198.51.100.7']"}


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack, fake_misp: FakeMisp) -> Settings:
    """The app as the other tests run it, with MISP configured."""
    return Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                    SLACK_API_URL=fake_slack.api_url, DATABASE_URL=database_url, MISP_URL=fake_misp.url, MISP_KEY=MISP_KEY)


def shared(fake: FakeSlack, suffix: str) -> list[dict[str, Any]]:
    return [f for f in fake.files.values() if f["channels"] and f["filename"].endswith(suffix)]


def classify_targeted(slack: SlackSim, fake: FakeSlack, channel: str) -> None:
    slack.command("classify", user=LEAD, channel=channel)
    view = eventually(lambda: fake.latest_view().get("callback_id") == "classification" and fake.latest_view())
    slack.submit_view(view, user=LEAD, values={"classification": "targeted", "attack_vector": "phishing",
                                                "rationale": "Lure named our VPN vendor"})


def test_export_stix_uploads_a_valid_bundle_to_the_review_channel(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], fake_misp: FakeMisp
) -> None:
    postmortem_id, channel = started
    slack.ask(NOTE, user=RESPONDER_BERLIN, channel=channel)
    answer = slack.ask("export stix", user=RESPONDER_BERLIN, channel=channel)
    assert answer.text == f":white_check_mark: The STIX 2.1 bundle (4 indicators) is in <#{channel}>."
    [file] = shared(fake_slack, ".stix.json")
    assert file["filename"] == f"postmortem-{postmortem_id}-vpn-credential-phishing-indicators.stix.json"
    assert file["channels"] == [channel]
    bundle = valid_stix(file["content"])
    assert {item["pattern"] for item in of_type(bundle, "indicator")} == PATTERNS
    assert of_type(bundle, "report")[0]["name"] == "VPN credential phishing"

    slack.ask("export STIX", user=LEAD, channel=channel)
    again = eventually(lambda: len(shared(fake_slack, ".stix.json")) == 2 and shared(fake_slack, ".stix.json")[1])
    assert sorted(i["id"] for i in of_type(valid_stix(again["content"]), "indicator")) == \
        sorted(i["id"] for i in of_type(bundle, "indicator"))
    assert not fake_misp.requests  # exporting is not publishing


def test_export_refuses_outsiders_and_asks_which_export(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    assert slack.ask("export stix", user=OUTSIDER, channel=channel).text == NOT_FOUND
    assert slack.ask("export stix", user=LEAD, channel="C0ELSEWHERE").text == NOT_FOUND
    assert slack.ask("export", user=LEAD, channel=channel).text == EXPORT_USAGE
    assert slack.ask("export csv", user=LEAD, channel=channel).text == EXPORT_USAGE
    assert not shared(fake_slack, ".stix.json")


def published_text(channel: str) -> str:
    return f":white_check_mark: Report v1 is published in <#{channel}>.\n{MISP_ON_ITS_WAY}"


def test_publishing_uploads_the_bundle_and_pushes_one_misp_event(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], fake_misp: FakeMisp, in_transaction: Any
) -> None:
    postmortem_id, channel = started
    slack.ask(NOTE, user=RESPONDER_BERLIN, channel=channel)
    classify_targeted(slack, fake_slack, channel)
    publish(slack, fake_slack, channel)
    assert fake_slack.responses[-1]["text"] == published_text(channel)
    [file] = shared(fake_slack, ".stix.json")
    assert file["filename"] == f"postmortem-{postmortem_id}-vpn-credential-phishing-report-v1.stix.json"
    indicators = of_type(valid_stix(file["content"]), "indicator")
    assert {item["pattern"] for item in indicators} == PATTERNS
    assert all(item["labels"] == ["classification:targeted", "attack-vector:phishing"] for item in indicators)

    [event] = eventually(lambda: list(fake_misp.events.values()), what="the MISP event, pushed after the answer")
    assert event["info"] == "Post-mortem: VPN credential phishing"
    assert {(a["type"], a["value"]) for a in event["Attribute"]} == {
        ("email-src", "hr@evil-login.com"), ("domain", "evil-login.com"), ("url", "http://evil-login.com/vpn\\x.php"),
        ("ip-dst", "198.51.100.7")}
    # The MISP attribute and the STIX Indicator are one object under one uuid.
    assert {f"indicator--{a['uuid']}" for a in event["Attribute"]} == {item["id"] for item in indicators}

    slack.ask("note Second stage at evil-update.net", user=RESPONDER_BERLIN, channel=channel)
    publish(slack, fake_slack, channel)
    eventually(lambda: "evil-update.net" in {a["value"] for a in next(iter(fake_misp.events.values()))["Attribute"]},
               what="the new indicator added to the same event")
    assert len(fake_misp.events) == 1 and len(fake_misp.calls("POST", "/events/edit/")) == 1
    with in_transaction() as session:
        push = session.scalars(select(MispPush)).one()
    assert (push.postmortem_id, push.event_uuid, push.error) == (postmortem_id, event["uuid"], None)
    assert push.pushed_at is not None


def test_a_slow_misp_never_holds_up_the_published_answer(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], fake_misp: FakeMisp
) -> None:
    _, channel = started
    slack.ask(NOTE, user=RESPONDER_BERLIN, channel=channel)
    fake_misp.slow("/", seconds=3)
    publish(slack, fake_slack, channel)
    assert fake_slack.responses[-1]["text"] == published_text(channel) and not fake_misp.events
    eventually(lambda: fake_misp.events, timeout=30, what="the event, once MISP answers")


def test_a_misp_outage_never_blocks_publishing_the_facilitator_hears_once_and_it_is_retried(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], fake_misp: FakeMisp, in_transaction: Any,
    runtime: Runtime, clock: FrozenClock,
) -> None:
    _, channel = started
    slack.ask(NOTE, user=RESPONDER_BERLIN, channel=channel)
    fake_misp.fail("POST", "/events/add", status=500)
    summary = publish(slack, fake_slack, channel)
    assert summary["text"].startswith("Post-mortem report v1")
    assert fake_slack.responses[-1]["text"] == published_text(channel)
    told = wait_for_dm(fake_slack, LEAD, "did not reach MISP")
    assert told["text"] == (":warning: The indicators of *VPN credential phishing* did not reach MISP yet (MISP refused "
                            "the request). The report is published; I'll try again 3 more times over the next 20 minutes.")
    assert not fake_misp.events and len(shared(fake_slack, ".stix.json")) == 1
    with in_transaction() as session:
        failed = session.scalars(select(MispPush)).one()
        assert (failed.error, failed.pushed_at) == ("MISP refused the request", None)
    eventually(lambda: push_statuses(in_transaction) == [ReminderStatus.PENDING], what="the push, to be retried")

    clock.advance(timedelta(hours=1))
    dispatch_due(runtime, worker_id="test")
    assert len(fake_misp.events) == 1
    with in_transaction() as session:
        pushed = session.scalars(select(MispPush)).one()
        assert pushed.error is None and pushed.pushed_at is not None
        assert session.scalars(select(Reminder.status).where(Reminder.kind == MISP_PUSH)).one() is ReminderStatus.SENT
    assert sum("did not reach MISP" in m["text"] for m in fake_slack.dm_messages(LEAD)) == 1


def push_statuses(in_transaction: Any) -> list[ReminderStatus]:
    """Read in a transaction of its own each time: one kept open would go on seeing its first snapshot."""
    with in_transaction() as session:
        return list(session.scalars(select(Reminder.status).where(Reminder.kind == MISP_PUSH)))


def test_publishing_without_indicators_makes_no_empty_misp_event(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], fake_misp: FakeMisp, in_transaction: Any
) -> None:
    _, channel = started
    publish(slack, fake_slack, channel)
    assert fake_slack.responses[-1]["text"] == published_text(channel)
    assert not of_type(valid_stix(shared(fake_slack, ".stix.json")[0]["content"]), "indicator")
    eventually(lambda: push_statuses(in_transaction) == [ReminderStatus.SKIPPED], what="the push, skipped")
    with in_transaction() as session:
        assert session.scalars(select(MispPush)).first() is None
    assert not fake_misp.requests and not fake_misp.events


def test_when_misp_stays_down_the_facilitator_hears_when_it_stops_trying(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], fake_misp: FakeMisp, in_transaction: Any,
    runtime: Runtime, clock: FrozenClock,
) -> None:
    _, channel = started
    slack.ask(NOTE, user=RESPONDER_BERLIN, channel=channel)
    for _ in range(reminders.MAX_ATTEMPTS):
        fake_misp.fail("POST", "/events/add", status=500)
    publish(slack, fake_slack, channel)
    wait_for_dm(fake_slack, LEAD, "did not reach MISP yet")
    for _ in range(reminders.MAX_ATTEMPTS):
        clock.advance(timedelta(hours=1))
        dispatch_due(runtime, worker_id="test")
    gave_up = wait_for_dm(fake_slack, LEAD, "I've stopped trying")
    assert "to import into MISP by hand; while the post-mortem is open, publishing a new version also tries again" in gave_up["text"] and not fake_misp.events
    assert [m["text"].count("MISP") > 0 for m in fake_slack.dm_messages(LEAD) if "MISP" in m["text"]] == [True, True]
    with in_transaction() as session:
        assert session.scalars(select(Reminder.status).where(Reminder.kind == MISP_PUSH)).one() is ReminderStatus.FAILED
