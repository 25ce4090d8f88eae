"""The reminder dispatcher: wakes every SCHEDULER_TICK_SECONDS (APScheduler), sends what is due."""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from bot import action_flows, actions, meeting_flows, meetings, reminders
from bot.runtime import Runtime
from bot.slack_gateway import SlackCallFailed
from models import Reminder, ReminderStatus
from models.db import transaction

log = logging.getLogger(__name__)

BATCH_SIZE = 200

# kind -> sender. A sender posts the reminder and returns SENT (or SentThen, to plan the chain's next step),
# or SKIPPED when it no longer makes sense.
Sender = Callable[[Runtime, Reminder], ReminderStatus | reminders.SentThen]
SENDERS: dict[str, Sender] = {
    meetings.CHANNEL_REMINDER: meeting_flows.send_channel_reminder,
    meetings.DM_REMINDER: meeting_flows.send_dm_reminder,
    actions.BEFORE_DUE: action_flows.send_owner_reminder,
    actions.AT_DUE: action_flows.send_owner_reminder,
    actions.OVERDUE: action_flows.send_owner_reminder,
    actions.ESCALATION: action_flows.send_escalation,
}


@dataclass(frozen=True)
class DispatchReport:
    counts: dict[str, int]

    def __getitem__(self, status: str) -> int:
        return self.counts.get(status, 0)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_due(runtime: Runtime, *, worker_id: str, senders: dict[str, Sender] = SENDERS) -> DispatchReport:
    """Send every reminder due now that this worker manages to claim. One failure never stops the rest."""
    counts: Counter[str] = Counter()
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        counts["abandoned"] += reminders.fail_stale_claims(session, now=now)
        ids = reminders.due_ids(session, now=now, limit=BATCH_SIZE)
    for reminder_id in ids:
        with transaction(runtime.sessions) as session:
            if not reminders.claim(session, reminder_id=reminder_id, worker_id=worker_id, now=now):
                counts["lost_claim"] += 1
                continue
            reminder = session.get(Reminder, reminder_id)
            assert reminder is not None
        counts[_send_one(runtime, reminder, senders).value] += 1
    return DispatchReport({status: count for status, count in counts.items() if count})


def _send_one(runtime: Runtime, reminder: Reminder, senders: dict[str, Sender]) -> ReminderStatus:
    now = runtime.clock.now()
    plan_next = None
    if reminder.expires_at is not None and now >= reminder.expires_at:
        status, error = ReminderStatus.SKIPPED, "due while the bot was down; no longer useful"
    else:
        try:
            outcome, error = senders[reminder.kind](runtime, reminder), None
        except SlackCallFailed as failure:
            log.warning("reminder %s (%s) failed: %s", reminder.id, reminder.kind, failure)
            with transaction(runtime.sessions) as session:
                return reminders.retry_or_fail(session, reminder=reminder, error=failure.error, now=now)
        except Exception:  # a bug in one sender must not stop the others
            log.exception("reminder %s (%s) failed", reminder.id, reminder.kind)
            with transaction(runtime.sessions) as session:
                return reminders.retry_or_fail(session, reminder=reminder, error="internal error", now=now)
        if isinstance(outcome, reminders.SentThen):
            status, plan_next = ReminderStatus.SENT, outcome.plan_next
        else:
            status = outcome
    with transaction(runtime.sessions) as session:
        if reminders.finish(session, reminder_id=reminder.id, status=status, now=now, error=error) and plan_next:
            plan_next(session)
    return status


def start_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """The in-process clock: one interval job, never two at once, catching up once after a pause."""
    scheduler = BackgroundScheduler(timezone="UTC")
    worker_id = default_worker_id()
    scheduler.add_job(
        lambda: dispatch_due(runtime, worker_id=worker_id),
        "interval",
        seconds=runtime.settings.scheduler_tick_seconds,
        id="dispatch-reminders",
        max_instances=1,
        coalesce=True,
        # APScheduler runs on the wall clock; "now" here means: send what fell due while the bot was down at once.
        next_run_time=datetime.now(timezone.utc),
    )
    scheduler.start()
    return scheduler
