"""Ack latency and throughput: a bare Bolt app vs `postmortem-bot serve`, side by side, alternating.

Run: `.venv/bin/python benchmarks/ack_latency.py [--requests 1500] [--rounds 3] [--database-url URL]`.
Both servers run at once against the same in-repo Slack double, on loopback only, configured alike:
gunicorn, `--workers` processes (default: cores) x THREADS_PER_WORKER gthread threads, Bolt with
process_before_response=False and a listener executor of LISTENER_THREADS threads.
- bare Bolt: one `/postmortem` listener doing what a minimal real handler does: `help` answers in
  the ack; `note <text>` acks at once and then answers through the response_url (Bolt's `respond`);
  it stores nothing;
- `postmortem-bot serve` on a SQLite file (or --database-url), with a review channel seeded so that
  `/postmortem note <text>` stores a note (access check, dedupe, indicators) and answers "Added".
50 senders (2 processes x 25 threads, keep-alive connections) send signed slash commands. Each
round runs each server once on one workload, the servers' order swapped every round, all help rounds
first (see main). Prints p50,
p99 and throughput for both, and the ratios. Targets: help p99 <= 1.3x bare; note p99 <= 2x bare and
note throughput >= 0.5x bare. About 45 seconds at the defaults.

What a user gets: every request carries a response_url on the Slack double, so both apps' answers
(sent after the ack) really go out. For `note`, both servers' throughput counts until the last
answer arrived, not the last ack (a backlog left after the acks would otherwise look free), and
"answer" latencies (request sent -> answer posted to the response_url) are printed beside the acks.
At the end the script checks that every note sent to postmortem-bot was stored exactly once and
answered once.

(Until Nov 2026 the bare app acked a note with text and did nothing after the ack, with 8 threads
per worker: a note's answer was free for it and not for the bot, which overstated the gap.)
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from bot.app import LISTENER_THREADS  # noqa: E402
from bot.demo.signed_requests import SIGNING_SECRET, eventually, sign  # noqa: E402
from bot.server import THREADS_PER_WORKER  # noqa: E402
from bot.slack.double import BOT_TOKEN, TEAM_ID, FakeSlack  # noqa: E402
from models import Note, Postmortem  # noqa: E402
from models.db import make_engine  # noqa: E402
from tests.serving import Served, free_port, seed_review  # noqa: E402

SENDER_PROCESSES = 2
THREADS_PER_SENDER = 25
USER = "U0BENCH001"
BARE_BOLT_APP = '''
import os
from concurrent.futures import ThreadPoolExecutor
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

app = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"],
          client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
          process_before_response=False,
          listener_executor=ThreadPoolExecutor(max_workers=int(os.environ["BENCH_LISTENER_THREADS"])))


@app.command("/postmortem")
def postmortem(ack, command, respond):
    # What a minimal real handler does: help answers in the ack; a note is acked at once and
    # answered through the response_url (Bolt's respond), like postmortem-bot's.
    if command["text"] == "help":
        ack(text="Here is what I can do: note, notes, status, help")
        return
    ack()
    respond(text="Added: " + command["text"][:40], response_type="ephemeral")


application = SlackRequestHandler(app)
'''


def command_body(text: str, channel: str, response_url: str) -> str:
    return urlencode({
        "token": "legacy", "team_id": TEAM_ID, "team_domain": "bench", "channel_id": channel, "channel_name": "review",
        "user_id": USER, "user_name": "bench", "command": "/postmortem", "text": text, "api_app_id": "A0BENCH",
        "response_url": response_url, "trigger_id": "1.2.bench",
    })


def send_share(url: str, fake_url: str, channel: str, workload: str, count: int, tag: str,
               results: multiprocessing.Queue) -> None:
    """One sender process: THREADS_PER_SENDER threads, each on its own keep-alive connection."""
    target = urlparse(url)
    latencies: list[float] = []
    sent_at: dict[str, float] = {}  # request id -> wall-clock time sent (answers are timed in another process)
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(THREADS_PER_SENDER)

    def sender(number: int) -> None:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        mine: list[float] = []
        mine_sent: dict[str, float] = {}
        bad = 0
        start.wait()
        for index in range(count // (SENDER_PROCESSES * THREADS_PER_SENDER)):
            request_id = f"{tag}-{number}-{index}"
            text = "help" if workload == "help" else f"note Restarted worker {request_id} after the alert"
            body = command_body(text, channel, f"{fake_url}response/{request_id}")
            timestamp = int(time.time())
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": str(timestamp),
                       "X-Slack-Signature": sign(body, timestamp=timestamp)}
            mine_sent[request_id] = time.time()
            began = time.perf_counter()
            try:
                connection.request("POST", "/slack/events", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
                ok = False
            mine.append(time.perf_counter() - began)
            bad += not ok
        with lock:
            latencies.extend(mine)
            sent_at.update(mine_sent)
            failures[0] += bad

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(THREADS_PER_SENDER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((latencies, sent_at, failures[0]))


class Answers:
    """Arrival times of the answers posted to the Slack double's response_url, by request id."""

    def __init__(self, fake: FakeSlack) -> None:
        self._lock = threading.Lock()
        self.arrived: dict[str, list[float]] = {}
        record = fake._response_url

        def timed(path: str, raw: bytes):  # type: ignore[no-untyped-def]
            with self._lock:
                self.arrived.setdefault(path.rsplit("/", 1)[-1], []).append(time.time())
            return record(path, raw)

        fake._response_url = timed  # type: ignore[method-assign]

    def wait_for(self, request_ids: set[str], *, timeout: float = 120) -> float:
        """Waits until every request in `request_ids` was answered; returns the last arrival (wall clock)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                missing = [r for r in request_ids if r not in self.arrived]
                if not missing:
                    return max(self.arrived[r][0] for r in request_ids)
            time.sleep(0.02)
        raise AssertionError(f"{len(missing)} of {len(request_ids)} requests never answered through the response_url")


def measure(url: str, fake_url: str, channel: str, workload: str, count: int, tag: str
            ) -> tuple[list[float], dict[str, float], float, float, int]:
    """(ack latencies, send time by request id, start, end of the acks (wall clock), failures) for `count`
    requests from 50 concurrent senders."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=send_share, args=(url, fake_url, channel, workload, count, f"{tag}{p}", results))
        for p in range(SENDER_PROCESSES)
    ]
    began = time.time()
    for process in processes:
        process.start()
    collected = [results.get(timeout=120) for _ in processes]
    ended = time.time()
    for process in processes:
        process.join()
    sent_at = {request_id: at for _, sent, _ in collected for request_id, at in sent.items()}
    return ([x for latencies, _, _ in collected for x in latencies], sent_at, began, ended,
            sum(failures for _, _, failures in collected))


def stored_note_ids(database_url: str, channel: str) -> list[str]:
    """The request id in the text of every note stored in the benchmark's post-mortem, one entry per note."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            texts = connection.execute(
                select(Note.text).join(Postmortem, Note.postmortem_id == Postmortem.id).where(Postmortem.channel_id == channel)
            ).scalars().all()
    finally:
        engine.dispose()
    return [text.removeprefix("Restarted worker ").removesuffix(" after the alert") for text in texts]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class BareBolt:
    def __init__(self, fake: FakeSlack, workdir: Path, *, workers: int) -> None:
        (workdir / "bare_bolt_app.py").write_text(BARE_BOLT_APP)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_URL": fake.api_url, "BENCH_LISTENER_THREADS": str(LISTENER_THREADS)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
             "--threads", str(THREADS_PER_WORKER),
             "--bind", f"127.0.0.1:{self.port}", "--chdir", str(workdir), "--log-level", "warning",
             "bare_bolt_app:application"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        eventually(self._answers, timeout=30, what="bare Bolt app up")

    def _answers(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
            connection.request("GET", "/")
            connection.getresponse().read()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per (server, workload) per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None,
                        help="an empty database (default: a SQLite file in a temporary folder)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="serve --workers (default: cores)")
    args = parser.parse_args()
    workers = args.workers

    fake = FakeSlack().start()
    fake.add_user(USER, name="Bench Mark", tz="UTC")
    answers = Answers(fake)
    with tempfile.TemporaryDirectory(prefix="ack-latency-") as folder:
        workdir = Path(folder)
        database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
        bare = BareBolt(fake, workdir, workers=workers)
        bot = Served(database_url=database_url, fake=fake, log_path=workdir / "serve.log", workers=workers,
                     extra_env={"LOG_LEVEL": "WARNING"})
        channel = seed_review(database_url, fake, facilitator=USER, members=[])
        servers = {"bare Bolt": bare.url, "postmortem-bot": bot.url}
        samples: dict[tuple[str, str], list[float]] = {}
        answer_samples: dict[str, list[float]] = {name: [] for name in servers}
        walls: dict[tuple[str, str], float] = {}
        failed: dict[tuple[str, str], int] = {}
        notes_sent: set[str] = set()

        def run(name: str, url: str, workload: str, count: int, tag: str) -> tuple[list[float], float, int]:
            latencies, sent_at, began, ended, failures = measure(url, fake.url, channel, workload, count, tag)
            if workload == "note":
                # Both answer a note after the ack: the run ends when the last answer is out, for both.
                ended = max(ended, answers.wait_for(set(sent_at)))
                answer_samples[name].extend(answers.arrived[r][0] - at for r, at in sent_at.items())
                if name == "postmortem-bot":
                    notes_sent.update(sent_at)
            return latencies, ended - began, failures

        try:
            for name, url in servers.items():  # warm-up: imports, connections, caches
                for workload in ("help", "note"):
                    run(name, url, workload, 200, f"warm{name[0]}")
            for samples_of_server in answer_samples.values():
                samples_of_server.clear()
            # Every help round before any note round: the database server's own work after a burst of
            # notes (it shares the cores) would otherwise land on whichever help round follows it.
            for workload in ("help", "note"):
                for round_number in range(args.rounds):
                    order = list(servers.items()) if round_number % 2 == 0 else list(reversed(servers.items()))
                    for name, url in order:
                        latencies, wall, failures = run(name, url, workload, args.requests, f"r{round_number}{name[0]}")
                        key = (name, workload)
                        samples.setdefault(key, []).extend(latencies)
                        walls[key] = walls.get(key, 0.0) + wall
                        failed[key] = failed.get(key, 0) + failures
            stored = stored_note_ids(database_url, channel)
        finally:
            bot.stop()
            bare.stop()
            fake.stop()

    duplicates = sorted(r for r in notes_sent if stored.count(r) > 1)
    missing = sorted(notes_sent - set(stored))
    answered_twice = sorted(r for r in notes_sent if len(answers.arrived.get(r, [])) != 1)
    print(f"notes: {len(notes_sent)} sent to postmortem-bot, {len(stored)} stored, {len(missing)} missing, "
          f"{len(duplicates)} stored twice, {len(answered_twice)} not answered exactly once")
    if missing or duplicates or answered_twice or len(stored) != len(notes_sent):
        raise SystemExit("FAILED: every note must be stored exactly once and answered once")
    print(f"{SENDER_PROCESSES * THREADS_PER_SENDER} concurrent senders, {args.rounds} rounds x {args.requests} requests, "
          f"postmortem-bot with {workers} workers on {database_url.split(':', 1)[0]}; bare Bolt: gunicorn {workers} x {THREADS_PER_WORKER} threads")
    print(f"{'workload':<10}{'server':<16}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'failed':>8}")
    figures: dict[tuple[str, str], tuple[float, float, float]] = {}
    for (name, workload), latencies in sorted(samples.items(), key=lambda item: (item[0][1], item[0][0])):
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        throughput = len(latencies) / walls[(name, workload)]
        figures[(name, workload)] = (p50, p99, throughput)
        print(f"{workload:<10}{name:<16}{p50:>9.1f}{p99:>9.1f}{throughput:>9.0f}{failed[(name, workload)]:>8}")
    for name, answered in answer_samples.items():
        answer_p50, answer_p99 = percentile(answered, 0.5) * 1000, percentile(answered, 0.99) * 1000
        print(f"{'note':<10}{name[:14] + ' ans':<16}{answer_p50:>9.1f}{answer_p99:>9.1f}"
              "   <- sent -> answer posted to the response_url")
    print("ratios (postmortem-bot / bare Bolt):")
    for workload, p99_target, throughput_target in (("help", 1.3, None), ("note", 2.0, 0.5)):
        bare_p50, bare_p99, bare_rate = figures[("bare Bolt", workload)]
        bot_p50, bot_p99, bot_rate = figures[("postmortem-bot", workload)]
        p99_ratio, rate_ratio = bot_p99 / bare_p99, bot_rate / bare_rate
        verdict = "meets" if p99_ratio <= p99_target and (throughput_target is None or rate_ratio >= throughput_target) \
            else "MISSES"
        wanted = f"p99 <= {p99_target}x" + (f", throughput >= {throughput_target}x" if throughput_target else "")
        print(f"  {workload}: p50 {bot_p50 / bare_p50:.2f}x, p99 {p99_ratio:.2f}x, throughput {rate_ratio:.2f}x "
              f"({verdict} the target: {wanted})")


if __name__ == "__main__":
    main()
