"""A stateful double of Slack's Web API on 127.0.0.1:<random port>: the tests and `postmortem-bot demo` run
the real app against it.

It holds users (with `tz`), channels, members, messages, pins, views and files, answers with
Slack's real error codes, and checks each call against Slack's own contract in `../shared/slack-specs`
(or `SLACK_SPECS_DIR`) when that folder is there: unknown methods and missing required arguments are
refused, and every `blocks` or `view` is validated against the Block Kit JSON Schema (plus the
50-blocks-per-message and 24-character modal title limits).

It can also be slow and failing on demand, per method (and per channel): a delay before each
answer, 429 with Retry-After, 5xx, or a connection closed without an answer; a failure injected
with `effect_first=True` happens after the call took effect, which is how a client comes to not
know that its channel was created or its message posted.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlparse

# Next to a source checkout; an installed wheel finds no specs there and skips the checks.
REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS_DIR = Path(os.environ.get("SLACK_SPECS_DIR", REPO_ROOT.parent / "shared" / "slack-specs"))
BOT_TOKEN = "xoxb-fake-bot-token"
BOT_USER_ID = "UBOT000001"
TEAM_ID = "T0000FAKE"
TRIGGER_LIFETIME_SECONDS = 3.0
MESSAGE_BLOCK_LIMIT = 50
MODAL_TITLE_LIMIT = 24


def specs_available() -> bool:
    return (SPECS_DIR / "methods").is_dir() and (SPECS_DIR / "block-kit.schema.json").is_file()


class SlackError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Call:
    method: str
    args: dict[str, Any]


@dataclass
class Injected:
    """A canned failure for the next call(s) of one method, optionally only those naming `channel` (or, for an
    upload, `filename`)."""

    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    reset: bool = False  # close the connection without answering
    effect_first: bool = False  # perform the call, then fail: the client cannot tell it happened
    channel: str | None = None
    filename: str | None = None

    def matches(self, args: dict[str, Any]) -> bool:
        return (self.channel is None or args.get("channel") == self.channel) and \
            (self.filename is None or args.get("filename") == self.filename)


# `_api`'s answer when the connection is to be closed without a response.
RESET = (0, {}, b"")
# inject() takes this for the answers posted to response_urls.
RESPONSE_URL = "response_url"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of clients opening connections at once (a
    # benchmark's answers) overflowed it, and each dropped SYN came back a second later.
    request_queue_size = 128


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool
    creator: str
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    is_archived: bool = False
    is_im: bool = False


class _Contract:
    """Slack's method specs and Block Kit schema, loaded once per process."""

    _instance: _Contract | None = None

    def __init__(self) -> None:
        self.methods: dict[str, dict[str, Any]] = {}
        self.block_validator: Any = None
        if not specs_available():
            warnings.warn(
                f"Slack specs not found at {SPECS_DIR}: the fake Slack skips method-argument and Block Kit schema checks.",
                stacklevel=2,
            )
            return
        for path in (SPECS_DIR / "methods").glob("*.json"):
            self.methods[path.stem] = json.loads(path.read_text())
        try:  # a test extra: the demo runs on the runtime dependencies alone
            from jsonschema import Draft202012Validator
        except ImportError:
            warnings.warn("jsonschema is not installed: the fake Slack skips Block Kit schema checks.", stacklevel=2)
            return
        schema = json.loads((SPECS_DIR / "block-kit.schema.json").read_text())
        self.block_validator = Draft202012Validator(schema)

    @classmethod
    def load(cls) -> _Contract:
        if cls._instance is None:
            cls._instance = _Contract()
        return cls._instance

    def required_args(self, method: str) -> list[str]:
        spec = self.methods.get(method)
        if spec is None:
            return []
        return [name for name in spec["args"].get("required", []) if name != "token"]

    def block_errors(self, blocks: list[Any]) -> list[str]:
        if self.block_validator is None:
            return []
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in self.block_validator.iter_errors(blocks)]


class FakeSlack:
    def __init__(self) -> None:
        self.contract = _Contract.load()
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []  # posts to response_url
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.pins: dict[str, list[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, float] = {}
        self.user_groups: dict[str, list[str]] = {}
        self.used_triggers: set[str] = set()
        self.injected: dict[str, list[Injected]] = {}
        self.rate_limits: dict[str, int] = {}  # method -> calls allowed per wall-clock second
        self.delays: dict[str, float] = {}  # method -> seconds each call takes
        self._window: dict[str, tuple[int, int]] = {}  # method -> (second, calls in it)
        self.rate_limited = 0  # how many 429s the rate limits answered
        self.connections_opened = 0  # TCP connections accepted (clients may keep them alive)
        self._open_connections: set[socket.socket] = set()
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self.add_user(BOT_USER_ID, name="postmortem-bot", is_bot=True)
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def close_kept_connections(self) -> None:
        """Close the connections clients keep open between requests, as a server's idle timeout does."""
        with self.lock:
            for connection in self._open_connections:
                connection.shutdown(socket.SHUT_RDWR)

    # -- arranging state from tests ---------------------------------------------------------------
    def add_user(
        self, user_id: str, *, name: str | None = None, tz: str = "UTC", is_bot: bool = False,
        deleted: bool = False, email: str | None = None,
    ) -> None:
        with self.lock:
            self.users[user_id] = {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": name or user_id.lower(),
                "real_name": name or user_id,
                "tz": tz,
                "is_bot": is_bot,
                "deleted": deleted,
                "profile": {"email": email} if email else {},
            }

    def add_channel(self, name: str, *, members: list[str] = (), is_private: bool = False) -> str:  # type: ignore[assignment]
        with self.lock:
            channel = Channel(id=f"C{next(self._ids):08d}", name=name, is_private=is_private, creator=BOT_USER_ID)
            channel.members.update(members)
            self.channels[channel.id] = channel
            self.messages[channel.id] = []
            return channel.id

    def add_user_group(self, group_id: str, *, members: list[str]) -> None:
        with self.lock:
            self.user_groups[group_id] = list(members)

    def add_message(self, channel_id: str, *, user: str, text: str) -> dict[str, Any]:
        """A message someone posted (not the bot), e.g. in the incident war room."""
        with self.lock:
            message = {"type": "message", "ts": self._new_ts(), "user": user, "text": text}
            self.messages[channel_id].append(message)
            return message

    def issue_trigger(self) -> str:
        """A fresh trigger_id, as Slack puts in a slash command or interaction payload."""
        with self.lock:
            trigger_id = f"{next(self._ids)}.{int(time.time())}.fake"
            self.triggers[trigger_id] = time.monotonic()
            return trigger_id

    def expire_trigger(self, trigger_id: str) -> None:
        with self.lock:
            self.triggers[trigger_id] = time.monotonic() - TRIGGER_LIFETIME_SECONDS - 1

    def response_url(self) -> str:
        return f"{self.url}response/{next(self._ids)}"

    def inject(self, method: str, *, error: str | None = None, times: int = 1, status: int = 200,
               retry_after: int | None = None, reset: bool = False, effect_first: bool = False,
               channel: str | None = None, filename: str | None = None) -> None:
        """Make the next `times` calls of `method` (naming `channel` or `filename`, if given) fail with `error`, with
        HTTP `status` (429 with `retry_after`, 5xx), or with a connection closed unanswered (`reset`).
        With `effect_first`, the call takes effect before it fails."""
        with self.lock:
            self.injected.setdefault(method, []).extend(
                Injected(error=error, status=status, retry_after=retry_after, reset=reset, effect_first=effect_first,
                         channel=channel, filename=filename)
                for _ in range(times)
            )

    def limit_rate(self, method: str, *, per_second: int) -> None:
        """Answer 429 with Retry-After once `method` passes `per_second` calls in a second, as Slack does."""
        with self.lock:
            self.rate_limits[method] = per_second

    def slow(self, method: str, *, seconds: float) -> None:
        """Make every later call of `method` take `seconds` before it is answered (it is recorded at once)."""
        with self.lock:
            self.delays[method] = seconds

    def _over_rate_limit(self, method: str) -> bool:
        limit = self.rate_limits.get(method)
        if limit is None:
            return False
        second = int(time.time())
        window, calls = self._window.get(method, (second, 0))
        calls = calls + 1 if window == second else 1
        self._window[method] = (second, calls)
        if calls > limit:
            self.rate_limited += 1
            return True
        return False

    # -- reading state from tests -----------------------------------------------------------------
    def calls_to(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [call.args for call in self.calls if call.method == method]

    def channel_named(self, name: str) -> Channel:
        with self.lock:
            return next(c for c in self.channels.values() if c.name == name)

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages.get(self._dm_channel_id(user_id), []))

    def channels_named(self, prefix: str) -> list[Channel]:
        with self.lock:
            return [c for c in self.channels.values() if c.name.startswith(prefix)]

    def latest_view(self) -> dict[str, Any]:
        with self.lock:
            return list(self.views.values())[-1]

    # -- the HTTP side ----------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keeps connections open between requests, as Slack does (every answer has a Content-Length).
            protocol_version = "HTTP/1.1"
            # One send per response, as a real server's: headers and body written apart met Nagle's algorithm
            # here and the client's delayed ACK there, and a kept-alive connection waited ~40 ms for each body.
            wbufsize = -1

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake.connections_opened += 1
                    fake._open_connections.add(self.connection)

            def finish(self) -> None:
                with fake.lock:
                    fake._open_connections.discard(self.connection)
                super().finish()

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = urlparse(self.path).path
                if path.startswith("/api/"):
                    status, headers, body = fake._api(path[len("/api/"):], self.headers, raw)
                elif path.startswith("/response/"):
                    status, headers, body = fake._response_url(path, raw)
                elif path.startswith("/upload/"):
                    status, headers, body = fake._upload(path, raw)
                else:
                    status, headers, body = 404, {}, b"not found"
                if (status, headers, body) == RESET:
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _response_url(self, path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            pending = self.injected.get(RESPONSE_URL, [])
            if pending:  # inject(RESPONSE_URL, ...): status (429 with retry_after) or reset, nothing recorded
                failure = pending.pop(0)
                if failure.reset:
                    return RESET
                return failure.status, {"Content-Type": "text/plain", "Retry-After": str(failure.retry_after or 1)}, \
                    b"refused"
            message = json.loads(raw or b"{}")
            message["response_url"] = self.url + path.lstrip("/")
            self.responses.append(message)
        return 200, {"Content-Type": "text/plain"}, b"ok"

    def _upload(self, path: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        file_id = path.rsplit("/", 1)[-1]
        with self.lock:
            if file_id not in self.files:
                return 404, {}, b"unknown upload"
            self.files[file_id]["content"] = raw
        return 200, {"Content-Type": "text/plain"}, b"OK - " + str(len(raw)).encode()

    def _api(self, method: str, headers: Any, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        args = self._parse_args(headers, raw)
        json_headers = {"Content-Type": "application/json; charset=utf-8"}
        with self.lock:
            self.calls.append(Call(method, args))
            if self._over_rate_limit(method):
                return 429, {**json_headers, "Retry-After": "1"}, json.dumps({"ok": False, "error": "ratelimited"}).encode()
            pending = self.injected.get(method, [])
            failure = next((f for f in pending if f.matches(args)), None)
            if failure is not None:
                pending.remove(failure)
                if failure.effect_first:
                    self._answer(method, args)
                if failure.reset:
                    return RESET
                if failure.status == 429:
                    return 429, {**json_headers, "Retry-After": str(failure.retry_after or 1)}, \
                        json.dumps({"ok": False, "error": "ratelimited"}).encode()
                if failure.status != 200:
                    return failure.status, {"Content-Type": "text/plain"}, b"upstream error"
                return 200, json_headers, json.dumps({"ok": False, "error": failure.error}).encode()
            delay = self.delays.get(method, 0.0)
            if not delay:  # recorded and answered in one step, as tests reading calls then state expect
                return 200, json_headers, json.dumps(self._answer(method, args)).encode()
        time.sleep(delay)  # outside the lock: one slow method must not hold up the others
        with self.lock:
            return 200, json_headers, json.dumps(self._answer(method, args)).encode()

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._dispatch(method, args)
        except SlackError as error:
            return {"ok": False, "error": error.error, **error.extra}

    @staticmethod
    def _parse_args(headers: Any, raw: bytes) -> dict[str, Any]:
        args: dict[str, Any]
        if (headers.get("Content-Type") or "").startswith("application/json"):
            args = json.loads(raw or b"{}")
        else:
            args = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        authorization = headers.get("Authorization") or ""
        if authorization.startswith("Bearer "):
            args.setdefault("token", authorization[len("Bearer "):])
        return args

    def _dispatch(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if self.contract.methods and method not in self.contract.methods:
            raise SlackError("unknown_method")
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = getattr(
            self, "_m_" + method.replace(".", "_"), None
        )
        if handler is None:
            if self.contract.methods:
                # A real method the fake does not model yet: fail loudly rather than pretend.
                raise SlackError("fake_slack_method_not_implemented")
            raise SlackError("unknown_method")
        token = args.get("token")
        if not token:
            raise SlackError("not_authed")
        if token != BOT_TOKEN:
            raise SlackError("invalid_auth")
        missing = [name for name in self.contract.required_args(method) if args.get(name) in (None, "")]
        if missing:
            raise SlackError("invalid_arguments", response_metadata={"messages": [f"missing required field: {m}" for m in missing]})
        return {"ok": True, **handler(args)}

    # -- helpers ------------------------------------------------------------------------------------
    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id)
        if user is None:
            raise SlackError("user_not_found")
        return user

    def _dm_channel_id(self, user_id: str) -> str:
        return "D" + user_id[1:]

    def _channel(self, channel_id: str, *, for_writing: bool = False) -> Channel:
        if channel_id.startswith("U") or channel_id.startswith("W"):
            self._user(channel_id)
            channel_id = self._dm_channel_id(channel_id)
        if channel_id.startswith("D") and channel_id not in self.channels:
            user_id = "U" + channel_id[1:]
            self._user(user_id)
            self.channels[channel_id] = Channel(channel_id, "", True, BOT_USER_ID, {BOT_USER_ID, user_id}, is_im=True)
            self.messages[channel_id] = []
        channel = self.channels.get(channel_id)
        if channel is not None and channel.is_im:
            # A DM with a deactivated user is archived.
            channel.is_archived = bool(self.users.get("U" + channel_id[1:], {}).get("deleted"))
        if channel is None or (channel.is_private and BOT_USER_ID not in channel.members):
            raise SlackError("channel_not_found")
        if for_writing and channel.is_archived:
            raise SlackError("is_archived")
        return channel

    @staticmethod
    def _json_arg(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def _check_message_blocks(self, args: dict[str, Any]) -> list[dict[str, Any]] | None:
        blocks = self._json_arg(args.get("blocks"))
        if blocks in (None, []):
            if not args.get("text"):
                raise SlackError("no_text")
            return None
        if not isinstance(blocks, list) or len(blocks) > MESSAGE_BLOCK_LIMIT:
            raise SlackError("invalid_blocks", errors=[f"a message takes at most {MESSAGE_BLOCK_LIMIT} blocks"])
        errors = self.contract.block_errors(blocks)
        if errors:
            raise SlackError("invalid_blocks", errors=errors)
        return blocks

    def _check_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._json_arg(args.get("view"))
        if not isinstance(view, dict) or view.get("type") not in {"modal", "home"}:
            raise SlackError("invalid_arguments")
        for key in ("title", "submit", "close"):
            text = (view.get(key) or {}).get("text", "")
            if len(text) > MODAL_TITLE_LIMIT:
                raise SlackError("invalid_arguments", errors=[f"{key} must be at most {MODAL_TITLE_LIMIT} characters"])
        errors = self.contract.block_errors(view.get("blocks") or [])
        if errors:
            raise SlackError("invalid_arguments", errors=errors)
        return view

    def _store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._ids):08d}"
        stored = {**view, "id": view_id, "team_id": TEAM_ID, "hash": f"{time.time()}.{view_id}",
                  "state": {"values": {}}}
        self.views[view_id] = stored
        return stored

    # -- methods --------------------------------------------------------------------------------------
    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://fake.slack.com/", "team": "Fake", "team_id": TEAM_ID, "user": "postmortem-bot",
                "user_id": BOT_USER_ID, "bot_id": "B0000FAKE"}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user(args["user"])}

    def _m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        trigger_id = args["trigger_id"]
        issued = self.triggers.get(trigger_id)
        if issued is None:
            raise SlackError("invalid_trigger_id")
        if trigger_id in self.used_triggers:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - issued > TRIGGER_LIFETIME_SECONDS:
            raise SlackError("expired_trigger_id")
        view = self._check_view(args)
        self.used_triggers.add(trigger_id)
        return {"view": self._store_view(view)}

    def _m_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = args.get("view_id")
        if view_id not in self.views:
            raise SlackError("not_found")
        return {"view": self._store_view(self._check_view(args), view_id)}

    def _m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        self._user(args["user_id"])
        view = self._check_view(args)
        self.home_views[args["user_id"]] = view
        return {"view": {**view, "id": f"V{next(self._ids):08d}"}}

    def _m_conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args["name"]
        if len(name) > 80:
            raise SlackError("invalid_name_maxlength")
        if not name or any(ch not in "abcdefghijklmnopqrstuvwxyz0123456789-_" for ch in name):
            raise SlackError("invalid_name_specials")
        if any(channel.name == name for channel in self.channels.values()):
            raise SlackError("name_taken")
        is_private = str(args.get("is_private")).lower() in {"true", "1"}
        channel_id = ("G" if is_private else "C") + f"{next(self._ids):08d}"
        channel = Channel(channel_id, name, is_private, BOT_USER_ID, {BOT_USER_ID})
        self.channels[channel_id] = channel
        self.messages[channel_id] = []
        return {"channel": {"id": channel_id, "name": name, "is_private": is_private, "is_channel": not is_private,
                            "is_group": is_private, "creator": BOT_USER_ID}}

    @staticmethod
    def _describe(channel: Channel) -> dict[str, Any]:
        return {"id": channel.id, "name": channel.name, "is_private": channel.is_private,
                "is_channel": not channel.is_private and not channel.is_im, "is_group": channel.is_private and not channel.is_im,
                "is_im": channel.is_im, "is_archived": channel.is_archived, "creator": channel.creator,
                "is_member": BOT_USER_ID in channel.members}

    def _m_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._describe(self._channel(args["channel"]))}

    def _m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """Public channels, and the private ones the bot is in; a page of `limit` from `cursor`."""
        types = set(str(args.get("types") or "public_channel").split(","))
        exclude_archived = str(args.get("exclude_archived")).lower() in {"true", "1"}
        listed = [
            c for c in self.channels.values()
            if not c.is_im and ("private_channel" if c.is_private else "public_channel") in types
            and (not c.is_private or BOT_USER_ID in c.members) and not (exclude_archived and c.is_archived)
        ]
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 100)
        page = listed[start:start + limit]
        next_cursor = str(start + limit) if start + limit < len(listed) else ""
        return {"channels": [self._describe(c) for c in page], "response_metadata": {"next_cursor": next_cursor}}

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first; `metadata` only with include_all_metadata, as Slack does."""
        channel = self._channel(args["channel"])
        with_metadata = str(args.get("include_all_metadata")).lower() in {"true", "1"}
        oldest = float(args.get("oldest") or 0)
        messages = [m for m in reversed(self.messages[channel.id]) if float(m["ts"]) > oldest]
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 100)
        page = [{k: v for k, v in m.items() if k != "metadata" or with_metadata} for m in messages[start:start + limit]]
        has_more = start + limit < len(messages)
        return {"messages": page, "has_more": has_more,
                "response_metadata": {"next_cursor": str(start + limit) if has_more else ""}}

    def _m_conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"], for_writing=True)
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        user_ids = [u.strip() for u in str(args["users"]).split(",") if u.strip()]
        for user_id in user_ids:
            user = self._user(user_id)
            if user_id == BOT_USER_ID:
                raise SlackError("cant_invite_self")
            if user["deleted"]:
                raise SlackError("cant_invite")
            if user_id in channel.members:
                raise SlackError("already_in_channel")
        channel.members.update(user_ids)
        return {"channel": {"id": channel.id, "name": channel.name}}

    def _m_conversations_setTopic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"], for_writing=True)
        channel.topic = args["topic"]
        return {"channel": {"id": channel.id, "topic": {"value": channel.topic}}}

    def _m_conversations_setPurpose(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"], for_writing=True)
        channel.purpose = args["purpose"]
        return {"channel": {"id": channel.id, "purpose": {"value": channel.purpose}}}

    def _m_conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"])
        if channel.is_archived:
            raise SlackError("already_archived")
        channel.is_archived = True
        return {}

    def _m_conversations_unarchive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"])
        if not channel.is_archived:
            raise SlackError("not_archived")
        channel.is_archived = False
        return {}

    def _m_conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"])
        return {"members": sorted(channel.members), "response_metadata": {"next_cursor": ""}}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """A 1:1 DM with the bot (`users` names one person); multi-person DMs are not modelled."""
        users = [u.strip() for u in str(args.get("users") or "").split(",") if u.strip()]
        if len(users) != 1:
            raise SlackError("not_implemented_in_fake" if users else "users_list_not_supplied")
        return {"channel": {"id": self._channel(users[0]).id}}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        members = self.user_groups.get(args["usergroup"])
        if members is None:
            raise SlackError("no_such_subteam")
        return {"users": list(members)}

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"], for_writing=True)
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        blocks = self._check_message_blocks(args)
        message = {"type": "message", "ts": self._new_ts(), "user": BOT_USER_ID, "text": args.get("text", ""),
                   "blocks": blocks, "unfurl_links": args.get("unfurl_links"), "unfurl_media": args.get("unfurl_media")}
        metadata = self._json_arg(args.get("metadata"))
        if metadata is not None:
            if not isinstance(metadata, dict) or not metadata.get("event_type") or \
                    not isinstance(metadata.get("event_payload"), dict):
                raise SlackError("invalid_metadata_format")
            message["metadata"] = {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}
        self.messages[channel.id].append(message)
        return {"channel": channel.id, "ts": message["ts"], "message": message}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"], for_writing=True)
        if args["user"] not in channel.members:
            raise SlackError("user_not_in_channel")
        self._check_message_blocks(args)
        return {"message_ts": self._new_ts()}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"], for_writing=True)
        message = next((m for m in self.messages[channel.id] if m["ts"] == args["ts"]), None)
        if message is None:
            raise SlackError("message_not_found")
        message["blocks"] = self._check_message_blocks(args)
        message["text"] = args.get("text", "")
        return {"channel": channel.id, "ts": message["ts"]}

    def _m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"])
        if not any(m["ts"] == args["message_ts"] for m in self.messages[channel.id]):
            raise SlackError("message_not_found")
        return {"channel": channel.id,
                "permalink": f"https://fake.slack.com/archives/{channel.id}/p{args['message_ts'].replace('.', '')}"}

    def _m_pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(args["channel"], for_writing=True)
        ts = args.get("timestamp")
        if not any(m["ts"] == ts for m in self.messages[channel.id]):
            raise SlackError("message_not_found")
        pins = self.pins.setdefault(channel.id, [])
        if ts in pins:
            raise SlackError("already_pinned")
        pins.append(ts)
        return {}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "filename": args["filename"], "length": int(args["length"]),
                               "title": args.get("title"), "content": None, "channels": []}
        return {"upload_url": f"{self.url}upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        entries = self._json_arg(args["files"])
        channel_id = args.get("channel_id")
        if channel_id:
            self._channel(channel_id, for_writing=True)
        completed = []
        for entry in entries:
            stored = self.files.get(entry["id"])
            if stored is None or stored["content"] is None:
                raise SlackError("file_not_found")
            stored["title"] = entry.get("title") or stored["title"]
            if channel_id:
                stored["channels"].append(channel_id)
            completed.append({"id": stored["id"], "title": stored["title"], "name": stored["filename"]})
        return {"files": completed}
