"""Which incidents a scorecard covers: `90d`, `12m`, a quarter like `2026-Q3`, or `all`; and the period before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, true
from sqlalchemy.sql.expression import ColumnElement

from bot.scorecard.sql import Granularity

DEFAULT = "90d"
_QUARTER = re.compile(r"^(\d{4})-?q([1-4])$", re.IGNORECASE)
_ROLLING = {"90d": (timedelta(days=90), "the last 90 days", "the 90 days before"),
            "12m": (timedelta(days=365), "the last 12 months", "the 12 months before")}


@dataclass(frozen=True)
class Period:
    key: str  # what the person typed, normalised (buttons carry it)
    label: str
    start: datetime | None  # None: since the first incident
    end: datetime | None  # exclusive; None: up to now
    granularity: Granularity  # of the trend
    previous: Period | None = None

    def contains(self, moment: ColumnElement[Any]) -> ColumnElement[bool]:
        conditions = [moment >= self.start] if self.start is not None else []
        if self.end is not None:
            conditions.append(moment < self.end)
        return and_(true(), *conditions)


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def _quarter(year: int, number: int) -> Period:
    start = datetime(year, 3 * (number - 1) + 1, 1, tzinfo=timezone.utc)
    end = datetime(year + (number == 4), 1 if number == 4 else 3 * number + 1, 1, tzinfo=timezone.utc)
    before = (year - 1, 4) if number == 1 else (year, number - 1)
    previous_start = datetime(before[0], 3 * (before[1] - 1) + 1, 1, tzinfo=timezone.utc)
    previous = Period(key=f"{before[0]}-Q{before[1]}", label=f"{before[0]}-Q{before[1]}", start=previous_start, end=start,
                      granularity="month")
    return Period(key=f"{year}-Q{number}", label=f"{year}-Q{number}", start=start, end=end, granularity="month",
                  previous=previous)


def parse(text: str, *, now: datetime) -> Period | None:
    """The period `text` names (empty: the last 90 days), or None when it names none."""
    key = text.strip().lower() or DEFAULT
    if key in _ROLLING:
        length, label, previous_label = _ROLLING[key]
        previous = Period(key=key, label=previous_label, start=now - 2 * length, end=now - length, granularity="month")
        return Period(key=key, label=label, start=now - length, end=None, granularity="month", previous=previous)
    if key == "all":
        return Period(key=key, label="all time", start=None, end=None, granularity="quarter")
    match = _QUARTER.match(key)
    if match and 1970 <= int(match.group(1)) <= 9998:
        return _quarter(int(match.group(1)), int(match.group(2)))
    return None


def this_quarter(*, now: datetime) -> Period:
    period = parse(quarter_of(now), now=now)
    assert period is not None
    return period
