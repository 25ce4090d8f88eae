"""HTTP mode: a WSGI app served by waitress (a production server, unlike Bolt's dev HTTPServer).

`POST /slack/events` takes slash commands, interactivity and events. `GET /healthz` answers 200 while
the process is alive (no database involved, so a database outage does not get replicas restarted);
`GET /readyz` answers 200 only when the database is reachable and its schema is at the newest
migration, 503 with a short reason otherwise.

Whatever arrives at the edge gets an answer, never a traceback: a body over 1 MiB is refused from its
Content-Length before it is read, and a malformed timestamp, body or encoding gets 400 or 401.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltRequest
from slack_bolt.context import BoltContext
from slack_bolt.request.internals import build_context
from waitress.server import create_server

from bot.metrics import observed
from bot.runtime import Runtime
from models.db import readiness_problem

StartResponse = Callable[..., Any]
MAX_BODY_BYTES = 1024 * 1024


def bolt_request(raw_body: str, headers: dict[str, str], query: str) -> BoltRequest:
    """Build Bolt's request, mending how slack_bolt 1.30 parses form bodies.

    Bolt's `parse_body` takes any form body containing the substring "payload" for an
    interactivity payload, so `/postmortem start Malicious payload in invoice` parses to `{}`
    and reaches no listener. A form body is an interactivity payload only if it has a `payload` field.
    """
    request = BoltRequest(body=raw_body, query=query, headers=headers)
    is_json = raw_body.startswith("{") or request.content_type == "application/json"
    if not is_json and "payload" in raw_body:
        fields = dict(parse_qsl(raw_body, keep_blank_values=True))
        if "payload" not in fields:
            request.body = fields
            request.context = build_context(BoltContext({}), fields)
    return request


def wsgi_app(app: App, runtime: Runtime) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if method == "GET" and path == "/healthz":
            return _reply(start_response, 200, {"ok": True})
        if method == "GET" and path == "/readyz":
            return _readiness(start_response, runtime)
        if method == "POST" and path == "/slack/events":
            return _slack_request(app, environ, start_response)
        return _reply(start_response, 404, {"ok": False, "error": "not found"})

    return application


def _readiness(start_response: StartResponse, runtime: Runtime) -> list[bytes]:
    problem = readiness_problem(runtime.engine)
    if problem:
        return _reply(start_response, 503, {"ok": False, "error": problem})
    return _reply(start_response, 200, {"ok": True})


def _slack_request(app: App, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    length = _content_length(environ)
    if length is None:
        return _reply(start_response, 400, {"ok": False, "error": "invalid Content-Length"})
    if length > MAX_BODY_BYTES:
        return _reply(start_response, 413, {"ok": False, "error": "request too large"})
    if not _is_unix_time(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")):
        return _reply(start_response, 401, {"ok": False, "error": "invalid request timestamp"})
    if _is_chunked(environ):  # no Content-Length (gunicorn passes it on undecoded): read no more than the limit
        body = environ["wsgi.input"].read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return _reply(start_response, 413, {"ok": False, "error": "request too large"})
    else:
        body = environ["wsgi.input"].read(length)
    headers = _headers(environ)
    try:
        # Bolt reads the team, user and enterprise out of the body as it builds the request, before it checks
        # the signature, and fails on a body that is not an object or has a field of the wrong type
        # (`"enterprise": 5`): inside Bolt's dispatch that would be a 500, here it is a malformed body.
        request: BoltRequest | None = bolt_request(body.decode("utf-8"), headers, environ.get("QUERY_STRING", ""))
    except (ValueError, RecursionError, TypeError, AttributeError, KeyError, IndexError):
        # invalid UTF-8, JSON that does not parse or nests past Python's recursion limit, not an object,
        # fields of the wrong type
        request = None
    if request is None or not isinstance(request.body, dict):
        return _reply(start_response, 400, {"ok": False, "error": "malformed request body"})
    response = app.dispatch(request)
    start_response(
        f"{response.status} {_reason(response.status)}",
        [(name, value) for name, values in response.headers.items() for value in values],
    )
    return [response.body.encode("utf-8")]


def _content_length(environ: dict[str, Any]) -> int | None:
    value = environ.get("CONTENT_LENGTH") or "0"
    return int(value) if value.isascii() and value.isdigit() else None


def _is_unix_time(value: str) -> bool:
    # Bolt's verifier calls int() on it and would fail with a 500 (also on thousands of digits, past the float
    # range or int()'s digit limit); a real one is whole seconds, ten digits until the year 2286.
    return value.isascii() and value.isdigit() and len(value) <= 12


def _is_chunked(environ: dict[str, Any]) -> bool:
    return not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def _reason(status: int) -> str:
    return {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 413: "Payload Too Large",
            503: "Service Unavailable"}.get(status, "Status")


def _reply(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    start_response(f"{status} {_reason(status)}", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def make_server(app: App, runtime: Runtime, *, host: str, port: int) -> Any:
    """A waitress server; `.run()` serves, `.close()` stops, `.effective_port` is the bound port."""
    return create_server(observed(wsgi_app(app, runtime), runtime), host=host, port=port, threads=8, ident="postmortem-bot",
                         # waitress refuses a body whose length is >= this, from Content-Length, before reading it.
                         max_request_body_size=MAX_BODY_BYTES + 1)
