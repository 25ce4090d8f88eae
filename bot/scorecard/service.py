"""The scorecard's figures, computed with SQL aggregates grouped in the database (same code on SQLite and
PostgreSQL). Medians and percentiles are taken in Python over durations the database already computed.

An incident belongs to the period of its detection; an action to the period it was created in (its state
is today's). A duration whose moments are missing, or in the wrong order, is left out of that figure and
counted as missing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select, union
from sqlalchemy.orm import Session

from bot.monitoring import service as monitoring
from bot.reports.data import SCORECARD_LABELS
from bot.scorecard.periods import Period
from bot.scorecard.sql import SecondsBetween, UtcDate, period_key
from models import (
    Action,
    ActionChange,
    ActionStatus,
    Assessment,
    AttackVector,
    Classification,
    Indicator,
    Postmortem,
    ReportVersion,
    Severity,
)


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    span: str
    missing_as: str  # "3 of 40 incidents have no <missing_as>"


MEASURES = (
    Measure("detect", "Time to detect", "compromise → detection", "compromise time"),
    Measure("contain", "Time to contain", "detection → containment", "containment time"),
    Measure("resolve", "Time to resolve", "detection → resolution", "resolution time"),
    Measure("dwell", "Dwell time", "compromise → containment", "compromise or containment time"),
)
_SPANS = {
    "detect": (Postmortem.compromised_at, Postmortem.detected_at),
    "contain": (Postmortem.detected_at, Postmortem.contained_at),
    "resolve": (Postmortem.detected_at, Postmortem.resolved_at),
    "dwell": (Postmortem.compromised_at, Postmortem.contained_at),
}
PREVENTIVE_FIELDS = tuple(name for name, _ in SCORECARD_LABELS)
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DurationFigure:
    measured: int
    missing: int
    median: float | None  # seconds
    p90: float | None
    mean: float | None


@dataclass(frozen=True)
class FollowThrough:
    created: int
    done_on_time: int
    done_late: int
    open: int
    overdue: int
    cancelled: int
    oldest_overdue_days: int | None
    median_overdue_days: float | None
    median_days_to_close: float | None

    @property
    def on_time_share(self) -> float | None:
        """Of the actions done, the share done by their due date (UTC day)."""
        done = self.done_on_time + self.done_late
        return self.done_on_time / done if done else None


@dataclass(frozen=True)
class Reporting:
    published: int  # incidents with a published report
    median_hours_to_publish: float | None  # resolution -> first publication
    measured: int


@dataclass(frozen=True)
class Figures:
    incidents: int
    by_severity: dict[Severity, int]
    by_vector: dict[AttackVector | None, int]  # None: not classified yet
    by_classification: dict[Classification | None, int]
    durations: dict[str, DurationFigure]
    follow_through: FollowThrough
    reporting: Reporting
    preventive: dict[str, int | None]  # summed; None when no incident recorded it
    recurring: int


@dataclass(frozen=True)
class TrendPoint:
    key: str  # 2026-07 or 2026-Q3
    incidents: int
    medians: dict[str, float | None]  # measure key -> seconds
    on_time_share: float | None


@dataclass(frozen=True)
class Scorecard:
    period: Period
    current: Figures
    previous: Figures | None
    trend: list[TrendPoint]


# -- statistics over selected durations ----------------------------------------------------------
def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (as numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _figure(values: Sequence[float | None], total: int) -> DurationFigure:
    usable = [value for value in values if value is not None and value >= 0]
    return DurationFigure(measured=len(usable), missing=total - len(usable), median=percentile(usable, 0.5),
                          p90=percentile(usable, 0.9), mean=sum(usable) / len(usable) if usable else None)


# -- the queries -------------------------------------------------------------------------------------
def _done_at() -> Any:
    """When each action was marked done: its audit trail holds the moment."""
    return (select(ActionChange.action_id, func.max(ActionChange.at).label("done_at"))
            .where(ActionChange.field == "status", ActionChange.new_value == ActionStatus.DONE.value)
            .group_by(ActionChange.action_id).subquery())


def _action_counts(done: Any, *, today: date) -> dict[str, Any]:
    """Per-state counts, as `count(CASE WHEN ... THEN 1 END)` columns."""
    is_done = Action.status == ActionStatus.DONE
    is_open = Action.status == ActionStatus.OPEN
    on_time = and_(is_done, UtcDate(done.c.done_at) <= Action.due_on)
    late = and_(is_done, UtcDate(done.c.done_at) > Action.due_on)
    overdue = and_(is_open, Action.due_on < today)
    return {"created": func.count(Action.id), "done_on_time": _count_where(on_time), "done_late": _count_where(late),
            "open": _count_where(is_open), "overdue": _count_where(overdue),
            "cancelled": _count_where(Action.status == ActionStatus.CANCELLED)}


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, 1)))


def _first_published() -> Any:
    return (select(ReportVersion.postmortem_id, func.min(ReportVersion.published_at).label("published_at"))
            .where(ReportVersion.summary_ts.is_not(None)).group_by(ReportVersion.postmortem_id).subquery())


def _incident_breakdown(session: Session, period: Period) -> tuple[int, dict[Severity, int], dict[AttackVector | None, int],
                                                                   dict[Classification | None, int]]:
    rows = session.execute(
        select(Postmortem.severity, Assessment.attack_vector, Assessment.classification, func.count(Postmortem.id))
        .outerjoin(Assessment, Assessment.postmortem_id == Postmortem.id)
        .where(period.contains(Postmortem.detected_at))
        .group_by(Postmortem.severity, Assessment.attack_vector, Assessment.classification)
    ).tuples().all()
    by_severity: dict[Severity, int] = dict.fromkeys(Severity, 0)
    by_vector: dict[AttackVector | None, int] = defaultdict(int)
    by_classification: dict[Classification | None, int] = defaultdict(int)
    for severity, vector, classification, count in rows:
        by_severity[severity] += count
        by_vector[vector] += count
        by_classification[classification] += count
    return sum(by_severity.values()), by_severity, dict(by_vector), dict(by_classification)


def _preventive(session: Session, period: Period) -> dict[str, int | None]:
    sums = session.execute(
        select(*(func.sum(getattr(Assessment, name)) for name in PREVENTIVE_FIELDS))
        .join(Postmortem, Postmortem.id == Assessment.postmortem_id)
        .where(period.contains(Postmortem.detected_at))
    ).one()
    return {name: None if total is None else int(total) for name, total in zip(PREVENTIVE_FIELDS, sums)}


def _durations(session: Session, period: Period) -> list[tuple[str, dict[str, float | None]]]:
    """(trend period key, measure -> seconds) of every incident in the period, oldest first."""
    columns = [SecondsBetween(start, end).label(key) for key, (start, end) in _SPANS.items()]
    rows = session.execute(
        select(period_key(Postmortem.detected_at, period.granularity).label("period"), *columns)
        .where(period.contains(Postmortem.detected_at)).order_by("period")
    ).all()
    return [(row.period, {key: getattr(row, key) for key in _SPANS}) for row in rows]


def _follow_through(session: Session, period: Period, *, today: date) -> FollowThrough:
    done = _done_at()
    in_period = period.contains(Action.created_at)
    counts = session.execute(
        select(*(column.label(name) for name, column in _action_counts(done, today=today).items()))
        .select_from(Action).outerjoin(done, done.c.action_id == Action.id).where(in_period)
    ).one()
    # The few rows the medians need: done actions' time to close, overdue ones' due dates.
    closing = session.execute(
        select(Action.status, Action.due_on, SecondsBetween(Action.created_at, done.c.done_at))
        .outerjoin(done, done.c.action_id == Action.id)
        .where(in_period, (Action.status == ActionStatus.DONE) | ((Action.status == ActionStatus.OPEN) & (Action.due_on < today)))
    ).tuples().all()
    days_to_close = [seconds / SECONDS_PER_DAY for status, _, seconds in closing
                     if status is ActionStatus.DONE and seconds is not None and seconds >= 0]
    overdue_days = [(today - due_on).days for status, due_on, _ in closing if status is ActionStatus.OPEN]
    return FollowThrough(**counts._asdict(), oldest_overdue_days=max(overdue_days, default=None),
                         median_overdue_days=percentile(overdue_days, 0.5),
                         median_days_to_close=percentile(days_to_close, 0.5))


def _on_time_by_period(session: Session, period: Period, *, today: date) -> dict[str, float | None]:
    done = _done_at()
    counts = _action_counts(done, today=today)
    key = period_key(Action.created_at, period.granularity).label("period")
    rows = session.execute(
        select(key, counts["done_on_time"], counts["done_late"])
        .select_from(Action).outerjoin(done, done.c.action_id == Action.id)
        .where(period.contains(Action.created_at)).group_by(key)
    ).tuples().all()
    return {period: on_time / (on_time + late) if on_time + late else None for period, on_time, late in rows}


def _reporting(session: Session, period: Period) -> Reporting:
    published = _first_published()
    delays = session.scalars(
        select(SecondsBetween(Postmortem.resolved_at, published.c.published_at))
        .join(published, published.c.postmortem_id == Postmortem.id)
        .where(period.contains(Postmortem.detected_at))
    ).all()
    hours = [seconds / 3600 for seconds in delays if seconds is not None and seconds >= 0]
    return Reporting(published=len(delays), median_hours_to_publish=percentile(hours, 0.5), measured=len(hours))


def recurring_incidents(session: Session, period: Period) -> int:
    """Incidents of the period that recurred: they share an indicator with an incident detected before them
    (grouped once, so no index on the indicator values is needed), or they came back after the close
    (monitoring: a sighting judged a recurrence, a check-in answered "Something's back")."""
    first_seen = (select(Indicator.kind, Indicator.value, func.min(Postmortem.detected_at).label("first_detected"))
                  .join(Postmortem, Postmortem.id == Indicator.postmortem_id)
                  .group_by(Indicator.kind, Indicator.value).subquery())
    shared = (select(Postmortem.id)
              .join(Indicator, Indicator.postmortem_id == Postmortem.id)
              .join(first_seen, and_(first_seen.c.kind == Indicator.kind, first_seen.c.value == Indicator.value))
              .where(period.contains(Postmortem.detected_at), first_seen.c.first_detected < Postmortem.detected_at))
    returned = select(Postmortem.id).where(period.contains(Postmortem.detected_at),
                                           Postmortem.id.in_(monitoring.came_back()))
    return session.scalar(select(func.count()).select_from(union(shared, returned).subquery())) or 0


def figures(session: Session, *, period: Period, today: date) -> Figures:
    incidents, by_severity, by_vector, by_classification = _incident_breakdown(session, period)
    durations = _durations(session, period)
    return Figures(
        incidents=incidents, by_severity=by_severity, by_vector=by_vector, by_classification=by_classification,
        durations={key: _figure([spans[key] for _, spans in durations], incidents) for key in _SPANS},
        follow_through=_follow_through(session, period, today=today),
        reporting=_reporting(session, period),
        preventive=_preventive(session, period),
        recurring=recurring_incidents(session, period),
    )


def _trend(session: Session, period: Period, *, today: date) -> list[TrendPoint]:
    by_key: dict[str, list[dict[str, float | None]]] = defaultdict(list)
    for key, spans in _durations(session, period):
        by_key[key].append(spans)
    on_time = _on_time_by_period(session, period, today=today)
    return [
        TrendPoint(key=key, incidents=len(by_key.get(key, [])),
                   medians={measure: _figure([spans[measure] for spans in by_key.get(key, [])], 0).median
                            for measure in _SPANS},
                   on_time_share=on_time.get(key))
        for key in sorted(set(by_key) | set(on_time))
    ]


def scorecard(session: Session, *, period: Period, today: date) -> Scorecard:
    return Scorecard(
        period=period,
        current=figures(session, period=period, today=today),
        previous=figures(session, period=period.previous, today=today) if period.previous else None,
        trend=_trend(session, period, today=today),
    )


def facilitated(session: Session, *, user_id: str) -> list[Postmortem]:
    return list(session.scalars(select(Postmortem).where(Postmortem.facilitator_id == user_id).order_by(Postmortem.id)))


# -- the export ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportRow:
    postmortem_id: int
    title: str
    severity: str
    status: str
    facilitator_id: str
    compromised_at: datetime | None
    detected_at: datetime
    contained_at: datetime | None
    resolved_at: datetime | None
    report_published_at: datetime | None
    seconds: dict[str, float | None]  # measure key -> duration
    classification: str | None
    attack_vector: str | None
    actions: dict[str, int]
    preventive: dict[str, int | None]


def export_rows(session: Session, *, period: Period, postmortem_ids: Collection[int] | None = None,
                today: date) -> list[ExportRow]:
    """One row per post-mortem of the period (only those of `postmortem_ids`, when given), in one query."""
    done = _done_at()
    per_action = _action_counts(done, today=today)
    actions = (select(Action.postmortem_id, *(column.label(name) for name, column in per_action.items()))
               .select_from(Action).outerjoin(done, done.c.action_id == Action.id)
               .group_by(Action.postmortem_id).subquery())
    published = _first_published()
    statement: Select[Any] = (
        select(Postmortem, Assessment, published.c.published_at,
               *(SecondsBetween(start, end).label(key) for key, (start, end) in _SPANS.items()),
               *(getattr(actions.c, name).label(f"actions_{name}") for name in per_action))
        .outerjoin(Assessment, Assessment.postmortem_id == Postmortem.id)
        .outerjoin(actions, actions.c.postmortem_id == Postmortem.id)
        .outerjoin(published, published.c.postmortem_id == Postmortem.id)
        .where(period.contains(Postmortem.detected_at))
        .order_by(Postmortem.detected_at, Postmortem.id)
    )
    if postmortem_ids is not None:
        statement = statement.where(Postmortem.id.in_(list(postmortem_ids)))
    rows = []
    for row in session.execute(statement):
        postmortem, assessment = row.Postmortem, row.Assessment
        rows.append(ExportRow(
            postmortem_id=postmortem.id, title=postmortem.title, severity=postmortem.severity.value,
            status=postmortem.status.value, facilitator_id=postmortem.facilitator_id,
            compromised_at=postmortem.compromised_at, detected_at=postmortem.detected_at,
            contained_at=postmortem.contained_at, resolved_at=postmortem.resolved_at,
            report_published_at=row.published_at,
            seconds={key: value if value is not None and value >= 0 else None
                     for key in _SPANS for value in [getattr(row, key)]},
            classification=assessment.classification.value if assessment and assessment.classification else None,
            attack_vector=assessment.attack_vector.value if assessment and assessment.attack_vector else None,
            actions={name: getattr(row, f"actions_{name}") or 0 for name in per_action},
            preventive={name: getattr(assessment, name) if assessment else None for name in PREVENTIVE_FIELDS},
        ))
    return rows

