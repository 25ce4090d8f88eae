"""Durable reminders: planned as rows, claimed atomically, retried with backoff.

Claiming is a conditional `UPDATE ... WHERE status = 'pending'` whose row count tells the caller
whether it won, so any number of bot processes sharing one database send each reminder once
(PostgreSQL and SQLite alike). APScheduler only wakes the dispatcher; it holds no state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Reminder, ReminderStatus
from models.db import insert_if_absent, insert_ignoring_conflicts

MAX_ATTEMPTS = 4
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15))
# A claim this old belongs to a process that died mid-send. Whether Slack got the message is
# unknown; marking it failed (not pending) keeps the promise of never sending twice.
CLAIM_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Planned:
    kind: str
    recipient_id: str
    due_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class SentThen:
    """A sender's answer for a reminder that was sent and starts the next step of its chain: `plan_next`
    runs in the transaction that marks it sent, so a failed send never plans anything and a retry
    never plans twice."""

    plan_next: Callable[[Session], None]


def plan(
    session: Session, *, postmortem_id: int, subject_id: int, subject_version: int, reminders: list[Planned], now: datetime
) -> int:
    """Store the reminders still in the future (an offset already past is skipped); returns how many.
    One already planned (same key), or a second pending step of an overdue chain, is left out by the database."""
    rows = [_row(planned, postmortem_id=postmortem_id, subject_id=subject_id, subject_version=subject_version)
            for planned in reminders if planned.due_at > now]
    return insert_ignoring_conflicts(session, Reminder, rows)


def plan_at_once(session: Session, *, kind: str, postmortem_id: int, subject_id: int, recipients: list[str],
                 now: datetime, subject_version: int = 1) -> list[int]:
    """Reminders due now, one per recipient (a notice that a request sets off): their ids, for sending at
    once; one that fails there is retried by the dispatcher like any other. Planned again for the same
    subject version, they are not planned twice."""
    rows = [_row(Planned(kind, recipient, now, None), postmortem_id=postmortem_id, subject_id=subject_id,
                 subject_version=subject_version) for recipient in recipients]
    return [stored for row in rows if (stored := insert_if_absent(session, Reminder, row)) is not None]


def _row(planned: Planned, *, postmortem_id: int, subject_id: int, subject_version: int) -> dict[str, object]:
    return dict(kind=planned.kind, postmortem_id=postmortem_id, subject_id=subject_id, subject_version=subject_version,
                recipient_id=planned.recipient_id, due_at=planned.due_at, planned_for=planned.due_at,
                expires_at=planned.expires_at, status=ReminderStatus.PENDING, attempts=0,
                dedupe_key=f"{planned.kind}:{subject_id}:v{subject_version}:{planned.recipient_id}:{planned.due_at.isoformat()}")


def cancel_pending(session: Session, *, kinds: tuple[str, ...], subject_id: int, now: datetime) -> int:
    """Supersede every pending reminder about a subject (rescheduled, done, reassigned)."""
    result = session.execute(
        update(Reminder)
        .where(Reminder.kind.in_(kinds), Reminder.subject_id == subject_id, Reminder.status == ReminderStatus.PENDING)
        .values(status=ReminderStatus.CANCELLED, finished_at=now)
    )
    return result.rowcount


def due_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    return list(
        session.scalars(
            select(Reminder.id)
            .where(Reminder.status == ReminderStatus.PENDING, Reminder.due_at <= now)
            .order_by(Reminder.due_at, Reminder.id)
            .limit(limit)
        )
    )


def claim(session: Session, *, reminder_id: int, worker_id: str, now: datetime) -> bool:
    """True for exactly one caller per pending reminder."""
    result = session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.status == ReminderStatus.PENDING, Reminder.due_at <= now)
        .values(status=ReminderStatus.CLAIMED, claimed_by=worker_id, claimed_at=now, attempts=Reminder.attempts + 1)
    )
    return result.rowcount == 1


def finish(session: Session, *, reminder_id: int, status: ReminderStatus, now: datetime, error: str | None = None) -> bool:
    """Record how a claimed send ended; False if the claim was lost meanwhile (failed as stale)."""
    result = session.execute(
        update(Reminder).where(Reminder.id == reminder_id, Reminder.status == ReminderStatus.CLAIMED)
        .values(status=status, finished_at=now, last_error=error)
    )
    return result.rowcount == 1


def retry_or_fail(session: Session, *, reminder: Reminder, error: str, now: datetime) -> ReminderStatus:
    """After a failed send: back to pending later, or failed for good once the attempts are used up.
    Only `due_at` moves: `planned_for`, which a chain's next step counts from, stays as planned."""
    if reminder.attempts >= MAX_ATTEMPTS:
        finish(session, reminder_id=reminder.id, status=ReminderStatus.FAILED, now=now, error=error)
        return ReminderStatus.FAILED
    delay = RETRY_DELAYS[min(reminder.attempts, len(RETRY_DELAYS)) - 1]
    session.execute(
        update(Reminder)
        .where(Reminder.id == reminder.id)
        .values(status=ReminderStatus.PENDING, due_at=now + delay, last_error=error, claimed_by=None, claimed_at=None)
    )
    return ReminderStatus.PENDING


def release(session: Session, *, reminder_ids: list[int], worker_id: str) -> int:
    """Give back claims whose sending never started (the process is stopping): pending again, attempt not counted."""
    result = session.execute(
        update(Reminder)
        .where(Reminder.id.in_(reminder_ids), Reminder.status == ReminderStatus.CLAIMED, Reminder.claimed_by == worker_id)
        .values(status=ReminderStatus.PENDING, claimed_by=None, claimed_at=None, attempts=Reminder.attempts - 1)
    )
    return result.rowcount


def fail_stale_claims(session: Session, *, now: datetime) -> int:
    result = session.execute(
        update(Reminder)
        .where(Reminder.status == ReminderStatus.CLAIMED, Reminder.claimed_at < now - CLAIM_TIMEOUT)
        .values(status=ReminderStatus.FAILED, finished_at=now, last_error="the bot stopped while sending this reminder")
    )
    return result.rowcount
