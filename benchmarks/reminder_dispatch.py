"""Dispatching due reminders against the fake Slack with a rate limit, then with none.

Run: `.venv/bin/python benchmarks/reminder_dispatch.py [--reminders 10000] [--rate 20]`.
Prints the achieved sending rate as a fraction of the limit (aim: above 0.9), the 429s met,
duplicates and losses (must be 0 and 0), and the dispatcher's own overhead without a limit.
At the defaults (10,000 reminders at 20 per second) the limited run takes about 8 minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from bot import actions  # noqa: E402
from bot.reminders.dispatcher import dispatch_due  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.slack.double import BOT_TOKEN, FakeSlack  # noqa: E402
from models import Action, Postmortem, Reminder, Severity  # noqa: E402
from models.db import upgrade  # noqa: E402


def seed(runtime, fake: FakeSlack, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    now = datetime.now(timezone.utc)
    owners = [f"U{n:09d}" for n in range(count)]
    for owner in owners:
        fake.add_user(owner, tz="UTC")
    with runtime.sessions.begin() as session:
        postmortem = Postmortem(team_id="T", title="Benchmark", severity=Severity.LOW, detected_at=now, created_by="U0",
                                facilitator_id="U0", source_view_id=f"bench-{now.timestamp()}", created_at=now)
        session.add(postmortem)
        session.flush()
        first_id = session.execute(insert(Action).returning(Action.id), [
            {"postmortem_id": postmortem.id, "title": f"Task {n}", "description": "", "owner_id": owner,
             "due_on": date(2027, 1, 4), "priority": "low", "category": "other", "status": "open", "version": 0,
             "created_by": "U0", "dedupe_key": f"bench-{now.timestamp()}-{n}", "created_at": now, "updated_at": now}
            for n, owner in enumerate(owners)
        ]).scalars().all()
        session.execute(insert(Reminder), [
            {"kind": actions.AT_DUE, "postmortem_id": postmortem.id, "subject_id": action_id, "subject_version": 0,
             "recipient_id": owner, "due_at": now - timedelta(minutes=1), "planned_for": now - timedelta(minutes=1),
             "status": "pending", "attempts": 0,
             "dedupe_key": f"bench-{action_id}"}
            for action_id, owner in zip(first_id, owners)
        ])
    return owners


def run(count: int, rate: int | None) -> None:
    fake = FakeSlack().start()
    if rate:
        fake.limit_rate("chat.postMessage", per_second=rate)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=fake.api_url,
                            DATABASE_URL=f"sqlite:///{folder}/bench.db")
        runtime = build_runtime(settings)
        upgrade(runtime.engine)
        owners = seed(runtime, fake, count)
        started = time.perf_counter()
        sent = 0
        while True:
            report = dispatch_due(runtime, worker_id="bench")
            sent += report["sent"]
            if not report.counts:
                break
        elapsed = time.perf_counter() - started
    fake.stop()
    received = [len(fake.dm_messages(owner)) for owner in owners]
    duplicates = sum(1 for n in received if n > 1)
    losses = sum(1 for n in received if n == 0)
    per_second = sent / elapsed
    if rate:
        print(f"{count} reminders, limit {rate}/s: {per_second:.1f}/s = {per_second / rate:.2f} of the limit "
              f"in {elapsed:.1f} s; 429s met: {fake.rate_limited}; duplicates: {duplicates}; losses: {losses}")
    else:
        print(f"{count} reminders, no limit: {per_second:.0f} reminders/s (dispatcher + fake Slack + SQLite) "
              f"in {elapsed:.1f} s; duplicates: {duplicates}; losses: {losses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=20, help="chat.postMessage calls the fake Slack allows per second")
    args = parser.parse_args()
    run(args.reminders, args.rate)
    run(args.reminders, None)


if __name__ == "__main__":
    main()
