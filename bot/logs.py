"""Logging: one line per event, as JSON or text, each naming the request it belongs to.

Every line carries `request_id`, `team`, `user` and `listener` (empty outside a request), bound in
contextvars by `bind_request` and carried into Bolt's after-the-ack threads by `ContextExecutor`.

What never reaches a log: tokens, the signing secret, request bodies, SQL parameters (the engine
hides them) and text people typed. Bolt logs the raw body of a request whose signature fails, and
at DEBUG every ack's body; `_BodyScrubber` replaces the first and drops the second (Bolt sets its own
loggers to the root's level, so LOG_LEVEL=DEBUG reaches them); slack_sdk and urllib3, which print
request bodies at DEBUG, stay at INFO or quieter.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from pythonjsonlogger.json import JsonFormatter
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

LOG_FORMATS = ("json", "text")
TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [request=%(request_id)s team=%(team)s user=%(user)s "
    "listener=%(listener)s]: %(message)s"
)
JSON_FIELDS = ("asctime", "levelname", "name", "process", "request_id", "team", "user", "listener", "message")
# Libraries whose DEBUG output includes request or response bodies (tokens, what people typed).
CHATTY_LOGGERS = ("slack_bolt", "slack_sdk", "urllib3", "gunicorn.access")
# Libraries that say too much at INFO: SQLAlchemy (statements, parameters), APScheduler (every tick).
QUIET_LOGGERS = ("sqlalchemy", "apscheduler")
# PyMISP logs the request body (indicators, the title) with every error it meets; bot/intel/misp.py
# logs its own line instead.
SILENCED_LOGGERS = ("pymisp",)


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    team: str = ""
    user: str = ""
    listener: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("request_context", default=RequestContext())


def current() -> RequestContext:
    return _current.get()


@contextmanager
def bind_request(request_id: str) -> Iterator[None]:
    """Everything logged inside, in this thread or a `ContextExecutor` task it starts, names this request."""
    token = _current.set(RequestContext(request_id=request_id))
    try:
        yield
    finally:
        _current.reset(token)


def bind_caller(*, team: str, user: str, listener: str) -> None:
    """Add who sent the request and which listener takes it, once Bolt has parsed it."""
    _current.set(replace(_current.get(), team=team, user=user, listener=listener))


def describe_listener(body: dict[str, Any], subcommands: Iterable[str]) -> str:
    """A short, bounded name for what a request asks (a metric label): never free text someone typed."""
    if body.get("command"):
        word = str(body.get("text") or "").strip().split(" ", 1)[0].lower()
        known = set(subcommands) | {"", "help"}
        return f"{body['command']} {(word or 'help') if word in known else 'other'}"
    kind = str(body.get("type") or "other")
    if kind == "block_actions":
        actions = body.get("actions")
        return "action:" + _field(actions[0] if isinstance(actions, list) and actions else None, "action_id")
    if kind in {"view_submission", "view_closed"}:
        return f"{kind}:" + _field(body.get("view"), "callback_id")
    if kind in {"shortcut", "message_action"}:
        return "shortcut:" + _field(body, "callback_id")
    if kind == "event_callback":
        return "event:" + _field(body.get("event"), "type")
    return kind[:64]


def _field(part: object, name: str) -> str:
    # A body of an unexpected shape names no listener rather than failing the request.
    return str(part.get(name, ""))[:64] if isinstance(part, dict) else ""


class RequestContextMiddleware(Middleware):
    """A Bolt global middleware (it runs after the signature check): who asks, and for which listener.
    A Middleware class, not a function: Bolt inspects a function's arguments on every request."""

    def __init__(self, subcommands: Callable[[], Iterable[str]]) -> None:
        self._subcommands = subcommands

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002 - Bolt's name
        if not _current.get().request_id:  # Socket Mode: no HTTP layer gave this request an id
            _current.set(RequestContext(request_id=uuid.uuid4().hex[:16]))
        context = req.context
        bind_caller(team=context.team_id or "", user=context.user_id or "",
                    listener=describe_listener(req.body, self._subcommands()))
        return next()


class ContextExecutor(ThreadPoolExecutor):
    """Bolt runs a listener's after-the-ack part in its executor: keep the request's log context there."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)


class _RequestFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        record.request_id, record.team, record.user, record.listener = (
            context.request_id, context.team, context.user, context.listener)
        return True


class _BodyScrubber(logging.Filter):
    """slack_bolt prints whole request bodies in a few messages; keep what happened, drop the body. It also warns
    at every start that is no news: the app gives Bolt the gateway's client on purpose, and Bolt reads
    SLACK_BOT_TOKEN from the environment by itself, then says that token goes unused."""

    REPLACEMENTS = {
        "Invalid request signature detected": "rejected a request: invalid or stale signature",
        "A global middleware": "a global middleware gave no response",
        "Unhandled request": "no listener took this request",
        "Responding with": None,  # DEBUG: the ack's body, often the user's own text echoed back
        "As you gave `client` as well, `token` will be unused": None,
    }

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        for prefix, replacement in self.REPLACEMENTS.items():
            if message.startswith(prefix):
                if replacement is None:
                    return False
                record.msg, record.args = replacement, None
        return True


# PostgreSQL explains a constraint violation with the row's values ("DETAIL:  Key (value)=(evil.example)
# already exists"): what someone typed. SQLAlchemy's "[parameters: ...]" line is already off (hide_parameters).
_DATA_IN_ERRORS = re.compile(r"^(DETAIL:|\[parameters:).*$", re.MULTILINE)


def _without_data(text: str) -> str:
    return _DATA_IN_ERRORS.sub(lambda match: match.group(1) + " (hidden: it may hold what people typed)", text)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # The whole line: another handler may have cached the traceback text on the record already.
        return _without_data(super().format(record))


class _JsonFormatter(JsonFormatter):
    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return _without_data(super().formatException(ei))


def make_handler(log_format: str, stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter(" ".join(f"%({field})s" for field in JSON_FIELDS)))
    else:
        handler.setFormatter(_TextFormatter(TEXT_FORMAT))
    handler.addFilter(_RequestFields())
    handler.addFilter(_BodyScrubber())
    return handler


def configure(*, level: str, log_format: str) -> None:
    """Route every logger (ours, Bolt's, gunicorn's) through one handler on the root logger."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(make_handler(log_format))
    root.setLevel(level)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in SILENCED_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    for name in ("gunicorn.error", "gunicorn.access"):
        gunicorn_logger = logging.getLogger(name)
        gunicorn_logger.handlers.clear()
        gunicorn_logger.propagate = True
