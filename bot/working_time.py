"""Working hours in each person's own time zone, and the meeting slot that suits the most people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.settings import Settings

SLOT_STEP = timedelta(minutes=15)  # fine enough for zones offset by :30 or :45
SEARCH_HORIZON = timedelta(days=14)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class WorkingTime:
    start: time
    end: time
    weekdays: tuple[int, ...]  # Monday = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingTime:
        return cls(start=settings.work_start, end=settings.work_end, weekdays=settings.work_weekdays)

    def contains(self, start: datetime, duration: timedelta, tz: str) -> bool:
        """Whether [start, start + duration] lies inside one working period in zone `tz`."""
        local_start = start.astimezone(zone(tz))
        local_end = (start + duration).astimezone(zone(tz))
        return (
            local_start.weekday() in self.weekdays
            and local_start.date() == local_end.date()
            and self.start <= local_start.time()
            and local_end.time() <= self.end
        )

    def working_day_from(self, day: date) -> date:
        """`day` if it is a working day, else the next one."""
        while day.weekday() not in self.weekdays:
            day += timedelta(days=1)
        return day

    def day_start(self, day: date, tz: str) -> datetime:
        """The start of working hours on `day` in zone `tz`, in UTC."""
        return datetime.combine(day, self.start, tzinfo=zone(tz)).astimezone(timezone.utc)

    def next_working_moment(self, moment: datetime, tz: str) -> datetime:
        """`moment` if it falls in working hours on a working day in `tz`; else the start of the next working period."""
        local = moment.astimezone(zone(tz))
        if local.weekday() in self.weekdays and self.start <= local.time() < self.end:
            return moment
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        return self.day_start(self.working_day_from(day), tz)


@dataclass(frozen=True)
class SlotSuggestion:
    starts_at: datetime
    fits: tuple[str, ...]
    outside: tuple[str, ...]


def round_up(moment: datetime, step: timedelta = SLOT_STEP) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    steps = -(-(moment - epoch) // step)
    return epoch + steps * step


def suggest_slot(
    *, earliest: datetime, duration: timedelta, zones: dict[str, str], working: WorkingTime
) -> SlotSuggestion:
    """The earliest start >= `earliest` inside working hours for the most people (user id -> tz)."""
    candidate = round_up(earliest)
    best: SlotSuggestion | None = None
    while candidate < earliest + SEARCH_HORIZON:
        fits = tuple(user for user, tz in zones.items() if working.contains(candidate, duration, tz))
        if best is None or len(fits) > len(best.fits):
            best = SlotSuggestion(candidate, fits, tuple(u for u in zones if u not in fits))
            if len(fits) == len(zones):
                break
        candidate += SLOT_STEP
    assert best is not None
    return best
