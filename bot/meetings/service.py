"""The review meeting's rules: validation, the earliest sensible start, saving, rescheduling, cancelling."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.indicators import extraction as indicators
from bot.postmortems import access
from bot.reminders import service as reminders
from models import Meeting, MeetingStatus, Postmortem
from models.db import insert_ignoring_conflicts

DEFAULT_DURATION_MINUTES = 60
MAX_DURATION_MINUTES = 8 * 60
LOCATION_MAX_CHARS = 500
AGENDA_MAX_CHARS = 2500
# A review meets within weeks; a time near the calendar's end (9999-12-31) has no room for its end time.
SCHEDULE_HORIZON = timedelta(days=366)
DEFAULT_AGENDA = (
    "1. Incident report recap\n"
    "2. Timeline walk-through\n"
    "3. The response-evaluation questions\n"
    "4. Random or targeted?\n"
    "5. Preventive initiatives\n"
    "6. Follow-up actions and their owners"
)

CHANNEL_REMINDER = "meeting_channel"
DM_REMINDER = "meeting_dm"
REMINDER_KINDS = (CHANNEL_REMINDER, DM_REMINDER)


@dataclass(frozen=True)
class MeetingRequest:
    starts_at: datetime | None
    duration_text: str
    location: str
    agenda: str

    @property
    def duration_minutes(self) -> int:
        return int(self.duration_text.strip())


def validate(request: MeetingRequest, *, now: datetime) -> dict[str, str]:
    """Block id -> what to fix."""
    errors: dict[str, str] = {}
    if request.starts_at is None:
        errors["starts_at"] = "Pick a start time."
    elif request.starts_at <= now:
        errors["starts_at"] = "This time has already passed. Pick a time in the future."
    elif request.starts_at > now + SCHEDULE_HORIZON:
        errors["starts_at"] = "Pick a time within the next year."
    try:
        minutes = request.duration_minutes
    except ValueError:
        errors["duration"] = "Enter the length in whole minutes, e.g. 60."
    else:
        if minutes <= 0:
            errors["duration"] = "The meeting needs a length: enter minutes, e.g. 60."
        elif minutes > MAX_DURATION_MINUTES:
            errors["duration"] = "Keep it to 8 hours (480 minutes) at most; split a longer review into two meetings."
    if len(request.location) > LOCATION_MAX_CHARS:
        errors["location"] = f"Keep this under {LOCATION_MAX_CHARS} characters (it has {len(request.location)})."
    if len(request.agenda) > AGENDA_MAX_CHARS:
        errors["agenda"] = f"Keep the agenda under {AGENDA_MAX_CHARS} characters (it has {len(request.agenda)})."
    return errors


def earliest_start(postmortem: Postmortem, *, now: datetime, recovery_gap: timedelta) -> datetime:
    """Soon, but after the people who lost sleep have recovered."""
    settled = postmortem.resolved_at or postmortem.contained_at or postmortem.detected_at
    return max(now, settled + recovery_gap)


def current(session: Session, *, postmortem_id: int) -> Meeting | None:
    return session.scalars(select(Meeting).where(Meeting.postmortem_id == postmortem_id)).one_or_none()


class MeetingRefused(Exception):
    """The meeting cannot be scheduled; the message says why."""


class Outcome(enum.Enum):
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    REPEATED = "repeated"  # the same modal submission delivered again: nothing changed


def save(
    session: Session,
    *,
    postmortem: Postmortem,
    request: MeetingRequest,
    user_id: str,
    view_id: str,
    participant_ids: list[str],
    reminder_offsets: tuple[timedelta, ...],
    now: datetime,
) -> tuple[Meeting, Outcome]:
    """Schedule, or reschedule an existing meeting (SEQUENCE + 1). The submission's view id decides in the
    database: the same view delivered twice, even at the same moment, is one scheduling."""
    access.require_open(session, postmortem, refusal=MeetingRefused)
    assert request.starts_at is not None
    values = dict(
        status=MeetingStatus.SCHEDULED, starts_at=request.starts_at, duration_minutes=request.duration_minutes,
        location=request.location.strip(), agenda=request.agenda.strip(), scheduled_by=user_id,
        source_view_id=view_id, updated_at=now,
    )
    if insert_ignoring_conflicts(session, Meeting, [dict(postmortem_id=postmortem.id, sequence=0, **values)]):
        outcome = Outcome.SCHEDULED
    else:
        moved = session.execute(
            update(Meeting)
            .where(Meeting.postmortem_id == postmortem.id,
                   or_(Meeting.source_view_id.is_(None), Meeting.source_view_id != view_id))
            .values(sequence=Meeting.sequence + 1, **values)
            .execution_options(synchronize_session=False)
        ).rowcount
        outcome = Outcome.RESCHEDULED if moved else Outcome.REPEATED
    meeting = session.scalars(
        select(Meeting).where(Meeting.postmortem_id == postmortem.id).execution_options(populate_existing=True)
    ).one()
    if outcome is Outcome.REPEATED:
        return meeting, outcome
    indicators.record(session, postmortem_id=postmortem.id, text=meeting.agenda, now=now)
    reminders.cancel_pending(session, kinds=REMINDER_KINDS, subject_id=meeting.id, now=now)
    planned = []
    for offset in reminder_offsets:
        due = meeting.starts_at - offset
        planned.append(reminders.Planned(CHANNEL_REMINDER, postmortem.channel_id or "", due, meeting.starts_at))
        planned += [reminders.Planned(DM_REMINDER, user, due, meeting.starts_at) for user in participant_ids]
    reminders.plan(session, postmortem_id=postmortem.id, subject_id=meeting.id, subject_version=meeting.sequence,
                   reminders=planned, now=now)
    return meeting, outcome


def cancel(session: Session, *, postmortem: Postmortem, meeting: Meeting, now: datetime) -> bool:
    """Cancel the meeting as it was read; False if another change (a cancel or a reschedule sent at the
    same moment) committed first, so that only one cancellation is sent."""
    access.require_open(session, postmortem, refusal=MeetingRefused)
    cancelled = session.execute(
        update(Meeting)
        .where(Meeting.id == meeting.id, Meeting.status == MeetingStatus.SCHEDULED, Meeting.sequence == meeting.sequence)
        .values(status=MeetingStatus.CANCELLED, sequence=Meeting.sequence + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if cancelled:
        session.refresh(meeting)
        reminders.cancel_pending(session, kinds=REMINDER_KINDS, subject_id=meeting.id, now=now)
    return cancelled


def is_current(meeting: Meeting | None, *, version: int, now: datetime) -> bool:
    """A reminder planned for this version of the meeting still makes sense."""
    return (
        meeting is not None
        and meeting.status is MeetingStatus.SCHEDULED
        and meeting.sequence == version
        and now < meeting.starts_at
    )
