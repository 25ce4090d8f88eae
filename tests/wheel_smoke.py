"""Wheel smoke test: install the bot the way a deployment does and check it answers.

Builds a wheel from a clean copy of the source tree, installs it into a fresh virtual environment
outside the tree, starts `postmortem-bot serve` from there (working directory outside the tree, so
nothing can be imported from the source) against the in-repo Slack double, then checks
`GET /healthz`, `GET /readyz` and a signed `/postmortem help`, then plays `postmortem-bot demo` with
the runtime dependencies alone (no test extras). Any file the code reads that the wheel leaves out
fails this. Run it with `make smoke` (CI runs it from `.ci/run`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from fnmatch import fnmatch
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The container's command (the Dockerfile's CMD); tests/test_deployment.py keeps the two identical.
SERVE_COMMAND = ["postmortem-bot", "serve", "--host", "0.0.0.0"]
# Never part of a build: caches, local databases and environments, earlier build output.
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "*.db", "*.db-wal", "*.db-shm",
              ".env", ".pytest_cache", ".hypothesis", "demo-output")


def build_wheel(destination: Path) -> Path:
    """Build from a copy holding only source files: a stale `build/` in the tree can hide a missing file."""
    with tempfile.TemporaryDirectory(prefix="pm-wheel-src-") as scratch:
        source = Path(scratch) / "src"
        shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
        built = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(destination), str(source)],
            capture_output=True, text=True, timeout=600,
        )
    if built.returncode != 0:
        raise SystemExit(f"wheel smoke: building the wheel failed:\n{built.stdout}{built.stderr}")
    (wheel,) = destination.glob("postmortem_bot-*.whl")
    return wheel


def package_files() -> list[str]:
    """Every file of the packages (relative, `/`-separated): the wheel must hold each one."""
    return sorted(
        relative.as_posix()
        for package in ("bot", "handlers", "models")
        for relative in (path.relative_to(REPO_ROOT) for path in (REPO_ROOT / package).rglob("*") if path.is_file())
        if not any(fnmatch(part, pattern) for part in relative.parts for pattern in NOT_SOURCE)
    )


def install(wheel: Path, venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, timeout=900)
    return venv / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen[str], *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"wheel smoke: the installed bot exited with {server.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("wheel smoke: the installed bot did not answer /healthz in time")


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"wheel smoke: FAILED: {what}")
    print(f"wheel smoke: ok: {what}")


def smoke(work: Path) -> None:
    from bot.demo.outputs import OUTPUTS
    from bot.demo.signed_requests import SIGNING_SECRET, SlackSim
    from bot.slack.double import BOT_TOKEN, FakeSlack

    wheel = build_wheel(work / "dist")
    print(f"wheel smoke: built {wheel.name}")
    bin_dir = install(wheel, work / "venv")
    run_dir = work / "run"
    run_dir.mkdir()
    fake_slack = FakeSlack().start()
    port = free_port()
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("SLACK_", "DATABASE_URL", "PYTHON", "VIRTUAL_ENV"))}
    environment.update(PATH=f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}", PORT=str(port),
                       SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                       SLACK_API_URL=fake_slack.api_url, DATABASE_URL=f"sqlite:///{run_dir / 'smoke.db'}")
    log = (work / "serve.log").open("w")
    server = subprocess.Popen(SERVE_COMMAND, cwd=run_dir, env=environment, stdout=log, stderr=subprocess.STDOUT,
                              text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_healthy(url, server)
        check(get(url + "healthz") == (200, {"ok": True}), "GET /healthz is 200")
        check(get(url + "readyz")[0] == 200, "GET /readyz is 200 (database reachable, schema at head)")
        reply = SlackSim(url, fake_slack).command("help", user="U0SMOKE001")
        check(reply.status == 200 and "`/postmortem start`" in reply.body, "signed `/postmortem help` shows the help")
        demo = subprocess.run(["postmortem-bot", "demo", "--output", "demo-output"], cwd=run_dir, env=environment,
                              capture_output=True, text=True, timeout=300)
        missing = [output.name for output in OUTPUTS if not (run_dir / "demo-output" / output.name).is_file()]
        failure = "" if demo.returncode == 0 and not missing and not demo.stderr else f":\n{demo.stderr}missing: {missing}"
        check(not failure, f"`postmortem-bot demo` plays to the end, quietly, and writes its {len(OUTPUTS)} files{failure}")
    except BaseException:
        log.flush()
        print((work / "serve.log").read_text(), file=sys.stderr)
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        fake_slack.stop()


def main() -> int:
    sys.path.insert(0, str(REPO_ROOT))
    # A CI timeout sends SIGTERM: unwind through the `finally` blocks so the bot and the double stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="pm-wheel-smoke-"))
    try:
        smoke(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("wheel smoke: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
