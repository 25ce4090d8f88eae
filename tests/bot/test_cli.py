"""The console script: clear configuration errors, and `serve` end to end against the fake Slack."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from bot.demo.signed_requests import SIGNING_SECRET, SlackSim, eventually, wait_for_dm
from bot.slack.double import BOT_TOKEN, FakeSlack
from tests.conftest import LEAD, RESPONDER_BERLIN
from tests.handlers.test_start import REPORT

CLI = [sys.executable, "-m", "bot.cli"]


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    return subprocess.run([*CLI, *args], env={**clean, **env, "PYTHONPATH": str(Path.cwd())}, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_run_without_tokens_names_the_variable_and_exits_2(tmp_path: Path) -> None:
    result = run_cli("run", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "postmortem-bot: SLACK_BOT_TOKEN is not set: set it to the bot token from your Slack app's OAuth page, "
        "starting with xoxb-.\n"
    )


def test_serve_without_signing_secret_and_malformed_values(tmp_path: Path) -> None:
    result = run_cli("serve", env={"SLACK_BOT_TOKEN": "xoxp-secret-user-token", "DATABASE_URL": "mysql://x"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "secret-user-token" not in result.stderr
    assert result.stderr.splitlines() == [
        "postmortem-bot: SLACK_BOT_TOKEN is malformed: set it to the bot token from your Slack app's OAuth page, starting with xoxb-.",
        "postmortem-bot: DATABASE_URL is malformed: set it to a SQLAlchemy URL, e.g. sqlite:///postmortem.db or postgresql+psycopg://user@host/db.",
    ]
    missing_secret = run_cli("serve", env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert missing_secret.returncode == 2
    assert missing_secret.stderr.startswith("postmortem-bot: SLACK_SIGNING_SECRET is not set:")


def test_help_explains_every_command(tmp_path: Path) -> None:
    top = run_cli("--help", env={}, cwd=tmp_path).stdout
    assert all(name in top for name in ("run", "serve", "db", "demo"))
    serve = run_cli("serve", "--help", env={}, cwd=tmp_path).stdout
    assert "--host" in serve and "--port" in serve
    assert "upgrade" in run_cli("db", "--help", env={}, cwd=tmp_path).stdout


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "postmortem-bot: database schema is up to date.\n")
    assert (tmp_path / "postmortem.db").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path, fake_slack: FakeSlack) -> str:
    port = free_port()
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.api_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}
    process = subprocess.Popen([*CLI, "serve", "--port", str(port)], cwd=tmp_path,
                               env={**clean, **env, "PYTHONPATH": str(Path.cwd())},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=1) as response:
                return response.status == 200 and json.loads(response.read()) == {"ok": True}
        except OSError:
            return process.poll() is not None  # stop waiting if it died
    eventually(healthy, timeout=30, what="server health")
    assert process.poll() is None, process.stdout.read() if process.stdout else ""
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_serve_handles_start_and_submission_end_to_end(served: str, fake_slack: FakeSlack) -> None:
    slack = SlackSim(served, fake_slack)
    assert slack.command("start VPN credential phishing", user=LEAD).status == 200
    view = eventually(lambda: fake_slack.views and fake_slack.latest_view(), what="modal")
    assert slack.submit_view(view, user=LEAD, values=REPORT).status == 200
    eventually(lambda: any(fake_slack.pins.values()), what="pinned kickoff")
    channel = fake_slack.channel_named("pm-20261117-vpn-credential-phishing")
    assert channel.is_private and {LEAD, RESPONDER_BERLIN} <= channel.members
    wait_for_dm(fake_slack, LEAD, "is ready")
    assert slack.post("x=1", signature="v0=bad").status == 401


@pytest.mark.parametrize("command", ["serve", "run"])
def test_unreachable_slack_is_one_line_and_a_non_zero_exit(command: str, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    result = run_cli(command, env={"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                   "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": closed}, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"postmortem-bot: could not reach Slack at {closed} ([Errno 111] Connection refused). "
        "Check SLACK_API_URL, your proxy and network."
    )


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_signing_secret_is_a_configuration_error_for_serve(blank: str, tmp_path: Path) -> None:
    result = run_cli("serve", env={"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": blank}, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, (
        "postmortem-bot: SLACK_SIGNING_SECRET is not set: set it to the signing secret from your Slack app's "
        "Basic Information page.\n"
    ))
    assert not (tmp_path / "postmortem.db").exists()  # refused before touching the database


def test_serve_port_defaults_to_the_port_variable(tmp_path: Path) -> None:
    from bot.cli import build_parser

    assert build_parser().parse_args(["serve"]).port == int(os.environ.get("PORT", "3000"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PORT", "8123")
        assert build_parser().parse_args(["serve"]).port == 8123
        assert build_parser().parse_args(["serve", "--port", "9000"]).port == 9000


@pytest.mark.parametrize("command", [("db", "upgrade"), ("serve",), ("run",)])
@pytest.mark.parametrize("database_url, reason", [
    (f"postgresql+psycopg://postgres:pw-not-shown@127.0.0.1:{free_port()}/postmortem", "Connection refused"),
    ("postgresql://postgres:pw-not-shown@127.0.0.1/postmortem", "No module named 'psycopg2'"),
    ("postgresql+nodriver://postgres:pw-not-shown@127.0.0.1/postmortem", "Can't load plugin"),
    ("sqlite:////nonexistent-directory/postmortem.db", "unable to open database file"),
])
def test_unusable_database_is_one_line_and_a_non_zero_exit(
    command: tuple[str, ...], database_url: str, reason: str, tmp_path: Path
) -> None:
    result = run_cli(*command, env={"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                    "SLACK_APP_TOKEN": "xapp-1", "DATABASE_URL": database_url}, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "pw-not-shown" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("postmortem-bot:")]
    assert line.startswith("postmortem-bot: could not use the database at ") and reason in line
    assert line.endswith("Check DATABASE_URL, that the database is running and reachable, and its driver is installed.")


def test_slack_url_that_does_not_speak_http_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    """A wrong port (an SSH or database server): no HTTP status line at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def answer_like_ssh() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=answer_like_ssh, daemon=True).start()
    try:
        result = run_cli("serve", env={"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                                       "SLACK_API_URL": f"http://127.0.0.1:{port}/"}, cwd=tmp_path)
    finally:
        listener.close()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"postmortem-bot: could not reach Slack at http://127.0.0.1:{port}/ (")


def test_sigterm_while_starting_ends_in_order_and_leaves_no_metrics_directory(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.slow("auth.test", seconds=10)  # still asking Slack when the signal comes
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    log_path = tmp_path / "serve.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL", "PROMETHEUS_"))}
    env = {**clean, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.api_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}", "PYTHONPATH": str(Path.cwd()), "TMPDIR": str(private_tmp)}
    with log_path.open("w") as log:
        process = subprocess.Popen([*CLI, "serve", "--port", str(free_port()), "--workers", "2"], cwd=tmp_path, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            eventually(lambda: "Context impl" in log_path.read_text() or process.poll() is not None, timeout=30,
                       what="serve past its migrations")
            assert list(private_tmp.iterdir()), "serve made its metrics directory"
            process.terminate()
            assert process.wait(timeout=5) == 143
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert "Traceback" not in log_path.read_text()
    assert log_path.read_text().splitlines()[-1] == "postmortem-bot: stopped (SIGTERM) while starting."
    assert list(private_tmp.iterdir()) == []


def test_run_with_an_app_token_slack_refuses_is_one_line_and_a_non_zero_exit(tmp_path: Path, fake_slack: FakeSlack) -> None:
    fake_slack.inject("apps.connections.open", error="invalid_auth")
    result = run_cli("run", env={"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": "xapp-1-refused",
                                 "SLACK_API_URL": fake_slack.api_url}, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "xapp-1-refused" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "postmortem-bot: Slack refused the app-level token (invalid_auth). Check SLACK_APP_TOKEN: an xapp- token "
        "with the connections:write scope, and that Socket Mode is on in your Slack app.")


@pytest.mark.parametrize("port", ["99999", "0", "x"])
def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(port: str, tmp_path: Path) -> None:
    result = run_cli("serve", "--port", port, env={"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
                     cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"postmortem-bot serve: error: argument --port: {port!r} is not a port number (1 to 65535)")
    assert not (tmp_path / "postmortem.db").exists()
