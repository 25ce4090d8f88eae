"""When owners are reminded: the rule in the action-items issue, across time zones and DST."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from bot.actions import service as actions
from bot.runtime import Runtime
from bot.working_time import WorkingTime
from models import ActionCategory, ActionPriority, Participant, ParticipantRole, Postmortem, Reminder, Severity
from tests.support import utc

OFFICE = WorkingTime(start=time(9), end=time(17), weekdays=(0, 1, 2, 3, 4))
TIMING = actions.Timing(offsets=(timedelta(days=3), timedelta(days=1)), overdue_every=timedelta(days=2),
                        escalate_after=timedelta(days=5), working=OFFICE)


def planned(runtime: Runtime, *, due_on: date, owner_tz: str, facilitator_tz: str, now: datetime) -> list[tuple[str, str, datetime]]:
    with runtime.sessions.begin() as session:
        postmortem = Postmortem(team_id="T", title="x", severity=Severity.LOW, detected_at=utc(2026, 10, 1),
                                created_by="UFAC", facilitator_id="UFAC", source_view_id=f"V{due_on}{owner_tz}", created_at=now)
        postmortem.participants = [Participant(user_id="UFAC", role=ParticipantRole.FACILITATOR)]
        session.add(postmortem)
        session.flush()
        action, _ = actions.create(session, postmortem=postmortem, created_by="UFAC", dedupe_key=f"k{due_on}{owner_tz}", now=now,
                                   draft=actions.ActionDraft(title="Rotate certs", owner_id="UOWN", due_on=due_on,
                                                             priority=ActionPriority.HIGH, category=ActionCategory.HARDENING))
        actions.plan_reminders(session, action=action, facilitator_id="UFAC", owner_tz=owner_tz, facilitator_tz=facilitator_tz,
                               timing=TIMING, now=now)
        rows = session.scalars(select(Reminder).where(Reminder.subject_id == action.id).order_by(Reminder.due_at)).all()
        return [(r.kind, r.recipient_id, r.due_at) for r in rows]


def test_berlin_owner_weekend_shift_and_new_york_escalation(runtime: Runtime) -> None:
    schedule = planned(runtime, due_on=date(2026, 11, 30), owner_tz="Europe/Berlin", facilitator_tz="America/New_York",
                       now=utc(2026, 11, 20, 15))
    assert schedule == [
        ("action_before", "UOWN", utc(2026, 11, 27, 8)),   # 3 d before: Fri 09:00 in Berlin
        # 1 d before is Sunday: moved to Monday 09:00, which is the due reminder itself, so not repeated
        ("action_due", "UOWN", utc(2026, 11, 30, 8)),      # Mon 09:00 CET
        ("action_overdue", "UOWN", utc(2026, 12, 1, 8)),   # the next working day
        ("action_escalation", "UFAC", utc(2026, 12, 7, 14)),  # +5 d is Saturday: Monday 09:00 EST for the facilitator
    ]


def test_new_york_owner_across_the_dst_change(runtime: Runtime) -> None:
    # Due Mon 2 Nov 2026: New York left daylight time on Sunday 1 Nov.
    schedule = planned(runtime, due_on=date(2026, 11, 2), owner_tz="America/New_York", facilitator_tz="America/New_York",
                       now=utc(2026, 10, 27, 12))
    assert schedule[:2] == [
        ("action_before", "UOWN", utc(2026, 10, 30, 14)),  # 3 d before the due moment: Fri 10:00 EDT, in hours
        ("action_due", "UOWN", utc(2026, 11, 2, 14)),      # Mon 09:00 EST
    ]
    assert schedule[2] == ("action_overdue", "UOWN", utc(2026, 11, 3, 14))


def test_night_time_moves_to_the_morning_and_past_offsets_are_skipped(runtime: Runtime) -> None:
    # Created on Thursday 26 Nov at 20:00 UTC for a Tokyo owner, due Friday 27: the 3 d and 1 d marks are past.
    schedule = planned(runtime, due_on=date(2026, 11, 27), owner_tz="Asia/Tokyo", facilitator_tz="Asia/Tokyo",
                       now=utc(2026, 11, 26, 20))
    assert [kind for kind, _, _ in schedule] == ["action_due", "action_overdue", "action_escalation"]
    assert schedule[0][2] == utc(2026, 11, 27, 0)  # Fri 09:00 JST
    assert schedule[1][2] == utc(2026, 11, 30, 0)  # Saturday is no working day: Monday 09:00 JST


def test_a_weekend_due_date_is_due_on_the_next_working_day_and_overdue_the_one_after(runtime: Runtime) -> None:
    # Due Sunday 6 Dec 2026 for a Berlin owner: due Monday 09:00, overdue Tuesday 09:00, never together.
    schedule = planned(runtime, due_on=date(2026, 12, 6), owner_tz="Europe/Berlin", facilitator_tz="Europe/Berlin",
                       now=utc(2026, 11, 30, 12))
    owner = {kind: at for kind, recipient, at in schedule if recipient == "UOWN"}
    assert owner["action_due"] == utc(2026, 12, 7, 8)
    assert owner["action_overdue"] == utc(2026, 12, 8, 8)
    assert owner["action_before"] == utc(2026, 12, 4, 8)  # 3 d before Monday 09:00: Friday 09:00
    assert dict((kind, at) for kind, _, at in schedule)["action_escalation"] == utc(2026, 12, 14, 8)  # Monday + 5 d, moved to Monday
