"""The HTTP edge, through raw requests to the served app: health, readiness, and hostile input.

Whatever arrives gets a short JSON answer (400, 401, 413), never a 500 with a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.demo.serving import serving
from bot.demo.signed_requests import SIGNING_SECRET, SlackSim
from bot.runtime import build_runtime
from bot.settings import Settings
from bot.slack.double import BOT_TOKEN
from bot.slack.http import MAX_BODY_BYTES
from tests.conftest import LEAD


def raw_request(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
                ) -> tuple[int, object]:
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        content = response.read()
        return response.status, json.loads(content) if response.getheader("Content-Type") == "application/json" else content
    finally:
        connection.close()


def slack_headers(body: bytes, *, timestamp: str | None = None, content_type: str = "application/x-www-form-urlencoded"
                  ) -> dict[str, str]:
    """What Slack sends, signed over the exact bytes (so a body that is not UTF-8 still carries a valid signature)."""
    timestamp = timestamp if timestamp is not None else str(int(time.time()))
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), b"v0:" + timestamp.encode() + b":" + body,
                                 hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    assert [record.getMessage() for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR] == []


def runtime_for(database_url: str):  # type: ignore[no-untyped-def]
    return build_runtime(Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                                  DATABASE_URL=database_url))


# -- health and readiness ------------------------------------------------------------------------

def test_healthz_and_readyz_are_200_with_the_schema_at_head(app_url: str) -> None:
    assert raw_request(app_url, "GET", "/healthz") == (200, {"ok": True})
    assert raw_request(app_url, "GET", "/readyz") == (200, {"ok": True})


def test_unreachable_database_is_alive_but_not_ready(tmp_path: Path) -> None:
    with serving(runtime_for(f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}"), with_slack=False) as url:
        assert raw_request(url, "GET", "/healthz") == (200, {"ok": True})
        assert raw_request(url, "GET", "/readyz") == (503, {"ok": False, "error": "database unreachable"})


def test_metrics_answer_while_the_database_is_unreachable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with serving(runtime_for(f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}"), with_slack=False) as url:
        status, body = raw_request(url, "GET", "/metrics")
        assert status == 200
        assert b"postmortem_oldest_due_reminder_age_seconds NaN" in body and b"postmortem_requests" in body
    assert not [record for record in caplog.records if record.exc_info]


def test_schema_behind_the_newest_migration_is_not_ready(tmp_path: Path) -> None:
    with serving(runtime_for(f"sqlite:///{tmp_path / 'never-migrated.db'}"), with_slack=False) as url:
        assert raw_request(url, "GET", "/readyz") == (503, {
            "ok": False, "error": "database schema is not at the newest migration: run `postmortem-bot db upgrade`"})


# -- hostile input at /slack/events --------------------------------------------------------------

# Thousands of digits: past int()'s digit limit (ValueError) or the float range (OverflowError) inside Bolt.
@pytest.mark.parametrize("timestamp", ["soon", "12.5", "", "-1", "1²", "9" * 400, "9" * 5000])
def test_non_numeric_timestamp_is_401(app_url: str, timestamp: str, no_tracebacks: None) -> None:
    body = b"command=%2Fpostmortem&text=help"
    headers = {**slack_headers(body), "X-Slack-Request-Timestamp": timestamp}
    assert raw_request(app_url, "POST", "/slack/events", body, headers) == (
        401, {"ok": False, "error": "invalid request timestamp"})


@pytest.mark.parametrize(("body", "content_type"), [
    (b"text=caf\xe9&command=%2Fpostmortem", "application/x-www-form-urlencoded"),  # Latin-1, not UTF-8
    (b"\xff\xfe{}", "application/json"),
    (b"{\"type\": \"event_callback\",", "application/json"),  # truncated JSON
    (b"[1, 2]", "application/json"),  # JSON, but not an object
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    (b"payload=%5B%5D", "application/x-www-form-urlencoded"),  # a payload that is a list
    # Fields Bolt reads before it checks the signature, of the wrong type.
    (b'{"type": "event_callback", "authorizations": "x", "event": {"type": "message"}}', "application/json"),
    (b'{"enterprise": 5, "team": 6, "user": 7, "channel": 8}', "application/json"),
    (b"payload=" + quote(json.dumps({"type": "block_actions", "enterprise": 5}), safe="").encode(),
     "application/x-www-form-urlencoded"),
    # Nested past Python's recursion limit.
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json"),
    (b"payload=" + b"%5B" * 100_000, "application/x-www-form-urlencoded"),
])
def test_malformed_body_is_400(app_url: str, body: bytes, content_type: str, no_tracebacks: None) -> None:
    assert raw_request(app_url, "POST", "/slack/events", body, slack_headers(body, content_type=content_type)) == (
        400, {"ok": False, "error": "malformed request body"})


def test_body_over_one_mebibyte_is_refused_from_its_content_length(app_url: str) -> None:
    """The server answers 413 at once, without waiting for (or reading) the announced body."""
    address = urlparse(app_url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {MAX_BODY_BYTES + 1}\r\nX-Slack-Request-Timestamp: {int(time.time())}\r\n\r\n".encode()
        )
        answer = connection.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413 ")


def test_a_body_of_exactly_one_mebibyte_still_reaches_bolt(app_url: str) -> None:
    body = b"text=" + b"a" * (MAX_BODY_BYTES - 5)
    status, _ = raw_request(app_url, "POST", "/slack/events", body, {**slack_headers(body), "X-Slack-Signature": "v0=0"})
    assert status == 401  # read, parsed, and refused by the signature check: not by the size limit


@pytest.mark.parametrize(("size", "status"), [(100, 200), (MAX_BODY_BYTES + 1, 413)])
def test_a_chunked_body_is_read_up_to_the_limit(runtime, fake_slack, size: int, status: int) -> None:  # type: ignore[no-untyped-def]
    """gunicorn passes a chunked body on without a Content-Length: read it (not nothing), and no more than the limit."""
    from bot.app import create_app
    from bot.slack.http import wsgi_app

    body = b"command=%2Fpostmortem&text=help&user_id=" + LEAD.encode() + b"&team_id=T0000FAKE&channel_id=C1&x="
    body += b"a" * (size - len(body))
    read_sizes: list[int] = []

    class ChunkedInput(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            read_sizes.append(-1 if size is None else size)
            return super().read(size)

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "", "HTTP_TRANSFER_ENCODING": "chunked",
               "CONTENT_TYPE": "application/x-www-form-urlencoded", "wsgi.input": ChunkedInput(body),
               **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in slack_headers(body).items()
                  if name != "Content-Type"}}
    answers: list[str] = []
    reply = b"".join(wsgi_app(create_app(runtime), runtime)(environ, lambda status, headers: answers.append(status)))
    assert int(answers[0].split()[0]) == status
    assert read_sizes == [MAX_BODY_BYTES + 1]
    if status == 200:
        assert b"/postmortem start" in reply


def test_invalid_content_length_is_400(app_url: str) -> None:
    environ_answer = raw_request(app_url, "POST", "/slack/events", b"", {"Content-Length": "x", **slack_headers(b"")})
    assert environ_answer[0] == 400


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300), timestamp=st.one_of(st.text(max_size=12), st.just(str(int(time.time())))),
       content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain"]))
def test_arbitrary_requests_never_get_a_500(app_url: str, body: bytes, timestamp: str, content_type: str) -> None:
    headers = slack_headers(body, content_type=content_type)
    if timestamp.isascii() and timestamp.isprintable() and timestamp.strip() == timestamp:
        headers["X-Slack-Request-Timestamp"] = timestamp
    status, _ = raw_request(app_url, "POST", "/slack/events", body, headers)
    assert status in {200, 400, 401, 404}


def test_a_signed_help_command_still_works(slack: SlackSim) -> None:
    reply = slack.command("help", user=LEAD)
    assert reply.status == 200 and "`/postmortem start`" in reply.body
