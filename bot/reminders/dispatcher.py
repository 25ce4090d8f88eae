"""The reminder dispatcher: wakes every SCHEDULER_TICK_SECONDS (APScheduler), sends what is due."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bot import metrics
from bot.reminders import senders as sender_registry
from bot.reminders import service as reminders
from bot.reminders.senders import Sender
from bot.runtime import Runtime
from bot.slack.gateway import SlackCallFailed
from models import Reminder, ReminderStatus
from models.db import transaction

log = logging.getLogger(__name__)

BATCH_SIZE = 200
# Claimed together, then sent one by one: few enough that a claim never outlives reminders.CLAIM_TIMEOUT.
CLAIM_CHUNK = 20
STOP_TIMEOUT_SECONDS = 10.0
# ReminderStatus after one attempt -> the outcome counted in metrics.
OUTCOME_OF = {ReminderStatus.PENDING: "retry"}


@dataclass(frozen=True)
class DispatchReport:
    counts: dict[str, int]

    def __getitem__(self, status: str) -> int:
        return self.counts.get(status, 0)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatch_due(
    runtime: Runtime, *, worker_id: str, stop: StopSignal | None = None
) -> DispatchReport:
    """Send every reminder due now that this worker manages to claim. One failure never stops the rest.

    Reminders are claimed a few at a time and sent one by one; once `stop` is raised, the claimed
    ones not yet being sent go back to pending for another process (or the next start) to send.
    """
    stop = stop or StopSignal()
    senders = sender_registry.registered()
    counts: Counter[str] = Counter()
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        counts["abandoned"] += reminders.fail_stale_claims(session, now=now)
        ids = reminders.due_ids(session, now=now, limit=BATCH_SIZE)
    for start in range(0, len(ids), CLAIM_CHUNK):
        if stop.is_set():
            break
        chunk = ids[start : start + CLAIM_CHUNK]
        with transaction(runtime.sessions) as session:
            claimed = [rid for rid in chunk if reminders.claim(session, reminder_id=rid, worker_id=worker_id, now=now)]
            rows = {reminder.id: reminder for reminder in session.scalars(select(Reminder).where(Reminder.id.in_(claimed)))}
        counts["lost_claim"] += len(chunk) - len(claimed)
        stop.hold(claimed)
        while (reminder_id := stop.next_to_send()) is not None:
            reminder = rows[reminder_id]
            status = _send_one(runtime, reminder, senders)
            counts[status.value] += 1
            metrics.count_reminder(reminder.kind, OUTCOME_OF.get(status, status.value))
        counts["released"] += _release(runtime, stop.take_unsent(), worker_id=worker_id)
    return DispatchReport({status: count for status, count in counts.items() if count})


def send_now(runtime: Runtime, *, reminder_ids: list[int], worker_id: str | None = None) -> None:
    """Send reminders a request just planned due now, without waiting for the next tick. Each is claimed as
    the dispatcher claims it, so it is sent once; one that fails here is retried by the dispatcher."""
    worker_id = worker_id or default_worker_id()
    for reminder_id in reminder_ids:
        with transaction(runtime.sessions) as session:
            if not reminders.claim(session, reminder_id=reminder_id, worker_id=worker_id, now=runtime.clock.now()):
                continue
            reminder = session.get_one(Reminder, reminder_id)
        status = _send_one(runtime, reminder, sender_registry.registered())
        metrics.count_reminder(reminder.kind, OUTCOME_OF.get(status, status.value))


class StopSignal:
    """Raised on shutdown; knows which claimed reminders this process has not started sending."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopping = False
        self._unsent: list[int] = []

    def is_set(self) -> bool:
        with self._lock:
            return self._stopping

    def hold(self, reminder_ids: list[int]) -> None:
        with self._lock:
            self._unsent.extend(reminder_ids)

    def next_to_send(self) -> int | None:
        with self._lock:
            if self._stopping or not self._unsent:
                return None
            return self._unsent.pop(0)

    def take_unsent(self) -> list[int]:
        with self._lock:
            unsent, self._unsent = self._unsent, []
            return unsent

    def set(self) -> list[int]:
        """Stop; returns the claimed reminders whose sending had not started (the caller releases them)."""
        with self._lock:
            self._stopping = True
        return self.take_unsent()


def _release(runtime: Runtime, reminder_ids: list[int], *, worker_id: str) -> int:
    if not reminder_ids:
        return 0
    with transaction(runtime.sessions) as session:
        released = reminders.release(session, reminder_ids=reminder_ids, worker_id=worker_id)
    log.info("put %d claimed reminder(s) back to pending", released)
    return released


def _send_one(runtime: Runtime, reminder: Reminder, senders: Mapping[str, Sender]) -> ReminderStatus:
    now = runtime.clock.now()
    plan_next = None
    if reminder.expires_at is not None and now >= reminder.expires_at:
        status, error = ReminderStatus.SKIPPED, "due while the bot was down; no longer useful"
    else:
        try:
            outcome, error = senders[reminder.kind](runtime, reminder), None
        except (SlackCallFailed, sender_registry.TryLater) as failure:
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


class RunningDispatcher:
    """The in-process clock: one interval job, never two at once, catching up once after a pause."""

    def __init__(self, runtime: Runtime, *, worker_id: str | None = None) -> None:
        self._runtime = runtime
        self._worker_id = worker_id or default_worker_id()
        self._stop = StopSignal()
        self._idle = threading.Event()
        self._idle.set()
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=runtime.settings.scheduler_tick_seconds,
            id="dispatch-reminders",
            max_instances=1,
            coalesce=True,
            # APScheduler runs on the wall clock; "now" here means: send what fell due while the bot was down at once.
            next_run_time=datetime.now(timezone.utc),
        )

    def start(self) -> RunningDispatcher:
        self._scheduler.start()
        return self

    def _tick(self) -> None:
        if self._stop.is_set():
            return
        self._idle.clear()
        try:
            dispatch_due(self._runtime, worker_id=self._worker_id, stop=self._stop)
        finally:
            self._idle.set()

    def stop(self, *, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
        """Claim nothing more, put back what was claimed but not started, let the reminder being sent finish
        (up to `timeout`). Returns False if it did not: that one stays claimed, so it is never sent twice."""
        _release(self._runtime, self._stop.set(), worker_id=self._worker_id)
        self._scheduler.shutdown(wait=False)
        finished = self._idle.wait(timeout)
        if not finished:
            log.warning("a reminder was still being sent at shutdown; it stays claimed and is never sent twice")
        return finished


def start_scheduler(runtime: Runtime) -> RunningDispatcher:
    return RunningDispatcher(runtime).start()
