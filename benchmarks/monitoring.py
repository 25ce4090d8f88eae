"""Watching alert channels: 100,000 indicators in their monitoring window, alerts of realistic size.

Prints: the rebuild (reading the watched indicators from a SQLite database, then building the automaton),
the memory the automaton holds, and how many alert messages one core matches per second (target: at least
1,000/s), with and without hits. Run: `make benchmark` or `.venv/bin/python benchmarks/monitoring.py
[--indicators 100000]`. Asserts nothing (timings on shared machines are noisy).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.monitoring import service  # noqa: E402
from bot.monitoring.matcher import Matcher, Watched, alert_text  # noqa: E402
from models import Indicator, Postmortem, Severity  # noqa: E402
from models.db import make_engine, make_session_factory, transaction, upgrade  # noqa: E402

NOW = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
POSTMORTEMS = 2_000
SECONDS_OF_MATCHING = 3.0
rng = random.Random(13)


def label() -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(4, 12)))


def indicator(number: int) -> tuple[str, str]:
    """A realistic mix: domains, URLs, IPv4 addresses and file hashes."""
    roll = number % 20
    if roll < 8:
        return "domain", f"{label()}.{label()}.{rng.choice(['com', 'net', 'ru', 'io', 'xyz'])}"
    if roll < 12:
        return "url", f"https://{label()}.{rng.choice(['com', 'top'])}/{label()}/{label()}.php"
    if roll < 15:
        return "ipv4", ".".join(str(rng.randint(1, 254)) for _ in range(4))
    if roll < 18:
        return "sha256", "".join(rng.choice("0123456789abcdef") for _ in range(64))
    return "md5", "".join(rng.choice("0123456789abcdef") for _ in range(32))


def alert(watched: list[Watched], *, hit: bool) -> dict[str, object]:
    """An EDR/SIEM bot message (about 1.5 KB): a summary line, a section block, attachment fields."""
    destination = rng.choice(watched).value if hit else f"{label()}.{label()}.com"
    if hit and rng.random() < 0.5:
        destination = destination.replace(".", "[.]").replace("http", "hxxp")
    host = f"fra-{label()}-{rng.randint(1, 99):02d}"
    return {
        "text": f"[HIGH] Outbound connection from {host} blocked by policy 'Egress-Default-Deny' (rule 4711)",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": (
            f"*Process:* C:\\\\Program Files\\\\{label()}\\\\{label()}.exe (pid {rng.randint(100, 9999)})\n"
            f"*User:* CORP\\\\{label()}  *Parent:* explorer.exe\n*Command line:* `{label()}.exe --update --silent "
            f"--server {label()}.corp.internal:8443 --token {''.join(rng.choice('ABCDEF0123456789') for _ in range(48))}`"
        )}}],
        "attachments": [{
            "fallback": "EDR alert", "color": "danger", "title": f"Alert {rng.randint(10**6, 10**7)}: egress blocked",
            "fields": [
                {"title": "Host", "value": host, "short": True},
                {"title": "Source IP", "value": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}", "short": True},
                {"title": "Destination", "value": destination, "short": True},
                {"title": "Port", "value": "443/tcp", "short": True},
                {"title": "SHA-256", "value": "".join(rng.choice("0123456789abcdef") for _ in range(64)), "short": False},
                {"title": "MITRE ATT&CK", "value": "T1071.001 Application Layer Protocol: Web Protocols", "short": False},
                {"title": "Description", "value": " ".join(label() for _ in range(60)), "short": False},
            ],
            "footer": "EDR Cloud", "ts": int(NOW.timestamp()),
        }],
    }


def seed(url: str, count: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        session.execute(Postmortem.__table__.insert(), [dict(
            id=number + 1, team_id="T1", title=f"incident {number}", severity=Severity.HIGH, status="closed",
            detected_at=NOW - timedelta(days=3), resolved_at=NOW - timedelta(days=2), created_by="U1",
            facilitator_id="U1", source_view_id=f"V{number}", created_at=NOW - timedelta(days=2),
            system_location="", system_function="", identified_how="", containment_steps="", impact="", evidence="",
            members_invited=True, channel_described=True, kickoff_pinned=True,
        ) for number in range(POSTMORTEMS)])
        rows, seen = [], set()
        while len(rows) < count:
            kind, value = indicator(len(rows))
            if value not in seen:
                seen.add(value)
                rows.append(dict(postmortem_id=len(rows) % POSTMORTEMS + 1, kind=kind, value=value, first_seen_at=NOW))
        session.execute(Indicator.__table__.insert(), rows)
    engine.dispose()


def rate(matcher: Matcher, messages: list[dict[str, object]]) -> tuple[float, int]:
    matched = done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < SECONDS_OF_MATCHING:
        for message in messages:
            matched += bool(matcher.find(alert_text(message)))
        done += len(messages)
    return done / (time.perf_counter() - started), matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=100_000)
    count = parser.parse_args().indicators

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/monitoring.db"
        seed(url, count)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        with transaction(sessions) as session:
            service.watch_version(session)
            watched = service.watched(session, now=NOW, period=timedelta(days=30))
        read = time.perf_counter() - started
        engine.dispose()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    matcher = Matcher(watched)
    built = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    size = len(alert_text(alert(watched, hit=False)).encode())
    print(f"{len(watched):,} indicators watched, {matcher.size:,} distinct; alerts of about {size:,} bytes of text")
    print(f"rebuild: read from the database {read * 1000:7.0f} ms + build the automaton {built * 1000:7.0f} ms")
    print(f"memory: the process grew {(rss_after - rss_before) / 1024:5.0f} MiB building it (peak RSS)")
    quiet = [alert(watched, hit=False) for _ in range(500)]
    mixed = [alert(watched, hit=rng.random() < 0.1) for _ in range(500)]
    for label_, messages in (("no hits", quiet), ("10% hits, half defanged", mixed)):
        per_second, matched = rate(matcher, messages)
        print(f"matching, {label_:24}: {per_second:9,.0f} messages/s on one core (target >= 1,000)"
              + (f"; {matched:,} messages with a hit" if matched else ""))


if __name__ == "__main__":
    main()
