"""Slot suggestion across time zones, including the weeks when Europe and the US change clocks apart."""

from datetime import time, timedelta

from bot.working_time import WorkingTime, suggest_slot
from tests.support import utc

OFFICE = WorkingTime(start=time(9), end=time(17), weekdays=(0, 1, 2, 3, 4))
HOUR = timedelta(hours=1)
NY_BERLIN = {"ny": "America/New_York", "berlin": "Europe/Berlin"}


def test_between_the_two_dst_changes_the_overlap_starts_at_13_utc() -> None:
    # Fri 30 Oct 2026: Berlin is already on CET (UTC+1), New York still on EDT (UTC-4).
    slot = suggest_slot(earliest=utc(2026, 10, 30, 6, 0), duration=HOUR, zones=NY_BERLIN, working=OFFICE)
    assert slot.starts_at == utc(2026, 10, 30, 13, 0) and slot.fits == ("ny", "berlin")


def test_after_new_york_changes_the_overlap_starts_at_14_utc() -> None:
    # Mon 2 Nov 2026: New York is on EST (UTC-5) too.
    slot = suggest_slot(earliest=utc(2026, 11, 2, 6, 0), duration=HOUR, zones=NY_BERLIN, working=OFFICE)
    assert slot.starts_at == utc(2026, 11, 2, 14, 0)


def test_weekend_is_skipped_and_custom_week_is_honoured() -> None:
    saturday = utc(2026, 11, 21, 6, 0)
    assert suggest_slot(earliest=saturday, duration=HOUR, zones={"b": "Europe/Berlin"}, working=OFFICE).starts_at == \
        utc(2026, 11, 23, 8, 0)
    sun_to_thu = WorkingTime(start=time(9), end=time(17), weekdays=(6, 0, 1, 2, 3))
    assert suggest_slot(earliest=utc(2026, 11, 20, 6, 0), duration=HOUR, zones={"t": "Asia/Jerusalem"},
                        working=sun_to_thu).starts_at == utc(2026, 11, 22, 7, 0)


def test_no_common_slot_picks_the_most_people_and_names_the_others() -> None:
    zones = {"ny": "America/New_York", "berlin": "Europe/Berlin", "tokyo": "Asia/Tokyo"}
    slot = suggest_slot(earliest=utc(2026, 11, 20, 15, 0), duration=HOUR, zones=zones, working=OFFICE)
    assert slot.starts_at == utc(2026, 11, 20, 15, 0)
    assert (slot.fits, slot.outside) == (("ny", "berlin"), ("tokyo",))


def test_half_hour_zones_and_unknown_zone_names() -> None:
    slot = suggest_slot(earliest=utc(2026, 11, 23, 0, 0), duration=HOUR, zones={"in": "Asia/Kolkata"}, working=OFFICE)
    assert slot.starts_at == utc(2026, 11, 23, 3, 30)
    assert OFFICE.contains(utc(2026, 11, 23, 9, 0), HOUR, "Not/AZone")  # treated as UTC
