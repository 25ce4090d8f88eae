"""Prometheus metrics, correct across gunicorn's worker processes and the dispatcher process.

With several processes, prometheus-client's multiprocess mode keeps each process's values in
files under PROMETHEUS_MULTIPROC_DIR and `GET /metrics` merges them. `serve` sets that directory up
(empty) before this module is first imported, since prometheus-client picks its storage at import.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot import logs
from models import Reminder, ReminderStatus

if TYPE_CHECKING:  # the gateway counts its calls here, and the runtime holds the gateway
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set up by bot.server.prepare_metrics
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)

REQUESTS = Counter(
    "postmortem_requests", "Requests from Slack by listener and outcome.", ["listener", "outcome"]
)
ACK_SECONDS = Histogram(
    "postmortem_ack_seconds", "Time from receiving a Slack request to answering it (the ack).", ["listener"],
    buckets=ACK_BUCKETS,
)
SLACK_CALLS = Counter(
    "postmortem_slack_api_calls", "Slack Web API calls by method and final result (after retries).",
    ["method", "result"],
)
SLACK_RATE_LIMITED = Counter(
    "postmortem_slack_api_rate_limited", "429 answers from Slack by method, including those retried.", ["method"]
)
REMINDERS = Counter(
    "postmortem_reminders", "Reminders handled by the dispatcher, by kind and outcome.", ["kind", "outcome"]
)
OLDEST_DUE_AGE = Gauge(
    "postmortem_oldest_due_reminder_age_seconds",
    "How long the oldest reminder that is due has waited to be sent (0 when none is due). Set at scrape time.",
    multiprocess_mode="livemostrecent",
)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
OUTCOMES = {200: "ok", 401: "rejected", 404: "unhandled", 413: "too_large"}


def process_exited(pid: int) -> None:
    """A worker or the dispatcher ended: drop its live gauges (counters stay summed)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)


def count_slack_call(method: str, result: str) -> None:
    SLACK_CALLS.labels(method=method, result=result).inc()


def count_rate_limited(method: str) -> None:
    SLACK_RATE_LIMITED.labels(method=method).inc()


def count_reminder(kind: str, outcome: str) -> None:
    REMINDERS.labels(kind=kind, outcome=outcome).inc()


def scrape(runtime: Runtime) -> bytes:
    _measure_oldest_due(runtime)
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def _measure_oldest_due(runtime: Runtime) -> None:
    # Measured when scraped, not by the dispatcher: a stuck or dead dispatcher must show as a growing age.
    now = runtime.clock.now()
    try:
        with runtime.sessions() as session:
            oldest = session.scalar(
                select(func.min(Reminder.due_at)).where(Reminder.status == ReminderStatus.PENDING, Reminder.due_at <= now)
            )
    except SQLAlchemyError as error:
        # The other metrics matter most while the database is down: answer with this one unknown, not a 500.
        log.warning("oldest due reminder not measured: the database did not answer (%s)", type(error).__name__)
        OLDEST_DUE_AGE.set(math.nan)
        return
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=timezone.utc)
    OLDEST_DUE_AGE.set(max(0.0, (now - oldest).total_seconds()) if isinstance(oldest, datetime) else 0.0)


def observed(application: WsgiApp, runtime: Runtime) -> WsgiApp:
    """Serve `GET /metrics`; time every Slack request and give its log lines a request id."""

    def observed_application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method == "GET" and path == "/metrics":
            body = scrape(runtime)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
            return [body]
        if method != "POST" or path != "/slack/events":
            return application(environ, start_response)
        started = time.perf_counter()
        statuses: list[int] = []

        def recording_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, *args)

        with logs.bind_request(uuid.uuid4().hex[:16]):
            try:
                return application(environ, recording_start_response)
            finally:
                status = statuses[-1] if statuses else 500
                # Before Bolt verified the signature nothing names a listener.
                caller = logs.current()
                listener = caller.listener or ("unverified" if status == 401 else "unknown")
                logs.bind_caller(team=caller.team, user=caller.user, listener=listener)
                elapsed = time.perf_counter() - started
                REQUESTS.labels(listener=listener, outcome=OUTCOMES.get(status, "error")).inc()
                ACK_SECONDS.labels(listener=listener).observe(elapsed)
                log.info("answered %s in %.1f ms", status, elapsed * 1000)

    return observed_application
