"""Real `postmortem-bot serve` processes for tests and benchmarks, and a review channel seeded in the database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.demo.signed_requests import SIGNING_SECRET, eventually
from bot.slack.double import BOT_TOKEN, BOT_USER_ID, TEAM_ID, FakeSlack
from models import Participant, ParticipantRole, Postmortem, Severity
from models.db import make_engine, make_session_factory, transaction

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed_review(database_url: str, fake: FakeSlack, *, facilitator: str, members: list[str], title: str = "VPN phishing") -> str:
    """An open post-mortem with its private review channel, as provisioning leaves it; returns the channel id."""
    channel_id = fake.add_channel(f"pm-seeded-{len(fake.channels)}", members=[BOT_USER_ID, facilitator, *members], is_private=True)
    engine = make_engine(database_url)
    now = datetime.now(timezone.utc)
    with transaction(make_session_factory(engine)) as session:
        postmortem = Postmortem(
            team_id=TEAM_ID, title=title, severity=Severity.HIGH, detected_at=now, created_by=facilitator,
            facilitator_id=facilitator, source_view_id=f"seed-{channel_id}", created_at=now, channel_id=channel_id,
            channel_name=fake.channels[channel_id].name, members_invited=True, channel_described=True,
            kickoff_pinned=True,
        )
        postmortem.participants = [Participant(user_id=facilitator, role=ParticipantRole.FACILITATOR)] + [
            Participant(user_id=member, role=ParticipantRole.RESPONDER) for member in members
        ]
        session.add(postmortem)
    engine.dispose()
    return channel_id


class Served:
    """`postmortem-bot serve` in a subprocess, its log (stdout and stderr) in `log_path`."""

    def __init__(self, *, database_url: str, fake: FakeSlack, log_path: Path, workers: int = 2,
                 extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SLACK_", "DATABASE_URL", "PROMETHEUS_", "LOG_"))}
        env = {**clean, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_URL": fake.api_url, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO_ROOT),
               **(extra_env or {})}
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port), "--workers", str(workers)],
            cwd=log_path.parent, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        eventually(self._healthy, timeout=60, what="serve answering /healthz")
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited early:\n{self.log()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "healthz", timeout=1) as response:
                return bool(json.loads(response.read()).get("ok"))
        except OSError:
            return self.process.poll() is not None

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return str(response.read().decode())

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self, *, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *_: Any) -> None:
        if self.process.poll() is None:
            self.stop()
