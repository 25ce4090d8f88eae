"""Scheduling the review meeting through signed requests, with the clock under the test's control."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from icalendar import Calendar
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.signed_requests import SlackSim, eventually, settled_view, wait_for_dm
from bot.meetings.service import DEFAULT_AGENDA
from bot.reminders.dispatcher import dispatch_due
from bot.runtime import Runtime
from bot.slack.double import FakeSlack
from models import Reminder
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.support import utc

MONDAY_1500 = utc(2026, 11, 23, 15, 0)
TUESDAY_1600 = utc(2026, 11, 24, 16, 0)


def open_meeting_form(slack: SlackSim, fake: FakeSlack, *, user: str, channel: str) -> dict[str, Any]:
    opened = len(fake.views)
    assert slack.command("schedule", user=user, channel=channel).status == 200
    # A new modal, filled in: an earlier submission's modal may be updated meanwhile too.
    return eventually(lambda: len(fake.views) > opened and "Finding a time" not in str(fake.latest_view())
                      and fake.latest_view(), what="the filled-in meeting form (or why not)")


def schedule(slack: SlackSim, fake: FakeSlack, channel: str, starts_at: Any, **changes: Any) -> dict[str, Any]:
    view = open_meeting_form(slack, fake, user=LEAD, channel=channel)
    values = {"starts_at": starts_at, "duration": "60", "location": "Zoom https://zoom.example/j/42", "agenda": DEFAULT_AGENDA,
              **changes}
    reply = slack.submit_view(view, user=LEAD, values=values).json()
    if reply.get("response_action") == "update":  # acked with "Saving…": what the modal then says
        return {**reply, "view": settled_view(fake, view["id"])}
    return reply


def invites(fake: FakeSlack) -> list[Calendar]:
    """The invites shared so far (an upload counts once it is completed into a channel)."""
    shared = [f for f in fake.files.values() if f["filename"] == "postmortem-review.ics" and f["channels"]]
    return [Calendar.from_ical(f["content"]) for f in shared]


def reminders_by_status(runtime: Runtime) -> dict[str, int]:
    with runtime.sessions() as session:
        counts: dict[str, int] = {}
        for reminder in session.scalars(select(Reminder)):
            counts[reminder.status.value] = counts.get(reminder.status.value, 0) + 1
        return counts


def test_form_suggests_the_slot_that_suits_most_time_zones(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    view = open_meeting_form(slack, fake_slack, user=LEAD, channel=started[1])
    assert fake_slack.calls_to("views.open")[-1]["view"]  # opened at once with a loading view, then filled in
    start = next(b for b in view["blocks"] if b.get("block_id") == "starts_at")
    # Now is Fri 20 Nov 15:00 UTC, a day and more after resolution: New York (10:00) and Berlin (16:00) fit, Tokyo sleeps.
    assert start["element"]["initial_date_time"] == int(utc(2026, 11, 20, 15, 0).timestamp())
    advice = view["blocks"][0]["elements"][0]["text"]
    assert "inside working hours for 2 of 3 participants" in advice and f"<@{RESPONDER_TOKYO}>" in advice
    agenda = next(b for b in view["blocks"] if b.get("block_id") == "agenda")
    assert agenda["element"]["initial_value"] == DEFAULT_AGENDA


def test_recovery_gap_pushes_the_suggestion(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], clock: FrozenClock
) -> None:
    clock.current = utc(2026, 11, 18, 10, 0)  # an hour after resolution
    view = open_meeting_form(slack, fake_slack, user=LEAD, channel=started[1])
    start = next(b for b in view["blocks"] if b.get("block_id") == "starts_at")
    assert start["element"]["initial_date_time"] == int(utc(2026, 11, 19, 14, 0).timestamp())  # >= resolved + 24 h


def test_scheduling_announces_uploads_invite_and_dms_everyone(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    _, channel = started
    reply = schedule(slack, fake_slack, channel, MONDAY_1500)
    assert reply["response_action"] == "update"
    assert reply["view"]["blocks"][0]["text"]["text"].startswith(":white_check_mark: Scheduled.")
    eventually(lambda: invites(fake_slack), what="the .ics upload")

    announcement = next(m for m in fake_slack.messages[channel] if m["text"].startswith("Post-mortem review meeting"))
    assert f"<!date^{int(MONDAY_1500.timestamp())}^" in str(announcement["blocks"])
    assert "*Where:* Zoom hxxps://zoom[.]example/j/42" in str(announcement["blocks"])  # nothing the bot shows is a link
    [invite] = invites(fake_slack)
    event = invite.walk("VEVENT")[0]
    assert invite["METHOD"] == "REQUEST" and event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == MONDAY_1500 and event["DTSTART"].to_ical() == b"20261123T150000Z"
    assert sorted(str(a) for a in event.get("ATTENDEE")) == ["mailto:ben@example.com", "mailto:lea@example.com"]
    assert [f["channels"] for f in fake_slack.files.values()] == [[channel]]
    for user in (LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO):
        dm = wait_for_dm(fake_slack, user, "You're invited to the post-mortem review")
        assert "bring your notes and timelines" in dm["text"] and "confidential" in dm["text"]
    # 24 h and 15 min before: one channel post and one DM per participant each.
    assert reminders_by_status(runtime) == {"pending": 8}


def test_bad_meeting_input_is_refused_inline(slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str],
                                            runtime: Runtime) -> None:
    _, channel = started
    past = schedule(slack, fake_slack, channel, utc(2026, 11, 20, 14, 0))
    assert past == {"response_action": "errors", "errors": {"starts_at": "This time has already passed. Pick a time in the future."}}
    last_day = schedule(slack, fake_slack, channel, utc(9999, 12, 31, 23, 0), duration="480")
    assert last_day == {"response_action": "errors", "errors": {"starts_at": "Pick a time within the next year."}}
    zero = schedule(slack, fake_slack, channel, MONDAY_1500, duration="0")
    assert zero["errors"] == {"duration": "The meeting needs a length: enter minutes, e.g. 60."}
    words = schedule(slack, fake_slack, channel, MONDAY_1500, duration="an hour")
    assert words["errors"] == {"duration": "Enter the length in whole minutes, e.g. 60."}
    long = schedule(slack, fake_slack, channel, MONDAY_1500, duration="481")
    assert long["errors"] == {"duration": "Keep it to 8 hours (480 minutes) at most; split a longer review into two meetings."}
    assert reminders_by_status(runtime) == {} and invites(fake_slack) == []


def test_outside_everyones_hours_is_allowed_with_a_warning(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    reply = schedule(slack, fake_slack, started[1], utc(2026, 11, 23, 23, 0) + timedelta(days=5))  # Saturday night
    assert reply["view"]["blocks"][0]["text"]["text"].endswith("Heads-up: this time is outside working hours for everyone invited.")
    eventually(lambda: invites(fake_slack), what="invite")


def test_schedule_outside_a_review_channel_is_refused(slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]) -> None:
    view = open_meeting_form(slack, fake_slack, user=LEAD, channel="C0WARROOM")
    assert view["blocks"][0]["text"]["text"].startswith("I can't find a post-mortem you take part in here.")
    view = open_meeting_form(slack, fake_slack, user=OUTSIDER, channel=started[1])
    assert "VPN" not in str(view)


def test_reminders_fire_on_time_and_skip_people_who_answered(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock
) -> None:
    postmortem_id, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: invites(fake_slack), what="invite")
    with runtime.sessions.begin() as session:
        from bot.notes import questionnaire
        from models import Postmortem

        questionnaire.save(session, postmortem=session.get(Postmortem, postmortem_id), user_id=RESPONDER_BERLIN,
                           answers={"resources": "Enough"}, now=clock.now())

    clock.current = MONDAY_1500 - timedelta(hours=24, minutes=1)
    assert dispatch_due(runtime, worker_id="w1").counts == {}
    clock.current = MONDAY_1500 - timedelta(hours=24)
    report = dispatch_due(runtime, worker_id="w1")
    assert (report["sent"], report["skipped"]) == (3, 1)  # channel + Lead + Tokyo; Berlin answered
    reminder = fake_slack.messages[channel][-1]
    assert reminder["text"].startswith(":alarm_clock: Reminder: the post-mortem review meeting starts <!date^")
    assert "You haven't answered the review questions yet" in wait_for_dm(fake_slack, RESPONDER_TOKYO, "haven't answered")["text"]
    assert dispatch_due(runtime, worker_id="w1").counts == {}  # nothing twice
    clock.current = MONDAY_1500 - timedelta(minutes=15)
    assert dispatch_due(runtime, worker_id="w1")["sent"] == 3
    assert reminders_by_status(runtime) == {"sent": 6, "skipped": 2}


def test_reschedule_bumps_sequence_and_old_reminders_never_fire(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock
) -> None:
    _, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: len(invites(fake_slack)) == 1, what="first invite")
    reply = schedule(slack, fake_slack, channel, TUESDAY_1600)
    assert reply["view"]["blocks"][0]["text"]["text"].startswith(":white_check_mark: Rescheduled.")
    eventually(lambda: len(invites(fake_slack)) == 2, what="updated invite")
    first, second = (c.walk("VEVENT")[0] for c in invites(fake_slack))
    assert second["UID"] == first["UID"] and second["SEQUENCE"] == 1
    assert second.decoded("DTSTART") == TUESDAY_1600
    updated = fake_slack.calls_to("chat.update")[-1]
    assert f"<!date^{int(TUESDAY_1600.timestamp())}^" in str(updated["blocks"])
    for user in (LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO):  # the last messages of the reschedule
        wait_for_dm(fake_slack, user, "moved to")
    assert reminders_by_status(runtime) == {"cancelled": 8, "pending": 8}

    sent_before = len(fake_slack.calls_to("chat.postMessage"))
    for moment in (MONDAY_1500 - timedelta(hours=24), MONDAY_1500 - timedelta(minutes=15), MONDAY_1500):
        clock.current = moment
        assert dispatch_due(runtime, worker_id="w1").counts == {}
    assert len(fake_slack.calls_to("chat.postMessage")) == sent_before
    clock.current = TUESDAY_1600 - timedelta(hours=24)
    assert dispatch_due(runtime, worker_id="w1")["sent"] == 4


def test_cancel_sends_a_cancel_invite_and_stops_reminders(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock
) -> None:
    _, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: len(invites(fake_slack)) == 1, what="invite")
    reply = slack.ask("cancel-meeting", user=RESPONDER_BERLIN, channel=channel)
    assert reply.text == "Cancelled. I'm telling everyone and posting the calendar cancellation."
    eventually(lambda: len(invites(fake_slack)) == 2, what="cancellation")
    cancellation = invites(fake_slack)[1]
    assert cancellation["METHOD"] == "CANCEL" and cancellation.walk("VEVENT")[0]["STATUS"] == "CANCELLED"
    assert cancellation.walk("VEVENT")[0]["SEQUENCE"] == 1
    assert "is cancelled" in str(fake_slack.calls_to("chat.update")[-1]["blocks"])
    wait_for_dm(fake_slack, LEAD, "is cancelled")
    clock.current = MONDAY_1500 - timedelta(hours=24)
    assert dispatch_due(runtime, worker_id="w1").counts == {}
    assert slack.ask("cancel-meeting", user=LEAD, channel=channel).text == \
        "There is no meeting to change yet. Schedule one with `/postmortem schedule`."


def test_announcement_buttons_reschedule_and_cancel(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    _, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: invites(fake_slack), what="invite")
    announcement = next(m for m in fake_slack.messages[channel] if m["text"].startswith("Post-mortem review meeting"))
    reschedule_button, cancel_button = announcement["blocks"][-1]["elements"]

    updates = len(fake_slack.calls_to("views.update"))
    slack.press(reschedule_button["action_id"], reschedule_button["value"], user=RESPONDER_TOKYO)
    eventually(lambda: len(fake_slack.calls_to("views.update")) > updates, what="reschedule form")
    form = fake_slack.views[fake_slack.calls_to("views.update")[-1]["view_id"]]
    assert form["title"]["text"] == "Reschedule meeting"
    start = next(b for b in form["blocks"] if b.get("block_id") == "starts_at")
    assert start["element"]["initial_date_time"] == int(MONDAY_1500.timestamp())  # the current time, not a new suggestion

    slack.press(cancel_button["action_id"], cancel_button["value"], user=RESPONDER_TOKYO)
    eventually(lambda: len(invites(fake_slack)) == 2, what="cancellation")
    assert invites(fake_slack)[1]["METHOD"] == "CANCEL"
    assert reminders_by_status(runtime) == {"cancelled": 8}


def test_a_cancel_whose_answer_cannot_be_delivered_still_sends_the_cancellation(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    """The response_url refuses the answer once and the DM fallback fails too: the meeting is cancelled
    and stored by then, so its cancellation must still go out (and no one told it didn't go through)."""
    from bot.slack.double import RESPONSE_URL
    _, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: len(invites(fake_slack)) == 1, what="invite")
    fake_slack.inject(RESPONSE_URL, status=500)
    fake_slack.inject("chat.postMessage", error="channel_not_found", channel=RESPONDER_BERLIN)
    response_url = fake_slack.response_url()
    slack.command("cancel-meeting", user=RESPONDER_BERLIN, channel=channel, response_url=response_url)
    eventually(lambda: len(invites(fake_slack)) == 2, what="cancellation")
    told = [r["text"] for r in fake_slack.responses if r["response_url"] == response_url]
    assert not any("didn't go through" in t for t in told), told
