"""A separate bot process for the exactly-once test: dispatches due reminders until none are left.

Run as `python -m tests.dispatch_worker NAME` with DATABASE_URL and SLACK_API_URL set; prints a JSON report.
"""

from __future__ import annotations

import json
import sys
import time

from sqlalchemy import func, select

from bot.reminders.dispatcher import dispatch_due
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.slack.double import BOT_TOKEN
from models import Reminder, ReminderStatus
from models.db import transaction


def main(worker_id: str) -> None:
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN)  # the rest from the environment
    runtime = build_runtime(settings)
    totals: dict[str, int] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        report = dispatch_due(runtime, worker_id=worker_id)
        for status, count in report.counts.items():
            totals[status] = totals.get(status, 0) + count
        with transaction(runtime.sessions) as session:
            open_count = session.scalar(
                select(func.count()).select_from(Reminder).where(
                    Reminder.status.in_([ReminderStatus.PENDING, ReminderStatus.CLAIMED]),
                    Reminder.due_at <= runtime.clock.now(),
                )
            )
        if not open_count:
            break
    print(json.dumps(totals))


if __name__ == "__main__":
    main(sys.argv[1])
