"""Monitoring flows: reading an alert, telling people about a sighting, the verdict buttons, the
`/postmortem monitor` command, and the check-ins after the close (planned, sent, answered)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update

from bot.intel import misp
from bot.monitoring import blocks, service
from bot.monitoring.matcher import alert_text
from bot.monitoring.watchlist import Watchlist
from bot.postmortems import access
from bot.reminders import senders
from bot.runtime import Runtime
from bot.settings import parse_duration
from bot.slack import safe_text
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed
from models import CheckInAnswer, MispPush, Postmortem, PostmortemStatus, Reminder, ReminderStatus, Sighting, Verdict
from models.db import transaction

log = logging.getLogger(__name__)

SIGHTING_GONE = "I can't find that sighting any more."
ONLY_FACILITATOR = "Only the facilitator of this post-mortem can change its monitoring."
# Longer is a typo more often than a plan (and far enough out, no date at all): a year, renewable.
LONGEST_WINDOW = timedelta(days=365)
MONITOR_USAGE = ("Use `/postmortem monitor 30d` to watch for that long from now (up to 365d), or "
                 "`/postmortem monitor off` to stop.")
CHECKIN_GONE = "I can't find that check-in any more."
VERDICT_LABELS = {Verdict.RECURRENCE: "a recurrence", Verdict.NOT_RELATED: "not related"}
# Alert message subtypes that carry no new alert (deletions, joins...): only plain and bot messages and edits count.
ALERT_SUBTYPES = {None, "bot_message", "message_changed"}


# -- alerts ----------------------------------------------------------------------------------------------
def read_alert(runtime: Runtime, *, watchlist: Watchlist, channel_id: str, event: dict[str, Any]) -> list[int]:
    """Store the sightings an alert holds; returns the notices to send at once (see dispatcher.send_now)."""
    if channel_id not in runtime.settings.monitored_channels or event.get("subtype") not in ALERT_SUBTYPES:
        return []
    # An edited alert is read again as it now reads; the sighting key keeps what it showed before from counting twice.
    message = (event.get("message") or {}) if event.get("subtype") == "message_changed" else event
    hits = watchlist.matcher(runtime).find(alert_text(message))
    if not hits or not message.get("ts"):
        return []
    # An edit of an alert posted before a post-mortem's window (a SIEM bot marking the very alert that started
    # the incident as acknowledged) is not the attacker coming back.
    edited_since = _posted_at(str(message["ts"])) if event.get("subtype") == "message_changed" else None
    with transaction(runtime.sessions) as session:
        new = service.record_sightings(session, hits=hits, channel_id=channel_id, message_ts=str(message["ts"]),
                                       posted_at=edited_since,
                                       now=runtime.clock.now(), period=runtime.settings.monitor_period,
                                       escalation_channel=runtime.settings.escalation_channel,
                                       to_misp=misp.configured(runtime.settings))
    log.info("alert in %s matched %d indicator(s), %d new sighting(s)", channel_id, len(hits), len(new))
    return [notice for sighting in new for notice in sighting.notices]


def _posted_at(ts: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ts), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


@senders.sends(service.SIGHTING_NOTICE)
def send_sighting_notice(runtime: Runtime, reminder: Reminder) -> ReminderStatus:
    """Sender of SIGHTING_NOTICE: the facilitator's DM or the channel's post, with the verdict buttons. A
    post for a review channel closed (archived) since the sighting goes to ESCALATION_CHANNEL instead."""
    recipient = reminder.recipient_id
    with transaction(runtime.sessions) as session:
        sighting = session.get(Sighting, reminder.subject_id)
        if sighting is None:
            return ReminderStatus.SKIPPED
        postmortem = session.get_one(Postmortem, sighting.postmortem_id)
        title = postmortem.title
        if recipient == postmortem.channel_id and postmortem.status is not PostmortemStatus.OPEN:
            recipient = runtime.settings.escalation_channel or ""
    if not recipient:
        return ReminderStatus.SKIPPED
    try:
        permalink: str | None = runtime.slack.permalink(channel=sighting.channel_id, ts=sighting.message_ts)
    except SlackCallFailed as failure:
        if failure.error not in {"message_not_found", "channel_not_found"}:
            raise
        permalink = None
    message = blocks.sighting(title=title, kind=sighting.kind, value=sighting.value, channel_id=sighting.channel_id,
                              permalink=permalink, seen_at=sighting.seen_at, sighting_id=sighting.id)
    senders.post_once(runtime, reminder, message, channel=recipient)
    return ReminderStatus.SENT


@senders.sends(service.MISP_SIGHTING)
def send_misp_sighting(runtime: Runtime, reminder: Reminder) -> ReminderStatus:
    """Sender of MISP_SIGHTING: the hit as a MISP sighting on the attribute publishing pushed. Skipped while
    the post-mortem's indicators are not in MISP (not published yet); the STIX bundle still reports it. Skipped
    too once judged not related (a retry after a MISP outage may come after the verdict), as in the bundle."""
    with transaction(runtime.sessions) as session:
        sighting = session.get(Sighting, reminder.subject_id)
        pushed = session.scalar(select(MispPush.pushed_at).where(MispPush.postmortem_id == reminder.postmortem_id))
        if sighting is None or pushed is None or not misp.configured(runtime.settings) \
                or sighting.verdict is Verdict.NOT_RELATED:
            return ReminderStatus.SKIPPED
        team_id = session.get_one(Postmortem, sighting.postmortem_id).team_id
        record = service.as_record(sighting)
    try:
        misp.add_sightings(runtime.settings, team_id=team_id, postmortem_id=reminder.postmortem_id, sightings=[record])
    except misp.MispFailed as failure:
        raise senders.TryLater(str(failure)) from failure
    return ReminderStatus.SENT


@dataclass(frozen=True)
class Judged:
    """A verdict button's answer. `settled`: a verdict is stored and nothing is left to press, so the answer may
    replace the notice; otherwise (a refusal, a channel still archived) it goes to the presser alone, and a
    notice in a channel keeps its buttons for everyone else."""

    message: Message
    settled: bool


def judge(runtime: Runtime, *, user_id: str, sighting_id: int, verdict: Verdict) -> Judged:
    """A verdict button. Only the first click counts; a recurrence reopens a closed post-mortem and its channel.
    A later "Recurrence: reopen" on a post-mortem reopened so unarchives its channel if that failed before."""
    now = runtime.clock.now()
    access.ask_slack_first(runtime, user_id=user_id, sighting_id=sighting_id)
    with transaction(runtime.sessions) as session:
        sighting = session.get(Sighting, sighting_id)
        postmortem = session.get(Postmortem, sighting.postmortem_id) if sighting is not None else None
        if sighting is None or postmortem is None:
            return Judged(Message(text=SIGHTING_GONE), settled=False)
        if user_id != postmortem.facilitator_id and not access.is_participant(runtime, postmortem, user_id=user_id):
            return Judged(Message(text=access.NOT_FOUND), settled=False)
        decided = service.decide(session, sighting_id=sighting_id, verdict=verdict, user_id=user_id, now=now)
        reopened = decided and verdict is Verdict.RECURRENCE and session.execute(
            update(Postmortem).where(Postmortem.id == postmortem.id, Postmortem.status == PostmortemStatus.CLOSED)
            .values(status=PostmortemStatus.OPEN).execution_options(synchronize_session=False)).rowcount == 1
        if not decided:
            session.refresh(sighting)
            session.refresh(postmortem)
        title, channel_id, is_open = postmortem.title, postmortem.channel_id, postmortem.status is PostmortemStatus.OPEN
        already = Message(text=f"<@{sighting.decided_by}> already marked this sighting as "
                               f"{VERDICT_LABELS.get(sighting.verdict, 'decided')}.")
    if not decided:
        if verdict is Verdict.RECURRENCE and sighting.verdict is Verdict.RECURRENCE and is_open and channel_id:
            failed = _unarchive(runtime, reopened_by=sighting.decided_by or user_id, title=title, channel_id=channel_id)
            if failed:
                return Judged(failed, settled=False)
        return Judged(already, settled=True)
    if verdict is Verdict.NOT_RELATED:
        return Judged(Message(text=f"Recorded as not related (a false positive), by <@{user_id}>."), settled=True)
    if reopened and channel_id:
        failed = _unarchive(runtime, reopened_by=user_id, title=title, channel_id=channel_id)
        if failed:
            return Judged(failed, settled=False)
    state = "reopened" if reopened else "still open"
    return Judged(Message(text=f"Recorded as a recurrence, by <@{user_id}>. *{safe_text.mrkdwn_line(title)}* is {state}."),
                  settled=True)


def _unarchive(runtime: Runtime, *, reopened_by: str, title: str, channel_id: str) -> Message | None:
    """Unarchive a reopened post-mortem's channel and say so there (only the call that unarchived it does).
    Returns what to answer when Slack refused: the reopen is saved, the channel is not open yet. Every
    failure after the verdict is stored is answered here, so the listener's failure message ("didn't go
    through") is only ever said of a verdict that was not stored."""
    try:
        if not runtime.slack.unarchive_channel(channel=channel_id):
            return None
    except SlackCallFailed as failure:
        log.warning("could not unarchive %s: %s", channel_id, failure)
        return Message(text=f"Recorded as a recurrence: *{safe_text.mrkdwn_line(title)}* is reopened, but Slack did "
                            f"not unarchive its channel (`{failure.error}`): press *Recurrence: reopen* again in a minute.")
    try:
        runtime.slack.post_message(channel=channel_id, text=(
            f":rotating_light: <@{reopened_by}> reopened *{safe_text.mrkdwn_line(title)}*: one of its indicators showed "
            "up again in an alert. Notes, answers and actions are open again."))
    except SlackCallFailed as failure:  # the reopen and the unarchive stand; only the channel's heads-up is lost
        log.warning("could not tell %s it was reopened: %s", channel_id, failure)
    return None


# -- the window ------------------------------------------------------------------------------------------
def monitor(runtime: Runtime, *, user_id: str, text: str, channel_id: str = "", postmortem_id: int | None = None) -> Message:
    """`/postmortem monitor [30d|off]` in the review channel, or the report draft's choice (by post-mortem id):
    without a word, what is watched until when."""
    word, now = text.strip().lower(), runtime.clock.now()
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
        if postmortem is None:
            return Message(text=access.NOT_FOUND)
        period = runtime.settings.monitor_period
        if word:
            if postmortem.facilitator_id != user_id:
                return Message(text=ONLY_FACILITATOR)
            if word == "off":
                service.set_window(session, postmortem_id=postmortem.id, ends_at=now, user_id=user_id, stopped=True, now=now)
            else:
                try:
                    length = parse_duration(word)
                except (ValueError, OverflowError):
                    return Message(text=MONITOR_USAGE)
                if not timedelta(0) < length <= LONGEST_WINDOW:
                    return Message(text=MONITOR_USAGE)
                service.set_window(session, postmortem_id=postmortem.id, ends_at=now + length, user_id=user_id,
                                   stopped=False, now=now)
        window = service.window(session, postmortem_id=postmortem.id, period=period)
    channels = " ".join(f"<#{channel}>" for channel in sorted(runtime.settings.monitored_channels))
    watched = f"Alert channels: {channels}." if channels else \
        "No alert channel is set up yet: ask whoever runs the bot to list them in MONITOR_CHANNELS."
    return Message(text=f"{blocks.window_line(window, now=now)} {watched}")


# -- check-ins -------------------------------------------------------------------------------------------
def after_close(runtime: Runtime, *, channel_id: str) -> None:
    """Plan the check-ins once the post-mortem of this review channel is closed (by the first close only)."""
    with transaction(runtime.sessions) as session:
        postmortem = session.scalars(select(Postmortem).where(Postmortem.channel_id == channel_id)).one_or_none()
        if postmortem is None or postmortem.status is not PostmortemStatus.CLOSED:
            return
        service.plan_checkins(session, postmortem=postmortem, offsets=runtime.settings.checkin_offsets,
                              now=runtime.clock.now())


@senders.sends(service.CHECKIN)
def send_checkin(runtime: Runtime, reminder: Reminder) -> ReminderStatus:
    """Sender of CHECKIN. A post-mortem reopened meanwhile is being worked on again: no check-in then."""
    with transaction(runtime.sessions) as session:
        postmortem = session.get(Postmortem, reminder.postmortem_id)
        if postmortem is None or postmortem.status is not PostmortemStatus.CLOSED:
            return ReminderStatus.SKIPPED
        message = blocks.checkin(title=postmortem.title, reminder_id=reminder.id)
    senders.post_once(runtime, reminder, message)
    return ReminderStatus.SENT


def _checkin(session: Any, *, reminder_id: int, user_id: str) -> tuple[Reminder, Postmortem] | None:
    reminder = session.get(Reminder, reminder_id)
    if reminder is None or reminder.kind != service.CHECKIN or reminder.recipient_id != user_id:
        return None
    return reminder, session.get_one(Postmortem, reminder.postmortem_id)


def all_quiet(runtime: Runtime, *, user_id: str, reminder_id: int) -> Message:
    with transaction(runtime.sessions) as session:
        found = _checkin(session, reminder_id=reminder_id, user_id=user_id)
        if found is None:
            return Message(text=CHECKIN_GONE)
        reminder, postmortem = found
        stored = service.answer_checkin(session, reminder_id=reminder.id, postmortem_id=postmortem.id,
                                        answer=CheckInAnswer.ALL_QUIET, details="", user_id=user_id,
                                        now=runtime.clock.now())
    if stored is None:
        return Message(text="You already answered this check-in; your first answer stands.")
    return Message(text=f"Thanks: *{safe_text.mrkdwn_line(postmortem.title)}* stays quiet. Noted in its report.")


def something_back_form(runtime: Runtime, *, user_id: str, reminder_id: int) -> dict[str, Any] | Message:
    with transaction(runtime.sessions) as session:
        found = _checkin(session, reminder_id=reminder_id, user_id=user_id)
        if found is None:
            return Message(text=CHECKIN_GONE)
        return blocks.something_back_form(title=found[1].title, reminder_id=reminder_id)


def something_back(runtime: Runtime, *, user_id: str, reminder_id: int, details: str) -> str:
    with transaction(runtime.sessions) as session:
        found = _checkin(session, reminder_id=reminder_id, user_id=user_id)
        if found is None:
            return CHECKIN_GONE
        reminder, postmortem = found
        stored = service.answer_checkin(session, reminder_id=reminder.id, postmortem_id=postmortem.id,
                                        answer=CheckInAnswer.SOMETHING_BACK, details=details, user_id=user_id,
                                        now=runtime.clock.now())
    if stored is None:
        return "You already answered this check-in; your first answer stands."
    return (f"Recorded as a recurrence of *{safe_text.mrkdwn_line(postmortem.title)}*: it shows in the report's "
            "Monitoring section and counts on the scorecard.")
