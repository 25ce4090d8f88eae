"""Monitoring after the incident: each post-mortem's window, the sightings of its indicators in alert
channels and their verdicts, and the check-ins after the close.

Every write two requests can make at once is settled by the database: a sighting's unique key (indicator,
channel, message) makes a redelivered event store nothing, a verdict is a conditional UPDATE from
`pending`, the first check-in answer wins by its unique key, and the close that plans the check-ins claims
`closed_at` with a conditional UPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import CompoundSelect, func, select, union, update
from sqlalchemy.orm import Session

from bot.intel import misp
from bot.intel.stix import SightingRecord
from bot.monitoring.matcher import Watched
from bot.reminders import service as reminders
from models import CheckIn, CheckInAnswer, Indicator, MonitoringWindow, Postmortem, PostmortemStatus, Sighting, Verdict
from models.db import insert_if_absent, insert_ignoring_conflicts

# Reminder kinds; their senders are in bot.monitoring.flows (registered in bot.reminders.senders).
SIGHTING_NOTICE = "monitor_sighting"
# A sighting reported to MISP (when configured): a reminder row too, so a MISP outage is retried.
MISP_SIGHTING = "monitor_misp_sighting"
CHECKIN = "monitor_checkin"


@dataclass(frozen=True)
class Window:
    starts_at: datetime
    ends_at: datetime
    stopped_by: str | None

    def covers(self, moment: datetime) -> bool:
        return moment < self.ends_at


def window_of(postmortem: Postmortem, override: MonitoringWindow | None, *, period: timedelta) -> Window:
    """From resolution (or, none recorded, from the post-mortem's start) for `period`, unless the facilitator
    set another end or stopped it."""
    starts_at = postmortem.resolved_at or postmortem.created_at
    ends_at = override.ends_at if override is not None and override.ends_at is not None else starts_at + period
    return Window(starts_at, ends_at, override.stopped_by if override is not None else None)


def _windows(session: Session, *, postmortem_ids: Iterable[int] | None, period: timedelta) -> dict[int, Window]:
    query = select(Postmortem, MonitoringWindow).outerjoin(MonitoringWindow)
    if postmortem_ids is not None:
        query = query.where(Postmortem.id.in_(sorted(set(postmortem_ids))))
    return {postmortem.id: window_of(postmortem, override, period=period)
            for postmortem, override in session.execute(query).tuples()}


def watch_version(session: Session) -> tuple[object, ...]:
    """Changes whenever an indicator is added or removed or a window is changed: what each process compares
    with the version its automaton was built from. Two aggregate reads, no table written by any request.
    The newest `first_seen_at` too: SQLite gives a new row the id of the newest one deleted, so a deletion
    and an addition between two reads leave the count and the highest id as they were."""
    indicators = session.execute(select(func.count(Indicator.id), func.coalesce(func.max(Indicator.id), 0),
                                        func.max(Indicator.first_seen_at))).one()
    windows = session.execute(select(func.count(), func.coalesce(func.sum(MonitoringWindow.version), 0))
                              .select_from(MonitoringWindow)).one()
    return (*indicators, *windows)


def watched(session: Session, *, now: datetime, period: timedelta) -> list[Watched]:
    """Every indicator of every post-mortem whose window is open now."""
    active = [pid for pid, window in _windows(session, postmortem_ids=None, period=period).items() if window.covers(now)]
    if not active:
        return []
    rows = session.execute(select(Indicator.id, Indicator.postmortem_id, Indicator.kind, Indicator.value)
                           .where(Indicator.postmortem_id.in_(active))).tuples()
    return [Watched(*row) for row in rows]


@dataclass(frozen=True)
class NewSighting:
    sighting_id: int
    notices: list[int]  # the reminders that tell people, due at once


def record_sightings(session: Session, *, hits: list[Watched], channel_id: str, message_ts: str, now: datetime,
                     period: timedelta, escalation_channel: str | None, to_misp: bool,
                     posted_at: datetime | None = None) -> list[NewSighting]:
    """Store each hit still inside its post-mortem's window (the automaton may predate a change) and plan its
    notices: a DM to the facilitator, and a post in the review channel or, once that is archived,
    ESCALATION_CHANNEL. A hit already stored (a redelivered event) plans nothing. `posted_at`, for an edited
    alert: when it was first posted; one posted before a window started is no sighting for it."""
    windows = _windows(session, postmortem_ids=(hit.postmortem_id for hit in hits), period=period)
    # A hit counts only for the indicator as stored now: an automaton built before a deletion may name an id
    # that SQLite has since given to another indicator.
    current = set(session.execute(select(Indicator.id, Indicator.postmortem_id, Indicator.kind, Indicator.value)
                                  .where(Indicator.id.in_(sorted({hit.indicator_id for hit in hits})))).tuples())
    new: list[NewSighting] = []
    # Sorted, so concurrent deliveries take the unique index's locks in the same order (no deadlock).
    for hit in sorted(hits, key=lambda h: h.indicator_id):
        window = windows.get(hit.postmortem_id)
        if window is None or not window.covers(now) or (posted_at is not None and posted_at < window.starts_at) or \
                (hit.indicator_id, hit.postmortem_id, hit.kind, hit.value) not in current:
            continue
        sighting_id = insert_if_absent(session, Sighting, dict(
            postmortem_id=hit.postmortem_id, indicator_id=hit.indicator_id, kind=hit.kind, value=hit.value,
            channel_id=channel_id, message_ts=message_ts, seen_at=now, verdict=Verdict.PENDING))
        if sighting_id is None:
            continue
        postmortem = session.get_one(Postmortem, hit.postmortem_id)
        recipients = [postmortem.facilitator_id]
        channel = postmortem.channel_id if postmortem.status is PostmortemStatus.OPEN else escalation_channel
        if channel:
            recipients.append(channel)
        notices = reminders.plan_at_once(session, kind=SIGHTING_NOTICE, postmortem_id=postmortem.id,
                                         subject_id=sighting_id, recipients=recipients, now=now)
        if to_misp:
            notices += reminders.plan_at_once(session, kind=MISP_SIGHTING, postmortem_id=postmortem.id,
                                              subject_id=sighting_id, recipients=[misp.REMINDER_RECIPIENT], now=now)
        new.append(NewSighting(sighting_id, notices))
    return new


def as_record(sighting: Sighting) -> SightingRecord:
    return SightingRecord(indicator_kind=sighting.kind, indicator_value=sighting.value, seen_at=sighting.seen_at,
                          channel_id=sighting.channel_id, message_ts=sighting.message_ts)


def records_for_export(session: Session, *, postmortem_id: int) -> list[SightingRecord]:
    """The sightings a STIX bundle reports: those judged not related are left out."""
    rows = session.scalars(select(Sighting).where(
        Sighting.postmortem_id == postmortem_id, Sighting.verdict != Verdict.NOT_RELATED).order_by(Sighting.id))
    return [as_record(sighting) for sighting in rows]


def decide(session: Session, *, sighting_id: int, verdict: Verdict, user_id: str, now: datetime) -> bool:
    """True for exactly one of any number of clicks (double clicks, redeliveries, two people at once)."""
    result = session.execute(
        update(Sighting).where(Sighting.id == sighting_id, Sighting.verdict == Verdict.PENDING)
        .values(verdict=verdict, decided_by=user_id, decided_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1


def set_window(session: Session, *, postmortem_id: int, ends_at: datetime, user_id: str, stopped: bool,
               now: datetime) -> None:
    insert_ignoring_conflicts(session, MonitoringWindow, [dict(postmortem_id=postmortem_id, version=0, updated_at=now)])
    session.execute(
        update(MonitoringWindow).where(MonitoringWindow.postmortem_id == postmortem_id)
        .values(ends_at=ends_at, stopped_by=user_id if stopped else None, changed_by=user_id,
                version=MonitoringWindow.version + 1, updated_at=now).execution_options(synchronize_session=False))


def window(session: Session, *, postmortem_id: int, period: timedelta) -> Window:
    return _windows(session, postmortem_ids=[postmortem_id], period=period)[postmortem_id]


def plan_checkins(session: Session, *, postmortem: Postmortem, offsets: tuple[timedelta, ...], now: datetime) -> int:
    """At the first close only (a claim on `closed_at`): check-ins with the facilitator `offsets` after it."""
    insert_ignoring_conflicts(session, MonitoringWindow, [dict(postmortem_id=postmortem.id, version=0, updated_at=now)])
    claimed = session.execute(
        update(MonitoringWindow).where(MonitoringWindow.postmortem_id == postmortem.id, MonitoringWindow.closed_at.is_(None))
        .values(closed_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        return 0
    return reminders.plan(session, postmortem_id=postmortem.id, subject_id=postmortem.id, subject_version=1, now=now,
                          reminders=[reminders.Planned(CHECKIN, postmortem.facilitator_id, now + offset, None)
                                     for offset in offsets])


def answer_checkin(session: Session, *, reminder_id: int, postmortem_id: int, answer: CheckInAnswer, details: str,
                   user_id: str, now: datetime) -> int | None:
    """The stored answer's id, or None when this check-in was answered already (the first answer counts)."""
    return insert_if_absent(session, CheckIn, dict(
        postmortem_id=postmortem_id, reminder_id=reminder_id, answer=answer, details=details, answered_by=user_id,
        answered_at=now))


def came_back() -> CompoundSelect:
    """The ids of post-mortems that came back after the close: a sighting judged a recurrence, or a check-in
    answered "Something's back" (a query the scorecard combines with its own)."""
    return union(select(Sighting.postmortem_id).where(Sighting.verdict == Verdict.RECURRENCE),
                 select(CheckIn.postmortem_id).where(CheckIn.answer == CheckInAnswer.SOMETHING_BACK))


def recurrences(session: Session, *, postmortem_ids: Iterable[int]) -> dict[int, int]:
    """For the scorecard: per post-mortem, the sightings judged a recurrence plus the check-ins answered
    "Something's back". Post-mortems with none are left out."""
    ids = sorted(set(postmortem_ids))
    counts: dict[int, int] = {}
    for postmortem_id, count in session.execute(
        select(Sighting.postmortem_id, func.count()).where(Sighting.postmortem_id.in_(ids),
                                                           Sighting.verdict == Verdict.RECURRENCE)
        .group_by(Sighting.postmortem_id)).tuples():
        counts[postmortem_id] = counts.get(postmortem_id, 0) + count
    for postmortem_id, count in session.execute(
        select(CheckIn.postmortem_id, func.count()).where(CheckIn.postmortem_id.in_(ids),
                                                          CheckIn.answer == CheckInAnswer.SOMETHING_BACK)
        .group_by(CheckIn.postmortem_id)).tuples():
        counts[postmortem_id] = counts.get(postmortem_id, 0) + count
    return counts


@dataclass(frozen=True)
class Summary:
    """What the report's Monitoring section shows."""

    window: Window
    sightings: list[Sighting]
    checkins: list[CheckIn]


def summary(session: Session, *, postmortem_id: int, period: timedelta) -> Summary:
    return Summary(
        window=window(session, postmortem_id=postmortem_id, period=period),
        sightings=list(session.scalars(select(Sighting).where(Sighting.postmortem_id == postmortem_id)
                                       .order_by(Sighting.seen_at, Sighting.id))),
        checkins=list(session.scalars(select(CheckIn).where(CheckIn.postmortem_id == postmortem_id)
                                      .order_by(CheckIn.answered_at, CheckIn.id))),
    )
