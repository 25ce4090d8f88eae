"""Monitoring after the incident, through signed Events API requests and interactions against the Slack double."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.signed_requests import SIGNING_SECRET, SlackSim, eventually, wait_for_dm
from bot.monitoring import flows as monitoring_flows
from bot.monitoring import service as monitoring
from bot.monitoring import watchlist
from bot.notes import service as notes_service
from bot.reminders.dispatcher import dispatch_due
from bot.reports import service as reports
from bot.runtime import Runtime
from bot.settings import ConfigurationError, Settings, load_settings
from bot.slack.double import BOT_TOKEN, BOT_USER_ID, FakeSlack
from models import CheckIn, CheckInAnswer, Note, Postmortem, PostmortemStatus, Sighting, Verdict
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN
from tests.handlers.test_reports import publish
from tests.races import at_once, most_in_flight, on_postgresql
from tests.support import notice_text, utc

SIEM_BOT = "B0SIEMBOT1"
INDICATORS_NOTE = ("note Lure came from hr@evil-login.com, payload hxxp://evil-login[.]com/vpn[.]exe "
                   "md5 5f4dcc3b5aa765d61d8327deb882cf99, C2 203.0.113.66")


@pytest.fixture(autouse=True)
def fresh_watchlist(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every delivery looks at the version: the tests change indicators and windows between deliveries.
    monkeypatch.setattr(watchlist, "CHECK_EVERY_SECONDS", 0.0)


@pytest.fixture
def deliver(slack: SlackSim, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Send an event and wait until its after-ack work is done: what did not happen by then never will."""
    finished: list[int] = []
    read_alert = monitoring_flows.read_alert

    def read_and_count(*args: Any, **kwargs: Any) -> list[int]:
        try:
            return read_alert(*args, **kwargs)
        finally:
            finished.append(1)

    monkeypatch.setattr(monitoring_flows, "read_alert", read_and_count)

    def send(event: dict[str, Any], **options: Any) -> None:
        expected = len(finished) + 1
        assert slack.event(event, **options).status == 200
        eventually(lambda: len(finished) >= expected, what="the event's after-ack work")
    return send


@pytest.fixture
def alert_channel(fake_slack: FakeSlack) -> str:
    return fake_slack.add_channel("siem-alerts", members=[BOT_USER_ID])


@pytest.fixture
def escalation_channel(fake_slack: FakeSlack) -> str:
    return fake_slack.add_channel("sec-escalations", members=[BOT_USER_ID, LEAD])


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack, alert_channel: str, escalation_channel: str) -> Settings:
    return Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                    SLACK_API_URL=fake_slack.api_url, DATABASE_URL=database_url, MONITOR_CHANNELS=alert_channel,
                    ESCALATION_CHANNEL=escalation_channel)


@pytest.fixture
def watched(slack: SlackSim, started: tuple[int, str]) -> tuple[int, str]:
    """A post-mortem (resolved 2026-11-18 09:00, so watched until 2026-12-18 09:00) holding four indicators."""
    postmortem_id, channel = started
    assert slack.ask(INDICATORS_NOTE, user=LEAD, channel=channel).text.startswith(":memo: Added")
    return postmortem_id, channel


def bot_alert(fake: FakeSlack, channel: str, *, field_value: str, text: str = "") -> dict[str, Any]:
    """An EDR bot's alert: the indicator sits in an attachment field, as such bots post them."""
    posted = fake.add_message(channel, user="", text=text)
    posted.pop("user")
    posted.update(subtype="bot_message", bot_id=SIEM_BOT, username="EDR", attachments=[{
        "fallback": "EDR alert", "color": "danger", "title": "Outbound connection blocked",
        "fields": [{"title": "Host", "value": "fra-vpn-01", "short": True},
                   {"title": "Destination", "value": field_value, "short": True}],
    }])
    return {"type": "message", "channel": channel, "channel_type": "channel", **posted}


def sightings(in_transaction: Any) -> list[Sighting]:
    with in_transaction() as session:
        return list(session.scalars(select(Sighting).order_by(Sighting.id)))


def notices(fake: FakeSlack, channel: str) -> list[dict[str, Any]]:
    return [m for m in fake.messages.get(channel, []) if "showed up again" in m["text"]]


@pytest.mark.parametrize("written", ["evil-login.com", "EVIL-LOGIN[.]com", "hxxps[:]//evil-login(.)com/"])
def test_an_indicator_in_a_bot_alerts_attachment_field_is_a_sighting_told_to_the_facilitator_and_the_channel(
    written: str, slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any,
) -> None:
    postmortem_id, review_channel = watched
    alert = bot_alert(fake_slack, alert_channel, field_value=f"{written} (443/tcp)")
    assert slack.event(alert).status == 200

    dm = wait_for_dm(fake_slack, LEAD, "showed up again")
    posted = eventually(lambda: notices(fake_slack, review_channel), what="the post in the review channel")
    [sighting] = sightings(in_transaction)
    assert (sighting.postmortem_id, sighting.kind, sighting.value, sighting.channel_id, sighting.message_ts,
            sighting.verdict) == (postmortem_id, "domain", "evil-login.com", alert_channel, alert["ts"], Verdict.PENDING)
    permalink = f"https://fake.slack.com/archives/{alert_channel}/p{alert['ts'].replace('.', '')}"
    for message in (dm, posted[0]):
        assert "`evil-login[.]com`" in message["text"] and f"<{permalink}|this alert>" in message["text"]
        assert "evil-login.com" not in message["text"].replace(permalink, "")
        buttons = {b["text"]["text"]: b["value"] for b in message["blocks"][-1]["elements"]}
        assert buttons == {"Recurrence: reopen": str(sighting.id), "Not related": str(sighting.id)}


def test_messages_outside_the_alert_channels_and_alerts_without_indicators_are_ignored(
    deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any,
) -> None:
    other = fake_slack.add_channel("random", members=[BOT_USER_ID])
    deliver(bot_alert(fake_slack, other, field_value="evil-login.com"), event_id="Ev1")
    deliver(bot_alert(fake_slack, alert_channel, field_value="notevil-login.com evil-login.com.example 5f4dcc3b5aa765d61d8327deb882cf990"),
            event_id="Ev2")
    assert sightings(in_transaction) == []
    deliver(bot_alert(fake_slack, alert_channel, field_value="203[.]0[.]113[.]66"), event_id="Ev3")
    assert [s.value for s in sightings(in_transaction)] == ["203.0.113.66"]


def test_no_sighting_after_the_window_or_once_the_facilitator_stops_it(
    slack: SlackSim, deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any, clock: FrozenClock,
) -> None:
    _, review_channel = watched
    assert "until" in slack.ask("monitor", user=LEAD, channel=review_channel).text
    assert slack.ask("monitor off", user=RESPONDER_BERLIN, channel=review_channel).text == \
        "Only the facilitator of this post-mortem can change its monitoring."
    assert "Monitoring was stopped by" in slack.ask("monitor off", user=LEAD, channel=review_channel).text
    deliver(bot_alert(fake_slack, alert_channel, field_value="evil-login.com"), event_id="Ev1")
    assert sightings(in_transaction) == []

    # Watching again for 60 days from now; the default window (resolution + 30 days) no longer applies.
    clock.current = utc(2026, 12, 20, 12)
    reply = slack.ask("monitor 60d", user=LEAD, channel=review_channel).text
    assert reply.startswith("Alert channels are watched for this post-mortem's indicators until <!date^")
    deliver(bot_alert(fake_slack, alert_channel, field_value="203.0.113.66"), event_id="Ev2")
    assert [s.value for s in sightings(in_transaction)] == ["203.0.113.66"]

    clock.advance(timedelta(days=61))
    deliver(bot_alert(fake_slack, alert_channel, field_value="5F4DCC3B5AA765D61D8327DEB882CF99"), event_id="Ev3")
    assert [s.value for s in sightings(in_transaction)] == ["203.0.113.66"]
    assert slack.ask("monitor nonsense", user=LEAD, channel=review_channel).text.startswith("Use `/postmortem monitor 30d`")


def test_default_window_ends_monitor_days_after_resolution(
    slack: SlackSim, deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any, clock: FrozenClock,
) -> None:
    _, review_channel = watched
    clock.current = utc(2026, 12, 18, 8, 59)
    deliver(bot_alert(fake_slack, alert_channel, field_value="203.0.113.66"), event_id="Ev1")
    clock.current = utc(2026, 12, 18, 9, 0)
    deliver(bot_alert(fake_slack, alert_channel, field_value="evil-login.com"), event_id="Ev2")
    assert "Monitoring ended" in slack.ask("monitor", user=LEAD, channel=review_channel).text
    assert [s.value for s in sightings(in_transaction)] == ["203.0.113.66"]


def test_a_redelivered_event_makes_no_second_sighting_even_when_both_arrive_at_once(
    slack: SlackSim, deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any, runtime: Runtime,
) -> None:
    alert = bot_alert(fake_slack, alert_channel, field_value="hr[@]evil-login[.]com")
    deliver(alert)
    deliver(alert, retry_num=1)
    assert sorted((s.kind, s.value) for s in sightings(in_transaction)) == [("domain", "evil-login.com"),
                                                                            ("email", "hr@evil-login.com")]
    eventually(lambda: len(wait_dm_texts(fake_slack, "showed up again")) == 2, what="a DM per indicator")

    # Two deliveries of a new alert at the very same moment (on PostgreSQL: both inside their INSERT together).
    second = bot_alert(fake_slack, alert_channel, field_value="203.0.113.66")
    with on_postgresql(runtime.engine, "INSERT INTO sightings", parties=2):
        replies, intervals = at_once(lambda attempt: slack.event(second, event_id="Ev2", retry_num=attempt or None), 2)
    assert [reply.status for reply in replies] == [200, 200] and most_in_flight(intervals) == 2
    eventually(lambda: len(wait_dm_texts(fake_slack, "203[.]0[.]113[.]66")) == 1, what="the one DM")
    assert sum(s.value == "203.0.113.66" for s in sightings(in_transaction)) == 1
    assert len(wait_dm_texts(fake_slack, "203[.]0[.]113[.]66")) == 1


def wait_dm_texts(fake: FakeSlack, fragment: str) -> list[str]:
    return [m["text"] for m in fake.dm_messages(LEAD) if fragment in m["text"]]


def close(slack: SlackSim, fake: FakeSlack, channel: str) -> None:
    publish(slack, fake, channel)
    assert slack.ask("close", user=LEAD, channel=channel).text.startswith(":lock:")


def closed_and_seen_again(slack: SlackSim, fake: FakeSlack, *, review_channel: str, alert_channel: str,
                          escalation_channel: str) -> dict[str, Any]:
    """Close the post-mortem, then an alert names one of its indicators: the notice in ESCALATION_CHANNEL."""
    close(slack, fake, review_channel)
    assert fake.channels[review_channel].is_archived
    slack.event(bot_alert(fake, alert_channel, field_value="evil-login.com"))
    [posted] = eventually(lambda: notices(fake, escalation_channel), what="the escalation post")
    return posted


def test_recurrence_reopens_a_closed_post_mortem_and_its_channel_once_however_often_it_is_clicked(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str, escalation_channel: str,
    in_transaction: Any,
) -> None:
    postmortem_id, review_channel = watched
    # The review channel is archived: the post goes to ESCALATION_CHANNEL.
    posted = closed_and_seen_again(slack, fake_slack, review_channel=review_channel, alert_channel=alert_channel,
                                   escalation_channel=escalation_channel)
    assert notices(fake_slack, review_channel) == []
    button = posted["blocks"][-1]["elements"][0]
    assert button["text"]["text"] == "Recurrence: reopen"

    assert slack.press(button["action_id"], button["value"], user=OUTSIDER).status == 200
    eventually(lambda: "I can't find a post-mortem" in fake_slack.responses[-1]["text"], what="the refusal")
    with in_transaction() as session:
        assert session.get_one(Sighting, int(button["value"])).verdict is Verdict.PENDING

    replies, intervals = at_once(lambda _: slack.press(button["action_id"], button["value"], user=LEAD), 2)
    assert [r.status for r in replies] == [200, 200] and most_in_flight(intervals) == 2
    answers = eventually(lambda: [r["text"] for r in fake_slack.responses if "recurrence" in r["text"]][-2:]
                         if sum("recurrence" in r["text"] for r in fake_slack.responses) >= 2 else None,
                         what="both answers")
    assert sorted(answers) == [f"<@{LEAD}> already marked this sighting as a recurrence.",
                               f"Recorded as a recurrence, by <@{LEAD}>. *VPN credential phishing* is reopened."]
    with in_transaction() as session:
        assert session.get_one(Postmortem, postmortem_id).status is PostmortemStatus.OPEN
        sighting = session.get_one(Sighting, int(button["value"]))
        assert (sighting.verdict, sighting.decided_by) == (Verdict.RECURRENCE, LEAD)
        assert monitoring.recurrences(session, postmortem_ids=[postmortem_id]) == {postmortem_id: 1}
    assert not fake_slack.channels[review_channel].is_archived
    assert len([m for m in fake_slack.messages[review_channel] if "reopened" in m["text"]]) == 1
    # Open again: notes are taken.
    assert slack.ask("note It came back through the same domain", user=LEAD, channel=review_channel).text.startswith(":memo: Added")


def test_not_related_records_a_false_positive_and_leaves_the_post_mortem_as_it_was(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str, in_transaction: Any,
) -> None:
    postmortem_id, _ = watched
    slack.event(bot_alert(fake_slack, alert_channel, field_value="5f4dcc3b5aa765d61d8327deb882cf99"))
    dm = wait_for_dm(fake_slack, LEAD, "showed up again")
    not_related = dm["blocks"][-1]["elements"][1]
    for _ in range(2):
        slack.press(not_related["action_id"], not_related["value"], user=LEAD)
    eventually(lambda: any("already marked this sighting as not related" in r["text"] for r in fake_slack.responses),
               what="the second click's answer")
    assert sum(r["text"].startswith("Recorded as not related") for r in fake_slack.responses) == 1
    reopen = dm["blocks"][-1]["elements"][0]
    slack.press(reopen["action_id"], reopen["value"], user=LEAD)
    eventually(lambda: sum("already marked" in r["text"] for r in fake_slack.responses) == 2, what="the late reopen")
    with in_transaction() as session:
        assert session.get_one(Sighting, int(not_related["value"])).verdict is Verdict.NOT_RELATED
        assert monitoring.recurrences(session, postmortem_ids=[postmortem_id]) == {}


def test_check_ins_after_the_close_come_on_schedule_and_their_answers_reach_the_report(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], clock: FrozenClock, runtime: Runtime,
    in_transaction: Any,
) -> None:
    postmortem_id, review_channel = watched
    closed_at = clock.now()
    close(slack, fake_slack, review_channel)
    assert slack.ask("close", user=LEAD, channel=review_channel).text == "This post-mortem is closed."  # plans nothing more

    def checkins_at(moment: Any) -> list[dict[str, Any]]:
        clock.current = moment
        dispatch_due(runtime, worker_id="w")
        return [m for m in fake_slack.dm_messages(LEAD) if m["text"].startswith("Any signs of")]

    assert checkins_at(closed_at + timedelta(hours=23)) == []
    [first] = checkins_at(closed_at + timedelta(days=1))
    assert first["text"] == "Any signs of *VPN credential phishing* coming back?"
    assert len(checkins_at(closed_at + timedelta(days=6))) == 1
    second = checkins_at(closed_at + timedelta(days=7))[-1]
    assert len(checkins_at(closed_at + timedelta(days=30))) == 3

    quiet = first["blocks"][-1]["elements"][0]
    assert quiet["text"]["text"] == "All quiet"
    for _ in range(2):
        slack.press(quiet["action_id"], quiet["value"], user=LEAD)
    eventually(lambda: any("first answer stands" in r["text"] for r in fake_slack.responses), what="the second answer")

    back = second["blocks"][-1]["elements"][1]
    assert back["text"]["text"] == "Something's back"
    slack.press(back["action_id"], back["value"], user=LEAD)
    form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "checkin_something_back_form"
                      and fake_slack.latest_view(), what="the short form")
    reply = slack.submit_view(form, user=LEAD, values={"details": "Same C2 <!channel> beaconing from hxxp://evil-login[.]com"})
    assert notice_text(reply.json()["view"]).startswith("Recorded as a recurrence of *VPN credential phishing*")

    with in_transaction() as session:
        answers = [(c.answer, c.details) for c in session.scalars(select(CheckIn).order_by(CheckIn.id))]
        assert answers == [(CheckInAnswer.ALL_QUIET, ""),
                           (CheckInAnswer.SOMETHING_BACK, "Same C2 <!channel> beaconing from hxxp://evil-login[.]com")]
        assert monitoring.recurrences(session, postmortem_ids=[postmortem_id, 999]) == {postmortem_id: 1}
        _, report = reports.render(session, postmortem_id=postmortem_id, name_of=str, now=clock.now(),
                                   monitor_period=runtime.settings.monitor_period)
    section = report.markdown.split("## 10. Monitoring", 1)[1]
    assert "All quiet" in section and "Something's back — Same C2 &lt;\\!channel&gt; beaconing from hxxp://evil-login\\[.\\]com" in section
    assert "evil-login.com" not in section and "<!channel>" not in section
    assert "Something&#39;s back" in report.html.split('id="monitoring"', 1)[1]


def test_a_reopened_post_mortem_gets_no_check_in(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str, clock: FrozenClock,
    runtime: Runtime,
) -> None:
    _, review_channel = watched
    closed_at = clock.now()
    close(slack, fake_slack, review_channel)
    slack.event(bot_alert(fake_slack, alert_channel, field_value="evil-login.com"))
    reopen = wait_for_dm(fake_slack, LEAD, "showed up again")["blocks"][-1]["elements"][0]
    slack.press(reopen["action_id"], reopen["value"], user=LEAD)
    eventually(lambda: any("is reopened" in r["text"] for r in fake_slack.responses), what="the reopen")
    clock.current = closed_at + timedelta(days=2)
    assert dispatch_due(runtime, worker_id="w")["skipped"] == 1
    assert not any(m["text"].startswith("Any signs of") for m in fake_slack.dm_messages(LEAD))


def test_hostile_alerts_never_leak_live_text_into_what_the_bot_posts(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str, in_transaction: Any,
) -> None:
    _, review_channel = watched
    hostile = ("<!channel> <!here|here> <@U0LEAD0001> *bold* &lt;script&gt; " + "A" * 200_000
               + " <http://evil-login.com/vpn.exe|click me> <mailto:hr@evil-login.com|hr@evil-login.com>")
    alert = bot_alert(fake_slack, alert_channel, field_value="<@U0EVIL|evil-login[.]com> <#C0EVIL|203.0.113.66>",
                      text=hostile)
    assert slack.event(alert).status == 200
    eventually(lambda: len(notices(fake_slack, review_channel)) == 4, what="a post per indicator found")
    assert sorted(s.value for s in sightings(in_transaction)) == [
        "203.0.113.66", "evil-login.com", "hr@evil-login.com", "http://evil-login.com/vpn.exe"]
    posted = notices(fake_slack, review_channel) + [m for m in fake_slack.dm_messages(LEAD) if "showed up again" in m["text"]]
    assert len(posted) == 8
    for message in posted:
        for text in (message["text"], str(message["blocks"])):
            assert len(text) < 3000
            assert not re.search(r"<![a-z]", text.replace("<!date^", "")), text
            assert "<@U0EVIL" not in text and "script" not in text and "AAAA" not in text
            assert not re.search(r"evil-login\.com|203\.0\.113\.66", re.sub(r"<https://fake\.slack\.com[^|>]*", "", text))


def test_the_bots_own_messages_in_an_alert_channel_are_not_read(
    slack: SlackSim, deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any,
) -> None:
    # Its own sighting posts name the indicator (defanged, which still matches): read back, they would loop.
    own = bot_alert(fake_slack, alert_channel, field_value="evil-login.com")
    own["user"] = BOT_USER_ID
    own.pop("bot_id")
    own.pop("subtype")
    slack.event(own, event_id="Ev1")
    deliver(bot_alert(fake_slack, alert_channel, field_value="203.0.113.66"), event_id="Ev2")
    slack.event(own, event_id="Ev3")
    deliver(bot_alert(fake_slack, alert_channel, field_value="5f4dcc3b5aa765d61d8327deb882cf99"), event_id="Ev4")
    assert [s.value for s in sightings(in_transaction)] == ["203.0.113.66", "5f4dcc3b5aa765d61d8327deb882cf99"]


def test_an_indicator_added_later_is_watched_from_the_next_alert_on(
    slack: SlackSim, deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any,
) -> None:
    _, review_channel = watched
    deliver(bot_alert(fake_slack, alert_channel, field_value="second-stage[.]net"), event_id="Ev1")
    assert sightings(in_transaction) == []
    assert slack.ask("note Second stage pulled from second-stage.net", user=LEAD,
                     channel=review_channel).text.startswith(":memo: Added")
    deliver(bot_alert(fake_slack, alert_channel, field_value="second-stage[.]net"), event_id="Ev2")
    assert [s.value for s in sightings(in_transaction)] == ["second-stage.net"]


def test_monitoring_settings_are_checked_and_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("MONITOR_CHANNELS", "C0ALERTS01, G0EDRALERT")
    parsed = load_settings()
    assert parsed.monitored_channels == {"C0ALERTS01", "G0EDRALERT"}
    assert parsed.monitor_period == timedelta(days=30)
    assert parsed.checkin_offsets == (timedelta(days=1), timedelta(days=7), timedelta(days=30))
    monkeypatch.setenv("MONITOR_CHANNELS", "C0ALERTS01,#siem-alerts")
    monkeypatch.setenv("MONITOR_CHECKINS", "1d,soon")
    monkeypatch.setenv("MONITOR_DAYS", "-3")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    assert str(refused.value).splitlines() == [
        "MONITOR_DAYS is malformed: set it to a number of days, e.g. 30.",
        "MONITOR_CHANNELS is malformed: set it to channel IDs separated by commas, like C0123456789,G0123456789.",
        "MONITOR_CHECKINS is malformed: set it to durations after the close like 1d,7d,30d.",
    ]


def test_an_alert_edited_to_name_an_indicator_is_read_again_once(
    deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any,
) -> None:
    alert = bot_alert(fake_slack, alert_channel, field_value="pending enrichment")
    deliver(alert, event_id="Ev1")
    enriched = {**alert, "attachments": [{"fields": [{"title": "Destination", "value": "evil-login[.]com"}]}]}
    edit = {"type": "message", "subtype": "message_changed", "channel": alert_channel, "hidden": True,
            "ts": "1700000000.000900", "message": enriched, "previous_message": alert}
    deliver(edit, event_id="Ev2")
    deliver(edit, event_id="Ev3")
    deliver({"type": "message", "subtype": "message_deleted", "channel": alert_channel, "hidden": True,
             "ts": "1700000000.000901", "deleted_ts": alert["ts"], "previous_message": enriched}, event_id="Ev4")
    assert [(s.value, s.message_ts) for s in sightings(in_transaction)] == [("evil-login.com", alert["ts"])]


def test_the_facilitator_changes_or_stops_the_window_from_the_report_draft(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], clock: FrozenClock, in_transaction: Any,
) -> None:
    postmortem_id, review_channel = watched
    draft = slack.ask("report", user=LEAD, channel=review_channel).json()
    assert "*Monitoring:* until 2026-12-18 09:00 UTC" in str(draft["blocks"])
    choice = next(e for e in draft["blocks"][-1]["elements"] if e["type"] == "static_select")
    # From now, not added to the current end: a window set longer before is shortened, and the label says so.
    assert [o["text"]["text"] for o in choice["options"]] == [
        "Watch for 30 days from now", "Watch for 60 days from now", "Watch for 90 days from now", "Stop monitoring"]

    def choose(word: str, user: str) -> str:
        option = next(o for o in choice["options"] if o["value"] == f"{postmortem_id}:{word}")
        answered = len(fake_slack.responses)
        slack.interaction({"type": "block_actions", "user": {"id": user}, "trigger_id": fake_slack.issue_trigger(),
                           "response_url": fake_slack.response_url(), "actions": [{
                               "type": "static_select", "action_id": choice["action_id"], "block_id": "b",
                               "selected_option": option, "action_ts": "1"}]})
        return eventually(lambda: len(fake_slack.responses) > answered and fake_slack.responses[-1]["text"],
                          what="the answer to the choice")

    assert choose("off", RESPONDER_BERLIN) == "Only the facilitator of this post-mortem can change its monitoring."
    assert choose("60d", LEAD).startswith("Alert channels are watched for this post-mortem's indicators until "
                                          f"<!date^{int((clock.now() + timedelta(days=60)).timestamp())}^")
    assert choose("off", LEAD).startswith(f"Monitoring was stopped by <@{LEAD}>")
    with in_transaction() as session:
        assert monitoring.window(session, postmortem_id=postmortem_id, period=timedelta(days=30)).ends_at == clock.now()


def test_a_reopen_whose_unarchive_failed_unarchives_on_the_next_click(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str, escalation_channel: str,
    in_transaction: Any,
) -> None:
    postmortem_id, review_channel = watched
    posted = closed_and_seen_again(slack, fake_slack, review_channel=review_channel, alert_channel=alert_channel,
                                   escalation_channel=escalation_channel)
    reopen = posted["blocks"][-1]["elements"][0]

    fake_slack.inject("conversations.unarchive", error="internal_error")
    slack.press(reopen["action_id"], reopen["value"], user=LEAD)
    first = eventually(lambda: [r["text"] for r in fake_slack.responses if "unarchive" in r["text"]
                                or "try again" in r["text"]], what="the first answer")
    assert fake_slack.channels[review_channel].is_archived
    # The answer says what was saved and what was not, and the next click finishes the job.
    assert "reopened" in first[-1] and "unarchive" in first[-1]
    answered = len(fake_slack.responses)
    slack.press(reopen["action_id"], reopen["value"], user=RESPONDER_BERLIN)
    eventually(lambda: len(fake_slack.responses) > answered, what="the second answer")
    assert not fake_slack.channels[review_channel].is_archived
    [heads_up] = [m["text"] for m in fake_slack.messages[review_channel] if "reopened" in m["text"]]
    assert heads_up.startswith(f":rotating_light: <@{LEAD}> reopened")  # who reopened it, not who retried
    with in_transaction() as session:
        assert session.get_one(Postmortem, postmortem_id).status is PostmortemStatus.OPEN


@pytest.mark.parametrize("garbage", ["99999999d", "999999999999999999999d", "0d", "-1d", "30 d", "off please"])
def test_monitor_with_a_length_out_of_range_or_garbage_explains_itself_and_changes_nothing(
    garbage: str, slack: SlackSim, watched: tuple[int, str], in_transaction: Any,
) -> None:
    postmortem_id, review_channel = watched
    reply = slack.ask(f"monitor {garbage}", user=LEAD, channel=review_channel).text
    assert reply.startswith("Use `/postmortem monitor 30d`"), reply
    with in_transaction() as session:
        window = monitoring.window(session, postmortem_id=postmortem_id, period=timedelta(days=30))
    assert window.ends_at == utc(2026, 12, 18, 9) and window.stopped_by is None


def test_an_indicator_replacing_a_deleted_one_is_watched_and_the_deleted_one_no_more(
    slack: SlackSim, deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any, clock: FrozenClock,
) -> None:
    # SQLite gives a new row the id of the newest row deleted: the watchlist's version must still change.
    postmortem_id, review_channel = watched
    assert slack.ask("note Second stage pulled from second-stage.net", user=LEAD,
                     channel=review_channel).text.startswith(":memo: Added")
    deliver(bot_alert(fake_slack, alert_channel, field_value="nothing to see"), event_id="Ev1")  # built with it
    clock.advance(timedelta(minutes=5))
    with in_transaction() as session:
        note = session.scalars(select(Note).where(Note.text.contains("second-stage"))).one()
        notes_service.delete(session, note=note, postmortem=session.get_one(Postmortem, postmortem_id), user_id=LEAD,
                             now=clock.now())
    clock.advance(timedelta(minutes=5))
    assert slack.ask("note Third stage pulled from third-stage.org", user=LEAD,
                     channel=review_channel).text.startswith(":memo: Added")
    deliver(bot_alert(fake_slack, alert_channel, field_value="second-stage[.]net"), event_id="Ev2")
    deliver(bot_alert(fake_slack, alert_channel, field_value="third-stage[.]org"), event_id="Ev3")
    assert [(s.kind, s.value) for s in sightings(in_transaction)] == [("domain", "third-stage.org")]


def test_a_notice_for_a_review_channel_archived_before_it_went_out_goes_to_the_escalation_channel(
    slack: SlackSim, deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    escalation_channel: str, runtime: Runtime, clock: FrozenClock,
) -> None:
    _, review_channel = watched
    fake_slack.inject("chat.postMessage", error="internal_error", channel=review_channel)
    deliver(bot_alert(fake_slack, alert_channel, field_value="evil-login.com"))
    wait_for_dm(fake_slack, LEAD, "showed up again")
    assert notices(fake_slack, review_channel) == []
    close(slack, fake_slack, review_channel)  # the notice is still to be sent, and its channel is archived now
    clock.advance(timedelta(hours=1))
    dispatch_due(runtime, worker_id="w")
    assert len(notices(fake_slack, escalation_channel)) == 1


def test_a_verdict_slack_kept_from_being_checked_is_not_called_saved(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str, runtime: Runtime,
    in_transaction: Any,
) -> None:
    _, review_channel = watched
    slack.event(bot_alert(fake_slack, alert_channel, field_value="evil-login.com"))
    not_related = wait_for_dm(fake_slack, LEAD, "showed up again")["blocks"][-1]["elements"][1]
    runtime.slack.forget_members(channel=review_channel)
    fake_slack.inject("conversations.members", error="internal_error")
    slack.press(not_related["action_id"], not_related["value"], user=RESPONDER_BERLIN)
    answer = eventually(lambda: [r["text"] for r in fake_slack.responses if "internal_error" in r["text"]],
                        what="the answer")[-1]
    with in_transaction() as session:
        assert session.get_one(Sighting, int(not_related["value"])).verdict is Verdict.PENDING
    assert "lost" not in answer and "didn't go through" in answer


def test_an_outsiders_click_on_a_channel_notice_is_answered_to_them_alone_and_leaves_the_notice(
    slack: SlackSim, fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str, escalation_channel: str,
) -> None:
    # replace_original on a channel message replaces it for everyone: only a stored verdict may do that.
    _, review_channel = watched
    posted = closed_and_seen_again(slack, fake_slack, review_channel=review_channel, alert_channel=alert_channel,
                                   escalation_channel=escalation_channel)
    reopen, not_related = posted["blocks"][-1]["elements"]
    for button in (reopen, not_related, {**reopen, "value": "999999"}):
        answered = len(fake_slack.responses)
        slack.press(button["action_id"], button["value"], user=OUTSIDER)
        [refusal] = eventually(lambda: fake_slack.responses[answered:], what="the refusal")
        assert refusal["replace_original"] is False, refusal

    fake_slack.inject("conversations.unarchive", error="internal_error")
    slack.press(reopen["action_id"], reopen["value"], user=LEAD)
    [failed] = eventually(lambda: fake_slack.responses[answered + 1:], what="the unarchive failure")
    assert "press *Recurrence: reopen* again" in failed["text"] and failed["replace_original"] is False
    slack.press(not_related["action_id"], not_related["value"], user=LEAD)
    [settled] = eventually(lambda: fake_slack.responses[answered + 2:], what="the answer")
    assert "already marked" in settled["text"] and settled["replace_original"] is True


def test_an_edit_of_an_alert_posted_before_the_incident_was_resolved_is_no_sighting(
    deliver: Callable[..., None], fake_slack: FakeSlack, watched: tuple[int, str], alert_channel: str,
    in_transaction: Any,
) -> None:
    # SIEM bots edit their alerts (acknowledged, closed...): the alert that started the incident is not it coming back.
    original = bot_alert(fake_slack, alert_channel, field_value="evil-login[.]com")
    original["ts"] = f"{utc(2026, 11, 17, 22).timestamp():.6f}"  # before the resolution (2026-11-18 09:00)
    acknowledged = {**original, "attachments": [*original["attachments"], {"text": "Acknowledged by the SOC"}]}
    deliver({"type": "message", "subtype": "message_changed", "channel": alert_channel, "hidden": True,
             "ts": f"{utc(2026, 11, 20, 8).timestamp():.6f}", "message": acknowledged, "previous_message": original},
            event_id="Ev1")
    assert sightings(in_transaction) == []
    recent = {**acknowledged, "ts": f"{utc(2026, 11, 19, 8).timestamp():.6f}"}
    deliver({"type": "message", "subtype": "message_changed", "channel": alert_channel, "hidden": True,
             "ts": f"{utc(2026, 11, 20, 9).timestamp():.6f}", "message": recent, "previous_message": recent},
            event_id="Ev2")
    assert [s.value for s in sightings(in_transaction)] == ["evil-login.com"]
