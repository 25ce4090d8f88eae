"""Follow-up actions end to end: assign, DM the owner, remind until done, escalate, list, Home tab, close."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.actions import blocks as action_blocks
from bot.actions import service as actions
from bot.actions.service import ActionDraft, ActionRefused
from bot.notes import questionnaire
from bot.postmortems import access
from bot.postmortems import service as postmortems
from bot.reminders import senders
from bot.reminders import service as reminders
from bot.runtime import Runtime
from bot.settings import parse_duration
from bot.slack import safe_text
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed
from bot.working_time import WorkingTime, zone
from models import (
    Action,
    ActionChange,
    ActionStatus,
    Participant,
    Postmortem,
    PostmortemStatus,
    Reminder,
    ReminderStatus,
)
from models.db import single_statements, transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

MALFORMED = "I couldn't read that. Use " + actions.LINE_FORMAT + ", or `/postmortem action` alone for the form."
ACTION_GONE = "That action no longer exists."
ID_MAX = 2**31 - 1
OWNER_UNKNOWN = "I can't find that person in this workspace. Pick the owner again."
OWNER_NOT_A_PERSON = "Pick a person with an active account: reminders can't reach a bot or a deactivated account."  # the largest id the INTEGER key holds, on SQLite and PostgreSQL alike
ONLY_FACILITATOR_CLOSES = "Only the facilitator of this post-mortem can close it."
CANCEL_FORMAT = "Use `/postmortem action cancel &lt;number&gt; &lt;why&gt;`; `/postmortem actions` lists the numbers."
CHANGED_MEANWHILE = ("Someone changed this action while you had it open, so I didn't apply your change. "
                     "Close this form and open the action again to see it as it is now.")
NOT_PUBLISHED = "The report isn't published yet. Publish it with `/postmortem report` first, then close the post-mortem."
# The same one-line action typed again within this window is the same action.
RETYPE_WINDOW = timedelta(minutes=10)
EARLIEST_ZONE = "Etc/GMT+12"  # UTC-12: where the date changes last


@dataclass(frozen=True)
class Assigned:
    """A saved action; `fresh` when this request created it (and so should announce it)."""

    action_id: int
    fresh: bool
    message: Message


CHANGE_FORMS = {"extend": action_blocks.extend_form, "reassign": action_blocks.reassign_form,
                "cancel": action_blocks.cancel_form}


def _timing(runtime: Runtime) -> actions.Timing:
    settings = runtime.settings
    return actions.Timing(
        offsets=settings.action_reminder_offsets,
        overdue_every=parse_duration(settings.action_overdue_every),
        escalate_after=parse_duration(settings.action_escalate_after),
        working=WorkingTime.from_settings(settings),
        escalation_channel=settings.escalation_channel,
    )


def _today(runtime: Runtime, user_id: str) -> date:
    return runtime.clock.now().astimezone(zone(runtime.slack.user(user_id).tz)).date()


def _today_without_waiting(runtime: Runtime, user_id: str) -> date:
    """The person's date if their time zone is known; otherwise the earliest date anywhere (UTC-12),
    so a check made before an ack never waits on Slack and never refuses a date valid for them."""
    known = runtime.slack.known_user(user_id)
    return runtime.clock.now().astimezone(zone(known.tz if known else EARLIEST_ZONE)).date()


def _zone_of(runtime: Runtime, user_id: str) -> str:
    """The person's time zone, from what the bot already knows when it can: planning may run before an ack."""
    known = runtime.slack.known_user(user_id)
    return known.tz if known else runtime.slack.user(user_id).tz


def _plan(runtime: Runtime, session: Session, action: Action, postmortem: Postmortem) -> None:
    actions.plan_reminders(
        session, action=action, facilitator_id=postmortem.facilitator_id,
        owner_tz=_zone_of(runtime, action.owner_id), facilitator_tz=_zone_of(runtime, postmortem.facilitator_id),
        timing=_timing(runtime), now=runtime.clock.now(),
    )


def _learn_zones(runtime: Runtime, *, action_id: int) -> None:
    """Replanning (_plan, inside the transaction) needs the zones of the action's owner and facilitator:
    those this process does not remember (the form was opened through another worker, before a restart,
    or minutes ago) are asked of Slack now, with the database let go. Read without a lock; a concurrent reassignment's new
    owner was looked up by its own _owner_problem."""
    with single_statements(runtime.engine) as connection:
        row = connection.execute(
            select(Action.owner_id, Postmortem.facilitator_id).join(Postmortem, Postmortem.id == Action.postmortem_id)
            .where(Action.id == action_id)).first()
    for person in (row or ()):
        runtime.slack.user(person)  # remembered: no call; not, or no longer: asked now, not inside


def _owner_problem(runtime: Runtime, owner_id: str) -> str | None:
    """Why `owner_id` cannot own an action, if they cannot: the reminders need a person's active account
    (and Slack's `user_not_found` is a wrong pick, which sending again would not fix)."""
    try:
        owner = runtime.slack.user(owner_id)
    except SlackCallFailed as failure:
        if failure.error != "user_not_found":
            raise
        return OWNER_UNKNOWN
    return OWNER_NOT_A_PERSON if owner.is_bot or owner.deleted else None


def form(runtime: Runtime, *, user_id: str, channel_id: str = "", postmortem_id: int | None = None,
         title: str = "") -> dict[str, Any] | Message:
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id,
                           their_open_postmortems=True, their_zone=True)
    with transaction(runtime.sessions) as session:
        postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
        choices = [] if postmortem else access.open_postmortems_of(session, runtime, user_id=user_id)
        if postmortem is None and not choices:
            return Message(text=access.NOT_FOUND)
        if postmortem is not None and postmortem.status is PostmortemStatus.CLOSED:
            return Message(text=access.CLOSED)
        return action_blocks.form(postmortem_id=postmortem.id if postmortem else None, choices=choices, title=title,
                                  today=_today(runtime, user_id))


def check(runtime: Runtime, *, user_id: str, draft: ActionDraft) -> dict[str, str]:
    """What to fix in a draft (field -> text), before anything is saved; asks nothing of Slack."""
    return actions.validate(draft, today=_today_without_waiting(runtime, user_id))


def line_key(*, postmortem_id: int, author_id: str, draft: ActionDraft, now: datetime) -> tuple[str, str]:
    """The one-line command carries no id of its own: it is what was asked for (post-mortem, author,
    owner, due date, title up to case and spacing) within RETYPE_WINDOW. Returns the key of the
    current window and of the one before, so a retype across a window's edge is still the same."""
    title = " ".join(unicodedata.normalize("NFKC", draft.title).casefold().split())
    digest = hashlib.sha256(f"{author_id}\n{draft.owner_id}\n{draft.due_on}\n{title}".encode()).hexdigest()[:32]
    window = int(now.timestamp() // RETYPE_WINDOW.total_seconds())
    return f"line:{postmortem_id}:{digest}:{window}", f"line:{postmortem_id}:{digest}:{window - 1}"


def create(runtime: Runtime, *, user_id: str, draft: ActionDraft, dedupe_key: str | None = None, channel_id: str = "",
           postmortem_id: int | None = None) -> dict[str, str] | Assigned:
    """Save the action and plan its reminders in one transaction; `announce` tells the owner and channel.

    Without a `dedupe_key` (the one-line command) the key is made from what was asked for."""
    errors = actions.validate(draft, today=_today(runtime, user_id))
    if not errors and draft.owner_id is not None and (problem := _owner_problem(runtime, draft.owner_id)):
        errors["owner_id"] = problem
    if errors:
        return errors
    now = runtime.clock.now()
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        located = access.locate(session, runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
        if located is None:
            return {"title": access.NOT_FOUND}
        found_id, people = located.id, {located.facilitator_id, draft.owner_id}
    # Planning needs their time zones: ask Slack (which may be slow) before the writing transaction.
    for person in people:
        runtime.slack.user(str(person))
    with transaction(runtime.sessions) as session:
        postmortem = session.get(Postmortem, found_id)
        assert postmortem is not None
        if dedupe_key is None:
            dedupe_key, previous_key = line_key(postmortem_id=postmortem.id, author_id=user_id, draft=draft, now=now)
            earlier = session.scalars(select(Action).where(Action.dedupe_key == previous_key)).one_or_none()
        else:
            earlier = None
        if earlier is not None:
            action, created = earlier, False
        else:
            try:
                action, created = actions.create(session, postmortem=postmortem, draft=draft, created_by=user_id,
                                                 dedupe_key=dedupe_key, now=now)
            except ActionRefused as refusal:
                return {"title": str(refusal)}
        if created:
            _plan(runtime, session, action, postmortem)
        verb = "Assigned" if created else "Already assigned (you sent this a moment ago)"
        return Assigned(action_id=action.id, fresh=created, message=Message(
            text=f":white_check_mark: {verb} to <@{action.owner_id}>, due {action.due_on.isoformat()}: {safe_text.mrkdwn_line(action.title)}"))


def announce(runtime: Runtime, *, action_id: int, assigned_by: str) -> None:
    """Tell a new owner, and the review channel, about an action just assigned to them."""
    with transaction(runtime.sessions) as session:
        loaded = _load(session, action_id=action_id)
    if loaded is not None:
        _announce(runtime, *loaded, assigned_by=assigned_by)


def _announce(runtime: Runtime, action: Action, postmortem: Postmortem, *, assigned_by: str) -> None:
    """The owner's DM and the channel's one-line notice; a Slack failure here loses nothing stored."""
    today = _today(runtime, action.owner_id)
    dm = action_blocks.assignment(action, postmortem, assigned_by=assigned_by, today=today)
    try:
        runtime.slack.post_message(channel=action.owner_id, text=dm.text, blocks=dm.blocks)
        if postmortem.channel_id and postmortem.status is PostmortemStatus.OPEN:
            notice = action_blocks.channel_notice(action, today=today)
            runtime.slack.post_message(channel=postmortem.channel_id, text=notice.text, blocks=notice.blocks)
    except SlackCallFailed as failure:
        log.warning("could not announce action %s: %s", action.id, failure)


def _load(session: Session, *, action_id: int) -> tuple[Action, Postmortem] | None:
    action = session.get(Action, action_id)
    if action is None:
        return None
    postmortem = session.get(Postmortem, action.postmortem_id)
    assert postmortem is not None
    return action, postmortem


def _reading_again_if_changed(change: Callable[[], T]) -> T:
    """Run `change` (a transaction on one action); if another change committed first (version check),
    run it once more on what that left: it then refuses truthfully ("already done") or applies."""
    try:
        return change()
    except StaleDataError:
        return change()


def mark_done(runtime: Runtime, *, user_id: str, action_id: int) -> Message:
    return _reading_again_if_changed(lambda: _mark_done(runtime, user_id=user_id, action_id=action_id))


def _mark_done(runtime: Runtime, *, user_id: str, action_id: int) -> Message:
    with transaction(runtime.sessions) as session:
        loaded = _load(session, action_id=action_id)
        if loaded is None:
            return Message(text=ACTION_GONE)
        action, postmortem = loaded
        try:
            actions.mark_done(session, action=action, postmortem=postmortem, user_id=user_id, now=runtime.clock.now())
        except ActionRefused as refusal:
            return Message(text=str(refusal))
        return Message(text=f":white_check_mark: Done: {safe_text.mrkdwn_line(action.title)}. No more reminders for it.")


def change_form(runtime: Runtime, *, user_id: str, action_id: int, kind: str) -> dict[str, Any] | Message:
    """The extend, reassign or cancel modal, for the owner or the facilitator of an open action."""
    with transaction(runtime.sessions) as session:
        loaded = _load(session, action_id=action_id)
        if loaded is None:
            return Message(text=ACTION_GONE)
        action, postmortem = loaded
        if not actions.may_change(action, postmortem, user_id=user_id):
            return Message(text="Only the owner or the facilitator can change this action.")
        if action.status is not ActionStatus.OPEN:
            return Message(text=f"This action is already {action.status.value}.")
        form = CHANGE_FORMS[kind](action)
        people = (action.owner_id, postmortem.facilitator_id)
    # Learn the zones the submission replans with now, so that it need not wait on Slack before its ack.
    for person in people:
        runtime.slack.user(person)
    return form


def _change(runtime: Runtime, *, user_id: str, action_id: int, read_version: int | None, field: str,
            apply: Callable[[Session, Action, Postmortem], None]) -> dict[str, str] | tuple[Action, Postmortem]:
    """Apply one change to an open action and replan its reminders; refusals come back keyed by `field`.
    The change applies only to the version the person saw (`read_version`, from the form): of two changes
    made at once, one wins and the other is refused, with nothing of it applied or planned."""
    _learn_zones(runtime, action_id=action_id)
    try:
        with transaction(runtime.sessions) as session:
            loaded = _load(session, action_id=action_id)
            if loaded is None:
                return {field: ACTION_GONE}
            action, postmortem = loaded
            if read_version is not None and action.version != read_version:
                return {field: CHANGED_MEANWHILE}
            try:
                apply(session, action, postmortem)
            except ActionRefused as refusal:
                return {field: str(refusal)}
            _plan(runtime, session, action, postmortem)
            return action, postmortem
    except StaleDataError:
        return {field: CHANGED_MEANWHILE}


def extend(runtime: Runtime, *, user_id: str, action_id: int, due_on: date | None, reason: str,
           read_version: int | None = None) -> dict[str, str] | str:
    if due_on is None:
        return {"due_on": "Pick the new due date."}
    changed = _change(runtime, user_id=user_id, action_id=action_id, read_version=read_version, field="due_on",
                      apply=lambda session, action, pm: actions.extend(
                          session, action=action, postmortem=pm, user_id=user_id, due_on=due_on, reason=reason,
                          today=_today_without_waiting(runtime, user_id), now=runtime.clock.now()))
    if isinstance(changed, dict):
        return changed
    return f":white_check_mark: New due date {due_on.isoformat()} for {safe_text.mrkdwn_line(changed[0].title)}."


def reassign(runtime: Runtime, *, user_id: str, action_id: int, new_owner: str | None, reason: str,
             read_version: int | None = None) -> dict[str, str] | str:
    if new_owner is None:
        return {"owner_id": "Pick the new owner."}
    if problem := _owner_problem(runtime, new_owner):
        return {"owner_id": problem}
    changed = _change(runtime, user_id=user_id, action_id=action_id, read_version=read_version, field="owner_id",
                      apply=lambda session, action, pm: actions.reassign(
                          session, action=action, postmortem=pm, user_id=user_id, new_owner=new_owner, reason=reason,
                          now=runtime.clock.now()))
    if isinstance(changed, dict):
        return changed
    return f":white_check_mark: <@{new_owner}> owns {safe_text.mrkdwn_line(changed[0].title)} now; I'm telling them."


def cancel(runtime: Runtime, *, user_id: str, action_id: int, reason: str) -> dict[str, str] | str:
    """Cancel an action and stop its reminders; the caller answers, then calls `announce_cancellation`."""
    return _reading_again_if_changed(lambda: _cancel(runtime, user_id=user_id, action_id=action_id, reason=reason))


def _cancel(runtime: Runtime, *, user_id: str, action_id: int, reason: str) -> dict[str, str] | str:
    with transaction(runtime.sessions) as session:
        loaded = _load(session, action_id=action_id)
        if loaded is None:
            return {"reason": ACTION_GONE}
        action, postmortem = loaded
        try:
            actions.cancel(session, action=action, postmortem=postmortem, user_id=user_id, reason=reason,
                           now=runtime.clock.now())
        except ActionRefused as refusal:
            return {"reason": str(refusal)}
        return f":no_entry_sign: Cancelled: {safe_text.mrkdwn_line(action.title)}. No more reminders for it."


def is_cancel_command(text: str) -> bool:
    """`cancel …` is never a one-line assignment, which starts with the owner's mention."""
    words = text.split(maxsplit=1)
    return bool(words) and words[0].lower() == "cancel"


def cancel_by_command(runtime: Runtime, *, user_id: str, text: str) -> tuple[str, int | None]:
    """`/postmortem action cancel <number> <why>`: the answer, and the action cancelled (to announce) if any."""
    words = text.split(maxsplit=2)
    # ASCII digits only (`str.isdigit` takes "²", which `int` refuses), and no more than an id can be:
    # the database refuses a number past its integer range instead of finding nothing.
    number = re.fullmatch(r"#?([0-9]+)", words[1]) if len(words) > 1 else None
    if number is None:
        return CANCEL_FORMAT, None
    digits = number.group(1).lstrip("0") or "0"
    if len(digits) > len(str(ID_MAX)) or int(digits) > ID_MAX:
        return ACTION_GONE, None
    action_id = int(digits)
    outcome = cancel(runtime, user_id=user_id, action_id=action_id, reason=words[2] if len(words) > 2 else "")
    if isinstance(outcome, dict):
        refusal = outcome["reason"]
        return (f"{refusal} {CANCEL_FORMAT}" if refusal == actions.CANCEL_REASON_NEEDED else refusal), None
    return outcome, action_id


def announce_cancellation(runtime: Runtime, *, action_id: int) -> None:
    """The review channel's one-line notice; a Slack failure here loses nothing stored."""
    with transaction(runtime.sessions) as session:
        loaded = _load(session, action_id=action_id)
        if loaded is None:
            return
        action, postmortem = loaded
        change = session.scalars(select(ActionChange).where(
            ActionChange.action_id == action.id, ActionChange.new_value == ActionStatus.CANCELLED.value)
            .order_by(ActionChange.id.desc())).first()
        if change is None or not postmortem.channel_id or postmortem.status is not PostmortemStatus.OPEN:
            return
        notice = action_blocks.cancelled_notice(action, cancelled_by=change.actor_id, reason=change.reason)
        channel_id = postmortem.channel_id
    try:
        runtime.slack.post_message(channel=channel_id, text=notice.text, blocks=notice.blocks)
    except SlackCallFailed as failure:
        log.warning("could not announce the cancellation of action %s: %s", action_id, failure)


def mine(runtime: Runtime, *, user_id: str) -> Message:
    access.ask_slack_first(runtime, user_id=user_id, their_zone=True)
    with transaction(runtime.sessions) as session:
        owned = actions.open_of_owner(session, owner_id=user_id)
        facilitators = _facilitators(session, owned)
        return action_blocks.listing(owned, heading="Your open follow-ups, most urgent first", today=_today(runtime, user_id),
                                     viewer_id=user_id, facilitator_ids=facilitators)


def of_channel(runtime: Runtime, *, user_id: str, channel_id: str) -> Message:
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id, their_zone=True)
    with transaction(runtime.sessions) as session:
        postmortem = access.in_channel(session, runtime, channel_id=channel_id, user_id=user_id)
        if postmortem is None:
            return Message(text=access.NOT_FOUND)
        # Cancelled actions leave the lists; the report still records them.
        listed = [a for a in actions.of_postmortem(session, postmortem_id=postmortem.id) if a.status is not ActionStatus.CANCELLED]
        return action_blocks.listing(listed, heading=f"Follow-ups of {safe_text.mrkdwn_line(postmortem.title)}", today=_today(runtime, user_id),
                                     viewer_id=user_id, facilitator_ids={postmortem.id: postmortem.facilitator_id})


def _facilitators(session: Session, listed: list[Action]) -> dict[int, str]:
    ids = {action.postmortem_id for action in listed}
    if not ids:
        return {}
    return dict(session.execute(select(Postmortem.id, Postmortem.facilitator_id).where(Postmortem.id.in_(ids))).tuples().all())


def home(runtime: Runtime, *, user_id: str) -> dict[str, Any]:
    access.ask_slack_first(runtime, user_id=user_id, their_zone=True)
    with transaction(runtime.sessions) as session:
        owned = actions.open_of_owner(session, owner_id=user_id)
        mine_ = list(session.scalars(
            select(Postmortem).join(Participant).where(Participant.user_id == user_id).order_by(Postmortem.created_at.desc())
        ))
        # Two aggregate queries, not two per post-mortem: the Home tab costs the same for 1 or 100.
        open_ids = [p.id for p in mine_ if p.status is PostmortemStatus.OPEN]
        settled = (questionnaire.answered_by(session, user_id=user_id, postmortem_ids=open_ids)
                   | postmortems.published_among(session, postmortem_ids=open_ids))
        unanswered = [p for p in mine_ if p.status is PostmortemStatus.OPEN and p.id not in settled]
        channels = dict(session.execute(select(Postmortem.id, Postmortem.channel_id).where(
            Postmortem.id.in_({a.postmortem_id for a in owned} or {0}))).tuples().all())
        return action_blocks.home(actions=owned, unanswered=unanswered, postmortems=mine_, today=_today(runtime, user_id),
                                  channels=channels)


def close(runtime: Runtime, *, user_id: str, channel_id: str) -> Message:
    """Facilitator only, once the report is published: archive the channel; open actions keep being tracked."""
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.in_channel(session, runtime, channel_id=channel_id, user_id=user_id)
        if postmortem is None:
            return Message(text=access.NOT_FOUND)
        if postmortem.facilitator_id != user_id:
            return Message(text=ONLY_FACILITATOR_CLOSES)
        if not postmortems.is_published(session, postmortem_id=postmortem.id):
            return Message(text=NOT_PUBLISHED)
        # Closing is a claim: of two closes at once (or one typed again later) only the one that
        # changes the status announces and archives; the other hears it is closed.
        closed = session.execute(update(Postmortem).where(Postmortem.id == postmortem.id,
                                                          Postmortem.status == PostmortemStatus.OPEN)
                                 .values(status=PostmortemStatus.CLOSED).execution_options(synchronize_session=False))
        if closed.rowcount != 1:
            return Message(text=access.CLOSED)
        still_open = [a for a in actions.of_postmortem(session, postmortem_id=postmortem.id) if a.status is ActionStatus.OPEN]
        title, review_channel = postmortem.title, postmortem.channel_id
    tracked = "\n".join(f"• {safe_text.mrkdwn_line(a.title)} — <@{a.owner_id}>, due {a.due_on.isoformat()}" for a in still_open)
    text = f":lock: *{safe_text.mrkdwn_line(title)}* is closed and read-only. Thank you all."
    if tracked:
        text += f"\nThese follow-ups stay open and their owners keep getting reminders until they're done:\n{tracked}"
    if review_channel:
        runtime.slack.post_message(channel=review_channel, text=text)
        runtime.slack.archive_channel(channel=review_channel)
    return Message(text=text)


# -- reminder senders (registered in bot.reminders.senders) --------------------------------------------------------

def _current(session: Session, reminder: Reminder) -> tuple[Action, Postmortem] | None:
    loaded = _load(session, action_id=reminder.subject_id)
    if loaded is None:
        return None
    action, _ = loaded
    if action.status is not ActionStatus.OPEN or action.version != reminder.subject_version:
        return None
    return loaded


@senders.sends(actions.BEFORE_DUE, actions.AT_DUE, actions.OVERDUE)
def send_owner_reminder(runtime: Runtime, reminder: Reminder) -> ReminderStatus | reminders.SentThen:
    with transaction(runtime.sessions) as session:
        loaded = _current(session, reminder)
        if loaded is None:
            return ReminderStatus.SKIPPED
        action, postmortem = loaded
    # The next overdue step needs the owner's zone: looked up before sending, so a failure is retried like a send.
    owner_tz = runtime.slack.user(action.owner_id).tz if reminder.kind == actions.OVERDUE else None
    message = action_blocks.reminder(action, postmortem, kind=reminder.kind)
    senders.post_once(runtime, reminder, message)
    if owner_tz is None:
        return ReminderStatus.SENT
    timing, now = _timing(runtime), runtime.clock.now()
    return reminders.SentThen(lambda session: actions.plan_next_overdue(
        session, action_id=action.id, version=reminder.subject_version, after=reminder.planned_for, owner_tz=owner_tz,
        timing=timing, now=now))


@senders.sends(actions.ESCALATION)
def send_escalation(runtime: Runtime, reminder: Reminder) -> ReminderStatus:
    """To the facilitator, or to ESCALATION_CHANNEL: each is its own reminder (see actions.plan_reminders)."""
    with transaction(runtime.sessions) as session:
        loaded = _current(session, reminder)
        if loaded is None:
            return ReminderStatus.SKIPPED
        action, postmortem = loaded
    message = action_blocks.escalation(action, postmortem)
    senders.post_once(runtime, reminder, message)
    return ReminderStatus.SENT
