"""Follow-up actions: the rules for creating and changing them, and when their owners are reminded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.indicators import extraction as indicators
from bot.postmortems import access
from bot.reminders import service as reminders
from bot.working_time import WorkingTime
from models import Action, ActionCategory, ActionChange, ActionPriority, ActionStatus, Postmortem
from models.db import insert_ignoring_conflicts

TITLE_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 2000
BEFORE_DUE = "action_before"
AT_DUE = "action_due"
OVERDUE = "action_overdue"
ESCALATION = "action_escalation"
REMINDER_KINDS = (BEFORE_DUE, AT_DUE, OVERDUE, ESCALATION)
REASON_MAX_CHARS = 500
# Reminders are planned days past the due date: a date near the calendar's end (9999-12-31) cannot
# have them, and no follow-up is meant to run that long.
DUE_HORIZON = timedelta(days=5 * 366)
PAST_DUE_DATE = "That date has passed. Pick today or a later date."
FAR_DUE_DATE = "Pick a date within the next five years."
CANCEL_REASON_NEEDED = "Say why it's being cancelled, so the others know."
LINE_FORMAT = "`/postmortem action @owner YYYY-MM-DD what to do`, for example `/postmortem action @ana 2026-12-15 Rotate VPN certificates`"
_LINE = re.compile(r"^<@(?P<owner>[UW][A-Z0-9]+)(?:\|[^>]*)?>\s+(?P<due>\d{4}-\d{2}-\d{2})\s+(?P<title>\S.*)$", re.DOTALL)


class ActionRefused(Exception):
    """The change is not allowed or not possible; the message says why and what to do."""


@dataclass(frozen=True)
class ActionDraft:
    title: str
    owner_id: str | None
    due_on: date | None
    description: str = ""
    priority: ActionPriority = ActionPriority.MEDIUM
    category: ActionCategory = ActionCategory.OTHER


@dataclass(frozen=True)
class Timing:
    """The reminder rule's settings (ACTION_REMINDERS, ACTION_OVERDUE_EVERY, ACTION_ESCALATE_AFTER, working hours)."""

    offsets: tuple[timedelta, ...]
    overdue_every: timedelta
    escalate_after: timedelta
    working: WorkingTime
    escalation_channel: str | None = None


def parse_line(text: str) -> ActionDraft | None:
    """`<@U123|ana> 2026-12-15 Rotate VPN certificates` (Slack escapes the mention) -> a draft, or None."""
    match = _LINE.match(text.strip())
    if not match:
        return None
    try:
        due_on = date.fromisoformat(match.group("due"))
    except ValueError:
        return None
    return ActionDraft(title=match.group("title").strip(), owner_id=match.group("owner"), due_on=due_on)


def validate(draft: ActionDraft, *, today: date) -> dict[str, str]:
    """Field -> what to fix. `today` is the creator's local date."""
    errors = {}
    title = draft.title.strip()
    if not title:
        errors["title"] = "Say what needs doing, e.g. “Rotate VPN certificates”."
    elif len(title) > TITLE_MAX_CHARS:
        errors["title"] = f"Keep the title under {TITLE_MAX_CHARS} characters (it has {len(title)}); put details in the description."
    if len(draft.description) > DESCRIPTION_MAX_CHARS:
        errors["description"] = f"Keep this under {DESCRIPTION_MAX_CHARS:,} characters (it has {len(draft.description):,})."
    if draft.owner_id is None:
        errors["owner_id"] = "Pick the person who owns this."
    if draft.due_on is None:
        errors["due_on"] = "Pick a due date."
    elif (problem := _due_date_problem(draft.due_on, today=today)) is not None:
        errors["due_on"] = problem
    return errors


def _due_date_problem(due_on: date, *, today: date) -> str | None:
    if due_on < today:
        return PAST_DUE_DATE
    if due_on > today + DUE_HORIZON:
        return FAR_DUE_DATE
    return None


def due_day(action: Action, *, working: WorkingTime) -> date:
    """The working day the action is due: a Saturday due date is due on Monday."""
    return working.working_day_from(action.due_on)


def due_moment(action: Action, *, owner_tz: str, working: WorkingTime) -> datetime:
    """Due at the start of the owner's working day on the due date (or the next working day), in the owner's zone."""
    return working.day_start(due_day(action, working=working), owner_tz)


def plan_reminders(session: Session, *, action: Action, facilitator_id: str, owner_tz: str, facilitator_tz: str,
                   timing: Timing, now: datetime) -> None:
    """The owner's reminders before, at and after the due moment, and the facilitator's escalation,
    each moved into the recipient's working hours. Times already past are skipped."""
    working = timing.working
    due = due_moment(action, owner_tz=owner_tz, working=working)
    owner = action.owner_id
    at_due = working.next_working_moment(due, owner_tz)
    before = {working.next_working_moment(due - offset, owner_tz) for offset in timing.offsets}
    # An early reminder pushed past a weekend onto the due reminder itself would only repeat it.
    planned = [reminders.Planned(BEFORE_DUE, owner, at, None) for at in sorted(before) if at < at_due]
    planned.append(reminders.Planned(AT_DUE, owner, at_due, None))
    # Overdue from the working day after the due day, so "due today" and "overdue" never arrive together.
    overdue_day = working.working_day_from(due_day(action, working=working) + timedelta(days=1))
    planned.append(reminders.Planned(OVERDUE, owner, working.day_start(overdue_day, owner_tz), None))
    escalate_at = working.next_working_moment(due + timing.escalate_after, facilitator_tz)
    # The facilitator's DM and the escalation channel's post are two reminders: a retry re-sends only what failed.
    planned += [reminders.Planned(ESCALATION, recipient, escalate_at, None)
                for recipient in (facilitator_id, timing.escalation_channel) if recipient]
    reminders.plan(session, postmortem_id=action.postmortem_id, subject_id=action.id, subject_version=action.version,
                   reminders=planned, now=now)


def plan_next_overdue(session: Session, *, action_id: int, version: int, after: datetime, owner_tz: str,
                      timing: Timing, now: datetime) -> None:
    """Overdue reminders repeat every ACTION_OVERDUE_EVERY, counted from when the last one was planned for
    (a retried send does not shift the cadence); after downtime longer than that the cadence restarts from
    now. Planned only for the action as the reminder knew it: the row lock makes a concurrent change wait, or win."""
    action = session.get(Action, action_id, with_for_update=True, populate_existing=True)
    if action is None or action.status is not ActionStatus.OPEN or action.version != version:
        return
    start = after if now < after + timing.overdue_every else now
    at = timing.working.next_working_moment(start + timing.overdue_every, owner_tz)
    reminders.plan(session, postmortem_id=action.postmortem_id, subject_id=action.id, subject_version=action.version,
                   reminders=[reminders.Planned(OVERDUE, action.owner_id, at, None)], now=now)


def create(session: Session, *, postmortem: Postmortem, draft: ActionDraft, created_by: str, dedupe_key: str,
           now: datetime) -> tuple[Action, bool]:
    access.require_open(session, postmortem, refusal=ActionRefused)
    assert draft.owner_id is not None and draft.due_on is not None
    created = insert_ignoring_conflicts(session, Action, [dict(
        postmortem_id=postmortem.id, title=draft.title.strip(), description=draft.description.strip(),
        owner_id=draft.owner_id, due_on=draft.due_on, priority=draft.priority, category=draft.category,
        status=ActionStatus.OPEN, version=0, created_by=created_by, dedupe_key=dedupe_key, created_at=now, updated_at=now,
    )]) == 1
    action = session.scalars(select(Action).where(Action.dedupe_key == dedupe_key)).one()
    if created:
        _record(session, action=action, actor_id=created_by, field="created", old="", new=action.title, now=now)
        indicators.record(session, postmortem_id=postmortem.id, text=f"{action.title}\n{action.description}", now=now)
    return action, created


def may_change(action: Action, postmortem: Postmortem, *, user_id: str) -> bool:
    return user_id in {action.owner_id, postmortem.facilitator_id}


def _record(session: Session, *, action: Action, actor_id: str, field: str, old: str, new: str, now: datetime,
            reason: str = "") -> None:
    session.add(ActionChange(action_id=action.id, actor_id=actor_id, field=field, old_value=old, new_value=new,
                             reason=reason, at=now))


def _supersede(session: Session, *, action: Action, now: datetime) -> None:
    """Every pending reminder of the action stops at once; the version makes any in flight stale."""
    action.version += 1
    action.updated_at = now
    reminders.cancel_pending(session, kinds=REMINDER_KINDS, subject_id=action.id, now=now)


def _require_open(action: Action) -> None:
    if action.status is not ActionStatus.OPEN:
        raise ActionRefused(f"This action is already {action.status.value}.")


def mark_done(session: Session, *, action: Action, postmortem: Postmortem, user_id: str, now: datetime) -> None:
    if not may_change(action, postmortem, user_id=user_id):
        raise ActionRefused("Only the owner or the facilitator can mark this done.")
    _require_open(action)
    _record(session, action=action, actor_id=user_id, field="status", old=action.status.value, new="done", now=now)
    action.status = ActionStatus.DONE
    _supersede(session, action=action, now=now)


def extend(session: Session, *, action: Action, postmortem: Postmortem, user_id: str, due_on: date, reason: str,
           today: date, now: datetime) -> None:
    if not may_change(action, postmortem, user_id=user_id):
        raise ActionRefused("Only the owner or the facilitator can change the due date.")
    _require_open(action)
    if (problem := _due_date_problem(due_on, today=today)) is not None:
        raise ActionRefused(problem)
    _record(session, action=action, actor_id=user_id, field="due_on", old=action.due_on.isoformat(),
            new=due_on.isoformat(), reason=reason, now=now)
    action.due_on = due_on
    _supersede(session, action=action, now=now)


def reassign(session: Session, *, action: Action, postmortem: Postmortem, user_id: str, new_owner: str, reason: str,
             now: datetime) -> None:
    if not may_change(action, postmortem, user_id=user_id):
        raise ActionRefused("Only the owner or the facilitator can reassign this.")
    _require_open(action)
    if new_owner == action.owner_id:
        raise ActionRefused("That person already owns this action.")
    _record(session, action=action, actor_id=user_id, field="owner_id", old=action.owner_id, new=new_owner,
            reason=reason, now=now)
    action.owner_id = new_owner
    _supersede(session, action=action, now=now)


def cancel(session: Session, *, action: Action, postmortem: Postmortem, user_id: str, reason: str, now: datetime) -> None:
    """The owner or the facilitator withdraws an open action, saying why; its reminders stop at once.
    Allowed after the post-mortem closes, like marking done: follow-ups outlive the review."""
    if not may_change(action, postmortem, user_id=user_id):
        raise ActionRefused("Only the owner or the facilitator can cancel this.")
    _require_open(action)
    reason = " ".join(reason.split())
    if not reason:
        raise ActionRefused(CANCEL_REASON_NEEDED)
    if len(reason) > REASON_MAX_CHARS:
        raise ActionRefused(f"Keep the reason under {REASON_MAX_CHARS} characters (it has {len(reason)}).")
    _record(session, action=action, actor_id=user_id, field="status", old=action.status.value, new="cancelled",
            reason=reason, now=now)
    action.status = ActionStatus.CANCELLED
    _supersede(session, action=action, now=now)


def open_of_owner(session: Session, *, owner_id: str) -> list[Action]:
    """Open actions across post-mortems, soonest (so overdue) first."""
    return list(session.scalars(
        select(Action).where(Action.owner_id == owner_id, Action.status == ActionStatus.OPEN).order_by(Action.due_on, Action.id)
    ))


def of_postmortem(session: Session, *, postmortem_id: int) -> list[Action]:
    return list(session.scalars(select(Action).where(Action.postmortem_id == postmortem_id).order_by(Action.due_on, Action.id)))
