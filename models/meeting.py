"""The review meeting, and the durable reminder rows every reminder in the bot is sent from."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.postmortem import str_enum


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class Meeting(Base):
    """One review meeting per post-mortem; rescheduling bumps `sequence` (the iCalendar SEQUENCE)."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), unique=True)
    status: Mapped[MeetingStatus] = mapped_column(str_enum(MeetingStatus), default=MeetingStatus.SCHEDULED)
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int]
    location: Mapped[str] = mapped_column(Text, default="")
    agenda: Mapped[str] = mapped_column(Text, default="")
    sequence: Mapped[int] = mapped_column(default=0)
    scheduled_by: Mapped[str] = mapped_column(String(32))
    # The modal submission that set this schedule: the same view delivered again is not a reschedule.
    source_view_id: Mapped[str | None] = mapped_column(String(64))
    announcement_ts: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]


class ReminderStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # one dispatcher is sending it right now
    SENT = "sent"
    SKIPPED = "skipped"  # no longer makes sense (meeting passed, already answered, ...)
    CANCELLED = "cancelled"  # superseded (rescheduled, done, reassigned)
    FAILED = "failed"


ONE_PENDING_OVERDUE = "kind = 'action_overdue' AND status = 'pending'"


class Reminder(Base):
    """A message due at a moment. The database, not APScheduler's memory, is the truth: any number of
    bot processes may dispatch, and each reminder is claimed by exactly one of them."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_reminders_due", "status", "due_at"),
        # An action's overdue reminders form a chain, each planned when the one before is sent: never two at once.
        Index("uq_reminders_one_pending_overdue", "subject_id", unique=True,
              sqlite_where=text(ONE_PENDING_OVERDUE), postgresql_where=text(ONE_PENDING_OVERDUE)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    subject_id: Mapped[int]  # the meeting (or action) it is about
    subject_version: Mapped[int]  # the subject's version when planned; a newer version makes it stale
    recipient_id: Mapped[str] = mapped_column(String(32))  # a user (DM) or a channel
    due_at: Mapped[datetime]  # moved later by a retry
    planned_for: Mapped[datetime]  # the moment it was planned for; what the next step of a chain counts from
    expires_at: Mapped[datetime | None]  # after this it no longer makes sense: skipped, not sent late
    status: Mapped[ReminderStatus] = mapped_column(str_enum(ReminderStatus), default=ReminderStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    dedupe_key: Mapped[str] = mapped_column(String(200))
