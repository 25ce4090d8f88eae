"""Scheduling the review meeting end to end: the form, saving, announcing, invites, reminders."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.meetings import blocks as meeting_blocks
from bot.meetings import service as meetings
from bot.meetings.calendar_invite import build_invite
from bot.meetings.service import MeetingRequest
from bot.notes import questionnaire
from bot.postmortems import access
from bot.postmortems import service as postmortems
from bot.reminders import senders
from bot.runtime import Runtime
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed
from bot.working_time import WorkingTime, suggest_slot
from models import Meeting, MeetingStatus, Postmortem, PostmortemStatus, Reminder, ReminderStatus
from models.db import transaction

log = logging.getLogger(__name__)

NO_MEETING = "There is no meeting to change yet. Schedule one with `/postmortem schedule`."
OUTSIDE_EVERYONE = " Heads-up: this time is outside working hours for everyone invited."


@dataclass(frozen=True)
class Saved:
    meeting_id: int
    rescheduled: bool
    confirmation: str
    announce: bool = True  # False for a submission delivered twice: the first delivery announces


def _humans(runtime: Runtime, postmortem: Postmortem) -> list[str]:
    """The people who take part (see bot.postmortems.access), bots left out: once the review channel exists, its
    members, so someone removed from it gets no invite, no .ics and no reminder, and someone added does."""
    people = postmortem.member_ids
    if postmortem.channel_id is not None:
        members = runtime.slack.channel_members(channel=postmortem.channel_id)
        people = [user for user in people if user in members] + sorted(members - set(people))
    return [user for user in people if not runtime.slack.user(user).is_bot]


def form(runtime: Runtime, *, user_id: str, channel_id: str = "", postmortem_id: int | None = None) -> dict[str, Any] | Message:
    """The meeting modal with a suggested start that suits the most participants' working hours."""
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id, people=True)
    with transaction(runtime.sessions) as session:
        postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
        if postmortem is None:
            return Message(text=access.NOT_FOUND)
        if postmortem.status is PostmortemStatus.CLOSED:
            return Message(text=access.CLOSED)
        meeting = meetings.current(session, postmortem_id=postmortem.id)
        humans = _humans(runtime, postmortem)
    now = runtime.clock.now()
    settings = runtime.settings
    zones = {user: runtime.slack.user(user).tz for user in humans}
    duration = meeting.duration_minutes if meeting else meetings.DEFAULT_DURATION_MINUTES
    earliest = meetings.earliest_start(postmortem, now=now, recovery_gap=timedelta(hours=settings.recovery_gap_hours))
    suggestion = suggest_slot(earliest=earliest, duration=timedelta(minutes=duration), zones=zones,
                              working=WorkingTime.from_settings(settings))
    keep_current = meeting is not None and meeting.status is MeetingStatus.SCHEDULED and meeting.starts_at > now
    return meeting_blocks.form(
        postmortem=postmortem,
        suggestion=suggestion,
        starts_at=meeting.starts_at if keep_current and meeting else suggestion.starts_at,
        duration_minutes=duration,
        location=meeting.location if meeting else "",
        agenda=meeting.agenda if meeting else meetings.DEFAULT_AGENDA,
        rescheduling=keep_current,
    )


def check(runtime: Runtime, *, request: MeetingRequest) -> dict[str, str]:
    """What to fix in the form (block id -> text), before anything is saved or asked of Slack."""
    return meetings.validate(request, now=runtime.clock.now())


def submit(runtime: Runtime, *, user_id: str, postmortem_id: int, view_id: str,
           request: MeetingRequest) -> dict[str, str] | Saved:
    now = runtime.clock.now()
    errors = meetings.validate(request, now=now)
    if errors:
        return errors
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=postmortem_id, people=True)
    with transaction(runtime.sessions) as session:
        postmortem = access.by_id(session, runtime, postmortem_id=postmortem_id, user_id=user_id)
        if postmortem is None:
            return {"starts_at": access.NOT_FOUND}
        humans = _humans(runtime, postmortem)
        try:
            meeting, outcome = meetings.save(
                session, postmortem=postmortem, request=request, user_id=user_id, view_id=view_id,
                participant_ids=humans, reminder_offsets=runtime.settings.meeting_reminder_offsets, now=now,
            )
        except meetings.MeetingRefused as refusal:
            return {"starts_at": str(refusal)}
        meeting_id = meeting.id
        # A repeated delivery answers as the first one did.
        rescheduled = outcome is meetings.Outcome.RESCHEDULED or (outcome is meetings.Outcome.REPEATED and meeting.sequence > 0)
    working = WorkingTime.from_settings(runtime.settings)
    duration = timedelta(minutes=request.duration_minutes)
    assert request.starts_at is not None
    fits = [u for u in humans if working.contains(request.starts_at, duration, runtime.slack.user(u).tz)]
    confirmation = ":white_check_mark: " + ("Rescheduled." if rescheduled else "Scheduled.") + \
        " I'm posting the announcement and the calendar invite in the review channel and telling everyone."
    if humans and not fits:
        confirmation += OUTSIDE_EVERYONE
    return Saved(meeting_id=meeting_id, rescheduled=rescheduled, confirmation=confirmation,
                 announce=outcome is not meetings.Outcome.REPEATED)


def cancel(runtime: Runtime, *, user_id: str, channel_id: str = "", postmortem_id: int | None = None) -> tuple[Message, int | None]:
    """Cancel the meeting; returns the answer and the meeting to publish the cancellation for."""
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
        if postmortem is None:
            return Message(text=access.NOT_FOUND), None
        meeting = meetings.current(session, postmortem_id=postmortem.id)
        if meeting is None or meeting.status is MeetingStatus.CANCELLED:
            return Message(text=NO_MEETING), None
        try:
            if not meetings.cancel(session, postmortem=postmortem, meeting=meeting, now=runtime.clock.now()):
                return Message(text=NO_MEETING), None
        except meetings.MeetingRefused as refusal:
            return Message(text=str(refusal)), None
        return Message(text="Cancelled. I'm telling everyone and posting the calendar cancellation."), meeting.id


def publish(runtime: Runtime, *, meeting_id: int, rescheduled: bool = False) -> None:
    """Announce (or update the announcement), upload the .ics, DM every participant."""
    with transaction(runtime.sessions) as session:
        meeting = session.get(Meeting, meeting_id)
        assert meeting is not None
        postmortem = postmortems.get(session, postmortem_id=meeting.postmortem_id)
        assert postmortem is not None and postmortem.channel_id is not None
    humans = _humans(runtime, postmortem)
    message = meeting_blocks.announcement(meeting, postmortem)
    if meeting.announcement_ts is None:
        ts = runtime.slack.post_message(channel=postmortem.channel_id, text=message.text, blocks=message.blocks)
        with transaction(runtime.sessions) as session:
            stored = session.get(Meeting, meeting_id)
            assert stored is not None
            stored.announcement_ts = ts
    else:
        runtime.slack.update_message(channel=postmortem.channel_id, ts=meeting.announcement_ts, text=message.text,
                                     blocks=message.blocks)
    notice = meeting_blocks.change_notice(meeting, postmortem, rescheduled=rescheduled)
    if meeting.announcement_ts is not None:  # an update: say it in the channel too, not only in place
        runtime.slack.post_message(channel=postmortem.channel_id, text=notice.text, blocks=notice.blocks)
    runtime.slack.upload_file(
        channel=postmortem.channel_id,
        filename="postmortem-review.ics",
        content=_invite(runtime, meeting, postmortem, humans),
        title="Cancellation: post-mortem review" if meeting.status is MeetingStatus.CANCELLED else "Post-mortem review invite",
    )
    for user in humans:
        try:
            runtime.slack.post_message(channel=user, text=notice.text, blocks=notice.blocks)
        except SlackCallFailed as failure:
            log.warning("meeting DM to %s failed: %s", user, failure)


def _invite(runtime: Runtime, meeting: Meeting, postmortem: Postmortem, humans: list[str]) -> bytes:
    emails = [email for email in (runtime.slack.user(u).email for u in humans) if email]
    return build_invite(
        meeting_id=meeting.id,
        sequence=meeting.sequence,
        cancelled=meeting.status is MeetingStatus.CANCELLED,
        title=postmortem.title,
        starts_at=meeting.starts_at,
        duration=timedelta(minutes=meeting.duration_minutes),
        location=meeting.location,
        description=f"{meeting.agenda}\n\nBring your notes and timelines. CONFIDENTIAL: do not forward.",
        organizer_email=runtime.slack.user(postmortem.facilitator_id).email,
        attendee_emails=emails,
        stamp=runtime.clock.now(),
    )


def _load_for_reminder(runtime: Runtime, reminder: Reminder) -> tuple[Meeting, Postmortem] | None:
    with transaction(runtime.sessions) as session:
        meeting = session.get(Meeting, reminder.subject_id)
        if not meetings.is_current(meeting, version=reminder.subject_version, now=runtime.clock.now()):
            return None
        assert meeting is not None
        postmortem = postmortems.get(session, postmortem_id=meeting.postmortem_id)
        assert postmortem is not None
        return meeting, postmortem


@senders.sends(meetings.CHANNEL_REMINDER)
def send_channel_reminder(runtime: Runtime, reminder: Reminder) -> ReminderStatus:
    loaded = _load_for_reminder(runtime, reminder)
    if loaded is None:
        return ReminderStatus.SKIPPED
    message = meeting_blocks.channel_reminder(loaded[0])
    senders.post_once(runtime, reminder, message)
    return ReminderStatus.SENT


@senders.sends(meetings.DM_REMINDER)
def send_dm_reminder(runtime: Runtime, reminder: Reminder) -> ReminderStatus:
    """Only participants who have not answered the review questions get a DM."""
    loaded = _load_for_reminder(runtime, reminder)
    if loaded is None:
        return ReminderStatus.SKIPPED
    meeting, postmortem = loaded
    with transaction(runtime.sessions) as session:
        if reminder.recipient_id in questionnaire.respondents(session, postmortem_id=postmortem.id):
            return ReminderStatus.SKIPPED
    message = meeting_blocks.questionnaire_nudge(meeting, postmortem)
    senders.post_once(runtime, reminder, message)
    return ReminderStatus.SENT
