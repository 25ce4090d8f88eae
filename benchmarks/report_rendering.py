"""How long rendering the report takes as a post-mortem grows (target: 5,000 notes in under 1 s).

Run: `make benchmark` or `.venv/bin/python benchmarks/report_rendering.py`. Prints one line per size
and the growth factor; it asserts nothing (timings on shared machines are noisy).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import reports  # noqa: E402
from bot.notes.questionnaire import QUESTIONS  # noqa: E402
from models import (  # noqa: E402
    Action,
    ActionCategory,
    ActionPriority,
    Answer,
    Indicator,
    Note,
    NoteCategory,
    Participant,
    ParticipantRole,
    Postmortem,
    Severity,
)
from models.db import make_engine, make_session_factory, upgrade  # noqa: E402

T0 = datetime(2026, 11, 17, 10, tzinfo=timezone.utc)
SIZES = (500, 1000, 2500, 5000)
ANSWERS = 200
ACTIONS = 500
REPEATS = 3


def seed(sessions, *, notes: int) -> int:  # type: ignore[no-untyped-def]
    with sessions.begin() as session:
        postmortem = Postmortem(team_id="T", title=f"Benchmark {notes}", severity=Severity.HIGH, detected_at=T0,
                                resolved_at=T0 + timedelta(hours=20), created_by="U0", facilitator_id="U0",
                                source_view_id=f"bench-{notes}", created_at=T0)
        postmortem.participants = [Participant(user_id=f"U{n}", role=ParticipantRole.RESPONDER) for n in range(40)]
        session.add(postmortem)
        session.flush()
        session.add_all(
            Note(postmortem_id=postmortem.id, author_id=f"U{n % 40}", category=list(NoteCategory)[n % 7],
                 text=f"Step {n}: saw traffic to http://c2-{n % 50}.evil-login.com/beacon from 10.0.{n % 250}.7 "
                      "<script>x</script> & more detail " * 2,
                 occurred_at=T0 + timedelta(seconds=n), dedupe_key=f"b{notes}:{n}", created_at=T0, updated_at=T0)
            for n in range(notes)
        )
        session.add_all(
            Answer(postmortem_id=postmortem.id, user_id=f"U{n // len(QUESTIONS)}", question_key=QUESTIONS[n % len(QUESTIONS)].key,
                   text=f"answer {n}", updated_at=T0)
            for n in range(ANSWERS)
        )
        session.add_all(
            Action(postmortem_id=postmortem.id, title=f"Follow-up {n}", description="", owner_id=f"U{n % 40}",
                   due_on=date(2027, 1, 1) + timedelta(days=n % 90), priority=ActionPriority.MEDIUM,
                   category=ActionCategory.OTHER, created_by="U0", dedupe_key=f"a{notes}:{n}", created_at=T0, updated_at=T0)
            for n in range(ACTIONS)
        )
        session.add_all(Indicator(postmortem_id=postmortem.id, kind="url", value=f"http://c2-{n}.evil-login.com/beacon",
                                  first_seen_at=T0) for n in range(50))
        session.add_all(Indicator(postmortem_id=postmortem.id, kind="ipv4", value=f"10.0.{n}.7", first_seen_at=T0)
                        for n in range(250))
        return postmortem.id


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        sessions = make_session_factory(engine)
        timings = {}
        for notes in SIZES:
            postmortem_id = seed(sessions, notes=notes)
            best = float("inf")
            for _ in range(REPEATS):
                started = time.perf_counter()
                with sessions() as session:
                    reports.render(session, postmortem_id=postmortem_id, name_of=str, now=T0)
                best = min(best, time.perf_counter() - started)
            timings[notes] = best
            print(f"report with {notes:>5} notes, {ANSWERS} answers, {ACTIONS} actions: {best * 1000:7.1f} ms "
                  f"(Markdown + HTML + Slack summary, best of {REPEATS})")
        growth = timings[SIZES[-1]] / timings[SIZES[0]]
        print(f"growth from {SIZES[0]} to {SIZES[-1]} notes: x{growth:.1f} for x{SIZES[-1] // SIZES[0]} the notes "
              f"({'linear or better' if growth <= SIZES[-1] / SIZES[0] * 1.3 else 'worse than linear'})")
        print(f"target: 5,000 notes under 1,000 ms: {'met' if timings[5000] < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
