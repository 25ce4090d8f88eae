"""How long the security scorecard takes over a large history (targets: the figures in under 1 s, the chart in
under 2 s, with 10,000 post-mortems and 50,000 actions).

Run: `make benchmark` or `.venv/bin/python benchmarks/scorecard.py [DATABASE_URL]` (default: a temporary
SQLite file; a PostgreSQL URL is emptied first, and analysed after seeding). Prints the time of the figures for `all`, `12m` and a
quarter, of the chart, of the export, and the number of queries; it asserts nothing (timings on shared
machines are noisy).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, insert, text  # noqa: E402

from bot.scorecard import chart, periods, service  # noqa: E402
from models import (  # noqa: E402
    Action,
    ActionChange,
    Assessment,
    AttackVector,
    Classification,
    Indicator,
    Postmortem,
    ReportVersion,
    Severity,
)
from models.db import make_engine, make_session_factory, transaction, upgrade  # noqa: E402

POSTMORTEMS = 10_000
ACTIONS_EACH = 5
NOW = datetime(2026, 11, 20, 15, tzinfo=timezone.utc)
FIRST = NOW - timedelta(days=3 * 365)
REPEATS = 3


def seed(sessions, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    postmortems, assessments, actions, changes, reports, indicators = [], [], [], [], [], []
    for number in range(1, POSTMORTEMS + 1):
        detected = FIRST + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60))
        compromised = detected - timedelta(hours=rng.uniform(0.5, 400)) if rng.random() < 0.8 else None
        contained = detected + timedelta(hours=rng.uniform(0.2, 48)) if rng.random() < 0.9 else None
        resolved = detected + timedelta(hours=rng.uniform(4, 200)) if rng.random() < 0.85 else None
        postmortems.append(dict(id=number, team_id="T", title=f"Incident {number}", severity=rng.choice(list(Severity)),
                                compromised_at=compromised, detected_at=detected, contained_at=contained,
                                resolved_at=resolved, created_by="U0", facilitator_id=f"U{number % 40}",
                                source_view_id=f"bench-{number}", created_at=detected, status="open",
                                system_location="", system_function="", identified_how="", containment_steps="",
                                impact="", evidence="", members_invited=False, channel_described=False, kickoff_pinned=False))
        if rng.random() < 0.8:
            assessments.append(dict(postmortem_id=number, classification=rng.choice(list(Classification)),
                                    attack_vector=rng.choice(list(AttackVector)), rationale="", updated_at=detected,
                                    **{name: rng.randrange(100) for name in service.PREVENTIVE_FIELDS}))
        if resolved is not None and rng.random() < 0.7:
            reports.append(dict(postmortem_id=number, version=1, markdown="", html="", snapshot="{}", published_by="U0",
                                published_at=resolved + timedelta(hours=rng.uniform(1, 100)), summary_ts="1.1",
                                posted_parts=""))
        for kind, value in (("domain", f"c2-{rng.randrange(3000)}.example.com"), ("ipv4", f"203.0.113.{rng.randrange(250)}")):
            indicators.append(dict(postmortem_id=number, kind=kind, value=value, first_seen_at=detected))
        for _ in range(ACTIONS_EACH):
            action_id = len(actions) + 1
            created = detected + timedelta(days=rng.uniform(1, 5))
            due = (created + timedelta(days=rng.randrange(3, 40))).date()
            status = rng.choices(["done", "open", "cancelled"], weights=(6, 3, 1))[0]
            actions.append(dict(id=action_id, postmortem_id=number, title="Follow-up", description="", owner_id="U1",
                                due_on=due, priority="medium", category="other", status=status, version=0,
                                created_by="U0", dedupe_key=f"bench-{action_id}", created_at=created, updated_at=created))
            if status == "done":
                changes.append(dict(action_id=action_id, actor_id="U1", field="status", old_value="open", new_value="done",
                                    reason="", at=created + timedelta(days=rng.uniform(0, 50))))
    with transaction(sessions) as session:
        for model, rows in ((Postmortem, postmortems), (Assessment, assessments), (Action, actions),
                            (ActionChange, changes), (ReportVersion, reports), (Indicator, indicators)):
            for start in range(0, len(rows), 5000):
                session.execute(insert(model), rows[start:start + 5000])
    print(f"seeded {len(postmortems):,} post-mortems, {len(actions):,} actions ({len(changes):,} done), "
          f"{len(indicators):,} indicators, {len(reports):,} published reports")


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/scorecard.db"
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    sessions = make_session_factory(engine)
    seed(sessions, random.Random(12))
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load; without statistics the planner guesses one row per table.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))

    queries = 0

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_: object) -> None:
        nonlocal queries
        queries += 1

    today = date(2026, 11, 20)
    print(f"database: {engine.dialect.name}")
    for key in ("all", "12m", "2026-Q3"):
        period = periods.parse(key, now=NOW)
        assert period is not None
        best, queries = float("inf"), 0
        for _ in range(REPEATS):
            started = time.perf_counter()
            with transaction(sessions) as session:
                card = service.scorecard(session, period=period, today=today)
            best = min(best, time.perf_counter() - started)
        print(f"figures {key:>8}: {best:.3f} s best of {REPEATS}, {queries // REPEATS} queries, "
              f"{card.current.incidents:,} incidents")
        started = time.perf_counter()
        png = chart.render(card)
        print(f"chart   {key:>8}: {time.perf_counter() - started:.3f} s, {len(png):,} bytes")
    started, queries = time.perf_counter(), 0
    with transaction(sessions) as session:
        rows = service.export_rows(session, period=periods.parse("all", now=NOW), today=today)  # type: ignore[arg-type]
    print(f"export rows  all: {time.perf_counter() - started:.3f} s, {queries} queries, {len(rows):,} rows")


if __name__ == "__main__":
    main()
