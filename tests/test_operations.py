"""`postmortem-bot serve` run as in production, as real processes: metrics after a run, what the log
never holds, SIGTERM in the middle of work, and two `serve`s sharing one PostgreSQL database."""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text, update

from bot.demo.signed_requests import SIGNING_SECRET, SlackSim, eventually, sign
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.slack.double import BOT_TOKEN, FakeSlack
from models import Indicator, Note, Reminder, ReminderStatus
from models.db import make_engine, transaction, upgrade
from tests.bot.test_dispatcher import make_meeting, review_channel  # noqa: F401 - a fixture used below
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.serving import Served, seed_review

PHRASE = "ZEBRA-CROSSING-7731"  # planted in everything people type in the log-hygiene run


def fresh_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def due_meeting_reminders(database_url: str, fake: FakeSlack) -> int:
    """A meeting two days ahead whose reminders (channel and DMs, 24 h and 15 min) are all due now."""
    runtime = build_runtime(Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=fake.api_url,
                                     DATABASE_URL=database_url))
    now = datetime.now(timezone.utc)
    make_meeting(runtime, starts_at=now + timedelta(days=2), now=now)
    with transaction(runtime.sessions) as session:
        due = session.execute(update(Reminder).values(due_at=now - timedelta(minutes=1))).rowcount
    runtime.engine.dispose()
    return due


def reminder_statuses(database_url: str) -> list[tuple[str, str, str, int]]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Reminder.kind, Reminder.recipient_id, Reminder.status, Reminder.attempts).order_by(Reminder.id)
        ).all()
    engine.dispose()
    return [(kind, recipient, str(status), attempts) for kind, recipient, status, attempts in rows]


def reminder_messages(fake: FakeSlack) -> list[tuple[str, str]]:
    """(channel, text) of every message posted: in these runs, only reminders are."""
    return [(call["channel"], call.get("text", "")) for call in fake.calls_to("chat.postMessage")]


def scrape(served: Served) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(served.get("metrics")):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_a_run_show_requests_slack_calls_and_reminders(
    tmp_path: Path, fake_slack: FakeSlack, review_channel: str  # noqa: F811
) -> None:
    database_url = fresh_sqlite(tmp_path)
    due = due_meeting_reminders(database_url, fake_slack)
    channel = seed_review(database_url, fake_slack, facilitator=LEAD, members=[RESPONDER_BERLIN])
    fake_slack.channels[channel].members.add(OUTSIDER)  # in the channel, not listed: asks conversations.members
    fake_slack.inject("conversations.members", status=429, retry_after=1)
    with Served(database_url=database_url, fake=fake_slack, log_path=tmp_path / "serve.log", workers=2) as served:
        slack = SlackSim(served.url, fake_slack)
        for _ in range(6):
            assert slack.command("help", user=LEAD, channel=channel).status == 200
        assert slack.ask("note Pager went off at 02:10", user=LEAD, channel=channel).text.startswith(":memo: Added")
        assert slack.ask("note I saw it too", user=OUTSIDER, channel=channel).text.startswith(":memo: Added")
        assert slack.post("text=help", signature="v0=forged").status == 401
        eventually(lambda: all(status in {"sent", "skipped"} for *_, status, _ in reminder_statuses(database_url)),
                   timeout=30, what="every due reminder handled by the dispatcher process")
        # One reminder due ten minutes ago and not sent: the age shows up at the next scrape.
        engine = make_engine(database_url)
        with engine.begin() as connection:
            first = connection.scalar(select(func.min(Reminder.id)))
            connection.execute(update(Reminder).where(Reminder.id == first).values(
                status=ReminderStatus.PENDING, due_at=datetime.now(timezone.utc) - timedelta(minutes=10)))
        engine.dispose()
        samples = scrape(served)

    assert value(samples, "postmortem_requests_total", listener="/postmortem help", outcome="ok") == 6
    assert value(samples, "postmortem_requests_total", listener="/postmortem note", outcome="ok") == 2
    assert value(samples, "postmortem_requests_total", listener="unverified", outcome="rejected") == 1
    assert value(samples, "postmortem_ack_seconds_count", listener="/postmortem help") == 6
    assert value(samples, "postmortem_ack_seconds_bucket", listener="/postmortem help", le="+Inf") == 6
    assert value(samples, "postmortem_slack_api_rate_limited_total", method="conversations.members") == 1
    # Each worker asks once per channel it has not cached; every answer but the one 429 was ok.
    members_calls = len(fake_slack.calls_to("conversations.members"))
    assert members_calls >= 2
    assert value(samples, "postmortem_slack_api_calls_total", method="conversations.members", result="ok") == members_calls - 1
    # Counted in the dispatcher process, merged by the worker that answered the scrape.
    sent = sum(value(samples, "postmortem_reminders_total", kind=kind, outcome="sent")
               for kind in {kind for kind, *_ in reminder_statuses(database_url)})
    assert sent == due > 0
    assert value(samples, "postmortem_slack_api_calls_total", method="chat.postMessage", result="ok") == due
    assert 590 <= value(samples, "postmortem_oldest_due_reminder_age_seconds") < 900


def test_no_log_line_holds_typed_text_bodies_or_secrets(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str, engine: Any
) -> None:
    channel = seed_review(database_url, fake_slack, facilitator=LEAD, members=[RESPONDER_BERLIN])
    log_path = tmp_path / "serve.log"
    with Served(database_url=database_url, fake=fake_slack, log_path=log_path, workers=2,
                extra_env={"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}) as served:
        slack = SlackSim(served.url, fake_slack)
        body = urlencode({"team_id": "T0000FAKE", "user_id": LEAD, "channel_id": channel, "command": "/postmortem",
                          "text": f"note {PHRASE} stale", "response_url": fake_slack.response_url(),
                          "trigger_id": fake_slack.issue_trigger(), "token": "legacy-verification-token"})
        stale = int(time.time()) - 600
        assert slack.post(body, timestamp=stale, signature=sign(body, timestamp=stale)).status == 401
        assert slack.post(body, signature="v0=" + "0" * 64).status == 401
        assert slack.ask(f"note {PHRASE} stored", user=LEAD, channel=channel).text.startswith(":memo: Added")
        fake_slack.inject("views.open", error="internal_error")
        assert slack.command(f"start {PHRASE} failing", user=LEAD).status == 200
        eventually(lambda: any("internal_error" in r.get("text", "") for r in fake_slack.responses),
                   what="the user told that Slack refused the modal")
        with engine.begin() as connection:  # a database error in the middle of saving a note
            connection.execute(text("ALTER TABLE notes RENAME TO notes_away"))
        try:
            reply = slack.ask(f"note {PHRASE} lost", user=LEAD, channel=channel)
            assert "went wrong" in reply.text
        finally:
            with engine.begin() as connection:
                connection.execute(text("ALTER TABLE notes_away RENAME TO notes"))
        served.stop()
    log = log_path.read_text()

    for secret in (PHRASE, SIGNING_SECRET, BOT_TOKEN, "legacy-verification-token"):
        assert secret not in log
    # The run did reach every path the log could have leaked from.
    assert log.count("rejected a request: invalid or stale signature") == 2
    assert "Slack call failed" in log and "internal_error" in log
    assert "listener failed" in log and "notes" in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    answered = [line for line in lines if line["message"].startswith("answered ")]
    assert len(answered) == 5 and all(line["request_id"] for line in answered)
    assert {line["listener"] for line in answered} == {"unverified", "/postmortem note", "/postmortem start"}
    assert all(line["user"] == LEAD and line["team"] == "T0000FAKE" for line in answered if line["listener"] != "unverified")
    assert all({"request_id", "team", "user", "listener"} <= line.keys() for line in lines)


def test_sigterm_answers_the_request_in_flight_and_puts_unsent_reminders_back(
    tmp_path: Path, fake_slack: FakeSlack, review_channel: str  # noqa: F811
) -> None:
    database_url = fresh_sqlite(tmp_path)
    due = due_meeting_reminders(database_url, fake_slack)
    channel = seed_review(database_url, fake_slack, facilitator=LEAD, members=[])
    fake_slack.channels[channel].members.add(RESPONDER_TOKYO)  # a note by Tokyo asks conversations.members
    fake_slack.slow("conversations.members", seconds=2.0)
    fake_slack.slow("chat.postMessage", seconds=1.0)  # eight reminders take longer than the shutdown
    served = Served(database_url=database_url, fake=fake_slack, log_path=tmp_path / "serve.log", workers=1)
    try:
        eventually(lambda: fake_slack.calls_to("chat.postMessage"), what="the dispatcher sending its first reminder")
        slack = SlackSim(served.url, fake_slack)
        replies: list[Any] = []
        in_flight = threading.Thread(
            target=lambda: replies.append(slack.ask("note Sent during shutdown", user=RESPONDER_TOKYO, channel=channel)))
        in_flight.start()
        eventually(lambda: fake_slack.calls_to("conversations.members"), what="the note request in flight")
        assert served.stop(timeout=60) == 0
        in_flight.join(timeout=10)
    finally:
        served.__exit__()

    assert replies and replies[0].text.startswith(":memo: Added")
    statuses = reminder_statuses(database_url)
    sent = [row for row in statuses if row[2] == "sent"]
    pending = [row for row in statuses if row[2] == "pending"]
    assert len(statuses) == due and len(sent) + len(pending) == due, statuses
    assert 1 <= len(sent) < due and all(attempts == 0 for *_, attempts in pending)
    assert len(reminder_messages(fake_slack)) == len(sent)

    # The next start sends exactly the ones put back: nothing lost, nothing twice.
    fake_slack.slow("chat.postMessage", seconds=0)
    with Served(database_url=database_url, fake=fake_slack, log_path=tmp_path / "again.log", workers=1):
        eventually(lambda: all(row[2] == "sent" for row in reminder_statuses(database_url)), timeout=30,
                   what="the put-back reminders sent after a restart")
    # Every row is sent and Slack got exactly as many messages as there are rows: none went twice.
    assert len(reminder_messages(fake_slack)) == due


def test_two_serve_processes_on_one_postgresql_store_every_note_once_and_send_every_reminder_once(
    tmp_path: Path, fake_slack: FakeSlack, database_url: str, engine: Any, review_channel: str  # noqa: F811
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes sharing one database is a PostgreSQL deployment")
    due = due_meeting_reminders(database_url, fake_slack)
    members = [RESPONDER_BERLIN, RESPONDER_TOKYO]
    channel = seed_review(database_url, fake_slack, facilitator=LEAD, members=members)
    with Served(database_url=database_url, fake=fake_slack, log_path=tmp_path / "a.log", workers=2) as first, \
            Served(database_url=database_url, fake=fake_slack, log_path=tmp_path / "b.log", workers=2) as second:
        senders = [SlackSim(first.url, fake_slack), SlackSim(second.url, fake_slack)]
        start = threading.Barrier(20)
        began: list[float] = []

        def send(number: int) -> tuple[float, float, Any]:
            if number < 20:
                start.wait()  # the first twenty leave together
            shared = " Blocked c2-shared.example.net at the proxy." if number < 20 else ""
            sent_at = time.monotonic()
            reply = senders[number % 2].ask(f"note Observation {number}.{shared}",
                                            user=[LEAD, *members][number % 3], channel=channel)
            return sent_at, time.monotonic(), reply

        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(send, range(100)))
        began = sorted(sent_at for sent_at, _, _ in results)
        answered_first = min(done for _, done, _ in results)
        eventually(lambda: all(row[2] == "sent" for row in reminder_statuses(database_url)), timeout=30,
                   what="every reminder sent by one of the two dispatchers")
        both_served = [value(scrape(served), "postmortem_requests_total", listener="/postmortem note", outcome="ok")
                       for served in (first, second)]

    assert sum(began[i] < answered_first for i in range(len(began))) >= 10  # the requests overlapped
    assert all(count > 0 for count in both_served), both_served
    # Two dispatchers polled one table: every row is sent and Slack got as many messages as rows, none twice.
    assert len(reminder_messages(fake_slack)) == due
    replies = [reply for _, _, reply in results]
    with engine.connect() as connection:
        texts = connection.scalars(select(Note.text)).all()
        shared = connection.scalars(select(Indicator.value).where(Indicator.value == "c2-shared.example.net")).all()
    assert len(texts) == 100 and len(set(texts)) == 100, collections.Counter(r.text[:60] for r in replies)
    assert sorted(texts) == sorted(f"Observation {n}." + (" Blocked c2-shared.example.net at the proxy." if n < 20
                                                          else "") for n in range(100))
    assert shared == ["c2-shared.example.net"]
    assert all(reply.text.startswith(":memo: Added") for reply in replies)


def test_metrics_directory_chosen_by_the_operator_loses_only_stale_metric_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.server import METRICS_DIR_ENV, gunicorn_available, prepare_metrics

    if not gunicorn_available():
        pytest.skip("one process without gunicorn: no metrics directory")
    chosen = tmp_path / "shared"
    (chosen / "notes").mkdir(parents=True)
    (chosen / "notes" / "keep.txt").write_text("mine")
    (chosen / "keep.txt").write_text("mine")
    (chosen / "counter_4242.db").write_bytes(b"a dead run's counts")
    monkeypatch.setenv(METRICS_DIR_ENV, str(chosen))
    assert prepare_metrics() is None  # the operator's directory: not ours to remove at the end
    assert sorted(path.relative_to(chosen).as_posix() for path in chosen.rglob("*")) == [
        "keep.txt", "notes", "notes/keep.txt"]


def test_the_dispatcher_process_imports_the_installed_bot_not_a_bot_folder_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.server import _DispatcherProcess

    shadow = tmp_path / "bot"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    (shadow / "server.py").write_text(f"open({str(tmp_path / 'shadow-ran')!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "PYTHONPATH"):  # the real one stops at once: no configuration
        monkeypatch.delenv(name, raising=False)
    dispatcher = _DispatcherProcess()
    dispatcher.start()
    assert dispatcher._process is not None and dispatcher._process.wait(timeout=30) != 0  # the real one ran
    dispatcher.stop()
    assert not (tmp_path / "shadow-ran").exists()


def test_a_dispatcher_that_dies_is_started_again_and_sends_what_falls_due(
    tmp_path: Path, fake_slack: FakeSlack, review_channel: str  # noqa: F811
) -> None:
    database_url = fresh_sqlite(tmp_path)
    with Served(database_url=database_url, fake=fake_slack, log_path=tmp_path / "serve.log", workers=1) as served:
        def dispatcher_pids() -> list[int]:
            return [int(pid) for pid in re.findall(r"reminder dispatcher started \(pid (\d+)\)", served.log())]

        first = eventually(dispatcher_pids, what="the dispatcher started")[0]
        os.kill(first, signal.SIGKILL)
        restarted = eventually(lambda: len(dispatcher_pids()) > 1 and dispatcher_pids(), timeout=30,
                               what="another dispatcher started")
        assert restarted[-1] != first and "the reminder dispatcher" in served.log()
        due = due_meeting_reminders(database_url, fake_slack)
        eventually(lambda: all(row[2] == "sent" for row in reminder_statuses(database_url)), timeout=30,
                   what="the reminders due after the restart, sent")
    assert len(reminder_messages(fake_slack)) == due
