"""The durable reminder mechanism: downtime, expiry, retries, isolation of failures, several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.meetings import service as meetings
from bot.meetings.service import DM_REMINDER, MeetingRequest
from bot.reminders import service as reminders
from bot.reminders.dispatcher import dispatch_due
from bot.runtime import Runtime
from bot.slack.double import FakeSlack
from models import Participant, ParticipantRole, Postmortem, Reminder, ReminderStatus, Severity
from tests.conftest import LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.support import utc

MEETING = utc(2026, 11, 23, 15, 0)


def make_meeting(runtime: Runtime, *, starts_at: datetime = MEETING, participants: list[str] | None = None,
                 now: datetime | None = None) -> int:
    """A post-mortem with a scheduled meeting (reminders at 24 h and 15 min), made through the services."""
    participants = participants or [LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO]
    now = now or runtime.clock.now()
    with runtime.sessions.begin() as session:
        postmortem = Postmortem(team_id="T", title="Phish", severity=Severity.HIGH, detected_at=utc(2026, 11, 17, 10),
                                created_by=LEAD, facilitator_id=LEAD, source_view_id=f"V{now.timestamp()}",
                                created_at=now, channel_id="G0REVIEW01", kickoff_pinned=True)
        postmortem.participants = [Participant(user_id=u, role=ParticipantRole.RESPONDER) for u in participants]
        session.add(postmortem)
        session.flush()
        meeting, _ = meetings.save(
            session, postmortem=postmortem, user_id=LEAD, view_id=f"V{now.timestamp()}", participant_ids=participants, now=now,
            request=MeetingRequest(starts_at=starts_at, duration_text="60", location="Room 1", agenda="Review"),
            reminder_offsets=runtime.settings.meeting_reminder_offsets,
        )
        return meeting.id


def statuses(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.sessions() as session:
        return [(r.kind, r.recipient_id, r.status.value) for r in session.scalars(select(Reminder).order_by(Reminder.id))]


@pytest.fixture
def review_channel(fake_slack: FakeSlack) -> str:
    fake_slack.channels.pop("G0REVIEW01", None)
    from bot.slack.double import BOT_USER_ID, Channel

    fake_slack.channels["G0REVIEW01"] = Channel("G0REVIEW01", "pm-review", True, BOT_USER_ID, {BOT_USER_ID, LEAD})
    fake_slack.messages["G0REVIEW01"] = []
    return "G0REVIEW01"


def test_reminder_due_during_downtime_is_sent_once_after_restart(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    make_meeting(runtime)
    clock.current = MEETING - timedelta(hours=3)  # the bot was down when the 24 h reminders fell due
    assert dispatch_due(runtime, worker_id="w1")["sent"] == 4
    assert dispatch_due(runtime, worker_id="w2").counts == {}
    assert len(fake_slack.messages[review_channel]) == 1


def test_reminder_that_no_longer_makes_sense_is_skipped(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    make_meeting(runtime)
    clock.current = MEETING + timedelta(minutes=5)  # down through the meeting itself
    report = dispatch_due(runtime, worker_id="w1")
    assert report.counts == {"skipped": 8}
    assert fake_slack.messages[review_channel] == []


def test_past_offsets_are_not_planned(runtime: Runtime, clock: FrozenClock) -> None:
    make_meeting(runtime, starts_at=clock.now() + timedelta(hours=2))  # the 24 h reminder would be in the past
    assert {status for _, _, status in statuses(runtime)} == {"pending"}
    assert len(statuses(runtime)) == 4  # the 15 min ones only


def test_failed_send_is_retried_with_backoff_then_failed_and_others_still_go_out(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    make_meeting(runtime)
    fake_slack.add_user(RESPONDER_TOKYO, name="Toko", tz="Asia/Tokyo", deleted=True)  # deactivated since
    clock.current = MEETING - timedelta(hours=24)
    first = dispatch_due(runtime, worker_id="w1")
    assert (first["pending"], first["sent"]) == (1, 3)  # Tokyo's DM failed; the other three went out
    for delay in reminders.RETRY_DELAYS:
        clock.advance(delay)
        assert dispatch_due(runtime, worker_id="w1")["pending" if delay != reminders.RETRY_DELAYS[-1] else "failed"] == 1
    with runtime.sessions() as session:
        failed = session.scalars(select(Reminder).where(Reminder.status == ReminderStatus.FAILED)).one()
    assert (failed.recipient_id, failed.attempts, failed.last_error) == (RESPONDER_TOKYO, reminders.MAX_ATTEMPTS, "is_archived")


@pytest.mark.parametrize("took_effect", [True, False], ids=["posted-then-lost", "never-posted"])
def test_a_reminder_whose_answer_was_lost_reaches_each_recipient_once(
    took_effect: bool, runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    make_meeting(runtime, participants=[LEAD])
    clock.current = MEETING - timedelta(hours=24)
    for recipient in (LEAD, review_channel):  # a DM and a channel post: each loses its answer
        fake_slack.inject("chat.postMessage", reset=True, effect_first=took_effect, channel=recipient)
    assert dispatch_due(runtime, worker_id="w1")["pending"] == 2
    assert len(fake_slack.dm_messages(LEAD)) == len(fake_slack.messages[review_channel]) == int(took_effect)
    clock.advance(reminders.RETRY_DELAYS[0])
    assert dispatch_due(runtime, worker_id="w1")["sent"] == 2
    assert len(fake_slack.dm_messages(LEAD)) == len(fake_slack.messages[review_channel]) == 1
    assert {status for *_, status in statuses(runtime) if status != "pending"} == {"sent"}


def test_without_the_history_scope_a_retried_reminder_still_goes_out(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    # An install whose token predates the im:history scope: the reminder is not held back by the lookup.
    make_meeting(runtime, participants=[LEAD])
    clock.current = MEETING - timedelta(hours=24)
    fake_slack.inject("chat.postMessage", reset=True, channel=LEAD)
    fake_slack.inject("conversations.history", error="missing_scope")
    assert dispatch_due(runtime, worker_id="w1")["pending"] == 1
    clock.advance(reminders.RETRY_DELAYS[0])
    assert dispatch_due(runtime, worker_id="w1")["sent"] == 1
    assert len(fake_slack.dm_messages(LEAD)) == 1


def test_a_claim_left_by_a_dead_process_is_failed_not_resent(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    make_meeting(runtime)
    clock.current = MEETING - timedelta(hours=24)
    with runtime.sessions.begin() as session:
        [first_id] = reminders.due_ids(session, now=clock.now(), limit=1)
        assert reminders.claim(session, reminder_id=first_id, worker_id="dead", now=clock.now())
    clock.advance(reminders.CLAIM_TIMEOUT + timedelta(seconds=1))
    report = dispatch_due(runtime, worker_id="w1")
    assert (report["abandoned"], report["sent"]) == (1, 3)


def test_two_processes_send_each_reminder_exactly_once(
    runtime: Runtime, fake_slack: FakeSlack, review_channel: str, database_url: str
) -> None:
    now = datetime.now(timezone.utc)
    users = [f"U0LOAD{n:04d}" for n in range(60)]
    for user in users:
        fake_slack.add_user(user, tz="Europe/Paris")
    meeting_id = make_meeting(runtime, starts_at=now + timedelta(hours=23, minutes=59), participants=users,
                              now=now - timedelta(minutes=5))  # the 24 h reminders are due now
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_API_URL": fake_slack.api_url,
           "PYTHONPATH": str(Path.cwd())}
    workers = [subprocess.Popen([sys.executable, "-m", "tests.dispatch_worker", name], env=env, stdout=subprocess.PIPE,
                                text=True) for name in ("a", "b")]
    reports = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    assert all(w.returncode == 0 for w in workers)

    dm_counts = {user: len(fake_slack.dm_messages(user)) for user in users}
    assert set(dm_counts.values()) == {1}, {u: c for u, c in dm_counts.items() if c != 1}
    assert len(fake_slack.messages[review_channel]) == 1
    assert sum(r.get("sent", 0) for r in reports) == 61
    with runtime.sessions() as session:
        rows = session.scalars(select(Reminder).where(Reminder.subject_id == meeting_id, Reminder.kind == DM_REMINDER,
                                                      Reminder.status == ReminderStatus.SENT)).all()
    assert len(rows) == 60 and {r.attempts for r in rows} == {1}


def test_the_scheduler_wakes_the_dispatcher(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    from bot.demo.signed_requests import eventually
    from bot.reminders.dispatcher import start_scheduler

    make_meeting(runtime)
    clock.current = MEETING - timedelta(hours=24)
    scheduler = start_scheduler(runtime)
    try:
        eventually(lambda: len(fake_slack.messages[review_channel]) == 1, what="a reminder sent by the scheduler")
        eventually(lambda: [status for _, _, status in statuses(runtime)].count("sent") == 4, what="the DMs too")
    finally:
        assert scheduler.stop()


def test_three_processes_and_owners_marking_done_meanwhile_send_each_reminder_at_most_once(
    runtime: Runtime, fake_slack: FakeSlack, review_channel: str, database_url: str
) -> None:
    from datetime import date

    from bot.actions import service as actions
    from models import Action, ActionCategory, ActionPriority

    now = datetime.now(timezone.utc)
    owners = [f"U0OWN{n:05d}" for n in range(45)]
    for owner in owners:
        fake_slack.add_user(owner, tz="UTC")
    with runtime.sessions.begin() as session:
        postmortem = Postmortem(team_id="T", title="Load", severity=Severity.LOW, detected_at=now - timedelta(days=9),
                                created_by=LEAD, facilitator_id=LEAD, source_view_id="Vload", created_at=now,
                                channel_id="G0REVIEW01")
        session.add(postmortem)
        session.flush()
        action_ids = []
        for owner in owners:
            action, _ = actions.create(session, postmortem=postmortem, created_by=LEAD, dedupe_key=f"load-{owner}", now=now,
                                       draft=actions.ActionDraft(title=f"Task of {owner}", owner_id=owner, due_on=date(2027, 1, 4),
                                                                 priority=ActionPriority.LOW, category=ActionCategory.OTHER))
            reminders.plan(session, postmortem_id=postmortem.id, subject_id=action.id, subject_version=0, now=now - timedelta(hours=1),
                           reminders=[reminders.Planned(actions.AT_DUE, owner, now - timedelta(minutes=1), None)])
            action_ids.append(action.id)
    env = {**os.environ, "DATABASE_URL": database_url, "SLACK_API_URL": fake_slack.api_url, "PYTHONPATH": str(Path.cwd())}
    workers = [subprocess.Popen([sys.executable, "-m", "tests.dispatch_worker", name], env=env, stdout=subprocess.PIPE, text=True)
               for name in ("a", "b", "c")]
    marked_done = set()
    for action_id in action_ids[::3]:  # owners closing their items while the workers run
        with runtime.sessions.begin() as session:
            action = session.get(Action, action_id)
            actions.mark_done(session, action=action, postmortem=session.get(Postmortem, action.postmortem_id),
                              user_id=action.owner_id, now=datetime.now(timezone.utc))
            marked_done.add(action.owner_id)
    for worker in workers:
        worker.communicate(timeout=120)
        assert worker.returncode == 0

    received = {owner: len(fake_slack.dm_messages(owner)) for owner in owners}
    assert max(received.values()) == 1
    assert all(received[owner] == 1 for owner in owners if owner not in marked_done)
    with runtime.sessions() as session:
        statuses_by_owner = {r.recipient_id: r.status for r in session.scalars(select(Reminder).where(Reminder.kind == actions.AT_DUE))}
    assert all((statuses_by_owner[o] is ReminderStatus.SENT) == (received[o] == 1) for o in owners)


def test_meeting_across_the_new_york_dst_change(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    """Planned on Fri 30 Oct (New York on EDT) for Mon 2 Nov 14:00 UTC (New York on EST since Sunday)."""
    from bot.working_time import WorkingTime

    monday = utc(2026, 11, 2, 14, 0)
    clock.current = utc(2026, 10, 30, 13, 0)
    make_meeting(runtime, starts_at=monday, participants=[LEAD, RESPONDER_BERLIN])
    working = WorkingTime.from_settings(runtime.settings)
    assert working.contains(monday, timedelta(hours=1), "America/New_York")  # 09:00 EST
    assert working.contains(monday, timedelta(hours=1), "Europe/Berlin")  # 15:00 CET
    clock.current = utc(2026, 11, 1, 13, 59)  # 24 h before is measured in UTC, not in anyone's wall clock
    assert dispatch_due(runtime, worker_id="w").counts == {}
    clock.current = utc(2026, 11, 1, 14, 0)
    assert dispatch_due(runtime, worker_id="w")["sent"] == 3
    assert f"<!date^{int(monday.timestamp())}^" in fake_slack.messages[review_channel][-1]["text"]


def test_stopping_puts_claimed_but_unsent_reminders_back_and_lets_the_one_being_sent_finish(
    runtime: Runtime, clock: FrozenClock, fake_slack: FakeSlack, review_channel: str
) -> None:
    from bot.demo.signed_requests import eventually
    from bot.reminders.dispatcher import RunningDispatcher

    make_meeting(runtime)
    clock.current = MEETING + timedelta(minutes=-10)  # all eight reminders (24 h and 15 min) due, none expired
    fake_slack.slow("chat.postMessage", seconds=0.5)
    dispatcher = RunningDispatcher(runtime, worker_id="stopping").start()
    eventually(lambda: fake_slack.calls_to("chat.postMessage"), what="the first reminder being sent")
    assert dispatcher.stop(timeout=5)  # the one in flight finished within the bound

    rows = statuses(runtime)
    sent = [row for row in rows if row[2] == "sent"]
    assert len(sent) == len(fake_slack.calls_to("chat.postMessage")) >= 1
    assert {status for *_, status in rows} == {"sent", "pending"} and len(rows) == 8
    with runtime.sessions() as session:
        put_back = session.scalars(select(Reminder).where(Reminder.status == ReminderStatus.PENDING)).all()
        assert all(r.claimed_by is None and r.claimed_at is None and r.attempts == 0 for r in put_back)
    assert dispatch_due(runtime, worker_id="next")["sent"] == len(put_back)  # nothing lost
