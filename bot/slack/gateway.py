"""The one place the bot talks to Slack's Web API.

Unfurl flags, pacing, retries and the translation of Slack errors into typed
failures all live here, so services and handlers never build a Web API call themselves.

Retries follow what a failure says about the call:
- 429: Slack refused it, so it is repeated after `Retry-After` (up to a cap; beyond it the call fails
  at once with `SlackRateLimited` and the caller retries much later).
- 5xx or a connection lost before the answer: the call may have taken effect. Calls that are safe to
  repeat are repeated; a create or a post is not (it raises `SlackOutcomeUnknown`), because only the
  caller knows how to look whether it happened (see bot.postmortems.provisioning).
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.proxy_env_variable_loader import load_http_proxy_from_env
from slack_sdk.web.internal_utils import get_user_agent
from slack_sdk.webhook import WebhookClient

from bot import metrics
from bot.slack.cache import TtlCache
from models.db import holding_a_connection

log = logging.getLogger(__name__)
Answer = TypeVar("Answer")

RETRIES_ON_RATE_LIMIT = 3
RETRIES_ON_SERVER_ERROR = 2
RETRIES_ON_CONNECTION_ERROR = 2
CONNECTION_RETRY_BACKOFF_SECONDS = 0.5
SERVER_ERROR_BACKOFF_SECONDS = 0.5
USER_CACHE_SECONDS = 300
MAX_RETRY_AFTER_SECONDS = 60.0
# After this long without a 429, a method (or channel) is back to full speed.
PACE_QUIET_PERIOD_SECONDS = 60.0
# Slack limits posting per channel: a 429 in one channel says nothing about another.
PACED_PER_CHANNEL = frozenset({"chat.postMessage"})
# Repeating these after a lost answer could create a second channel, message or upload.
NOT_SAFE_TO_REPEAT = frozenset({"conversations.create", "chat.postMessage", "views.open", "files.completeUploadExternal"})
MEMBERS_CACHE_SECONDS = 30
USER_GROUP_CACHE_SECONDS = 60

# When the work in progress is what an HTTP answer to Slack waits on (time.monotonic() deadline).
_answer_due: ContextVar[float | None] = ContextVar("slack_answer_due", default=None)


@contextmanager
def answering_within(seconds: float) -> Iterator[None]:
    """Work before an ack (a modal's submission) may need Slack, e.g. a cold member or user cache. Within
    this, no call waits out a Retry-After that would make the answer late: it fails as rate limited at
    once, so the person hears so in time instead of Slack giving up on us."""
    token = _answer_due.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _answer_due.reset(token)


class SlackCallFailed(Exception):
    """A Web API call failed for good (after retries); `error` is Slack's error code."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error


class SlackRateLimited(SlackCallFailed):
    """Slack asked us to wait longer than a request may (`retry_after` seconds): try again later."""

    def __init__(self, method: str, retry_after: float) -> None:
        super().__init__(method, "ratelimited")
        self.retry_after = retry_after


class SlackOutcomeUnknown(SlackCallFailed):
    """The answer was lost (5xx, connection closed): the call may or may not have taken effect."""


class Pacer:
    """Keeps each method, and each channel of per-channel methods, under the rate Slack allows.

    A key runs at full speed until it meets a 429. Then no call of that key goes out before the
    Retry-After has passed, and later calls are spaced to the rate that got through (calls in the
    second before the 429). After `quiet_period` without another 429 the key is back to full speed.
    Other keys never wait for it.
    """

    def __init__(self, *, quiet_period: float = PACE_QUIET_PERIOD_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self._quiet_period = quiet_period
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._allowed: dict[str, int] = {}
        self._blocked_until: dict[str, float] = {}
        self._limited_at: dict[str, float] = {}

    def wait_turn(self, key: str) -> None:
        while True:
            with self._lock:
                delay = self._delay(key, self._monotonic())
                if delay <= 0:
                    self._recent[key].append(self._monotonic())
                    return
            self._sleep(delay)

    def _delay(self, key: str, now: float) -> float:
        blocked = self._blocked_until.get(key, 0.0) - now
        if blocked > 0:
            return blocked
        if key in self._allowed and now - self._limited_at[key] >= self._quiet_period:
            del self._allowed[key]  # quiet long enough: full speed again
        recent = self._recent[key]
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        allowed = self._allowed.get(key)
        if allowed is None or len(recent) < allowed:
            return 0.0
        return 1.0 - (now - recent[0])

    def blocked_for(self, key: str) -> float:
        """Seconds until Retry-After allows `key` again (0 when it may go now)."""
        with self._lock:
            return max(0.0, self._blocked_until.get(key, 0.0) - self._monotonic())

    def rate_limited(self, key: str, *, retry_after: float) -> None:
        with self._lock:
            now = self._monotonic()
            # The call that met the 429 is counted in `recent`; the ones before it got through.
            self._allowed[key] = max(1, len(self._recent[key]) - 1)
            self._limited_at[key] = now
            self._blocked_until[key] = max(self._blocked_until.get(key, 0.0), now + retry_after)


def pace_key(method: str, arguments: dict[str, Any]) -> str:
    channel = arguments.get("channel") if method in PACED_PER_CHANNEL else None
    return f"{method}:{channel}" if channel else method


def _retry_after(headers: Any) -> float:
    values = next((v for name, v in (headers or {}).items() if name.lower() == "retry-after"), "1")
    value = values[0] if isinstance(values, list) else values
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class CappedRetryAfterHandler(RetryHandler):
    """For the helpers slack_sdk drives itself (file uploads, response_url through a proxy): wait Retry-After up to a cap."""

    def __init__(self, *, max_retry_after: float, sleep: Callable[[float], None]) -> None:
        super().__init__(max_retry_count=RETRIES_ON_RATE_LIMIT)
        self._max_retry_after = max_retry_after
        self._sleep = sleep

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is not None and response.status_code == 429 and \
            _retry_after(response.headers) <= self._max_retry_after

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                                 error: Exception | None = None) -> None:
        assert response is not None
        metrics.count_rate_limited(request.url.rsplit("/", 1)[-1])
        state.next_attempt_requested = True
        self._sleep(_retry_after(response.headers))
        state.increment_current_attempt()


class SafeConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """Repeats a helper's call after a lost connection, except a call whose effect may already have happened
    (completing an upload shares the file: a second completion shares it twice)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if request.url.rstrip("/").rsplit("/", 1)[-1] in NOT_SAFE_TO_REPEAT:
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


# -- answers to response_urls over kept-alive connections ---------------------------------------
# Every slash command is answered through its response_url. A fresh connection per answer (what
# slack_sdk's webhook client opens) costs a TCP, and with https a TLS, handshake each time: about a
# fifth of the CPU a stored note cost. Each thread keeps one open connection per host and reuses it;
# Slack's hooks host keeps connections alive.
_Connection = http.client.HTTPConnection | http.client.HTTPSConnection
# What a kept connection that the server closed while idle raises before any answer. A timeout is not
# among them: the server may have taken a post it was slow to answer, so that one is never sent again.
CLOSED_WHILE_IDLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]


class KeptAliveConnections:
    """One connection per (thread, scheme, host, port), opened on first use and kept while the server
    keeps it. Threads never share a connection, so no lock is needed around a request."""

    def __init__(self, *, timeout: float, user_agent: str) -> None:
        self._timeout = timeout
        self._user_agent = user_agent
        self._local = threading.local()
        self._tls = ssl.create_default_context()

    def post_json(self, url: str, body: dict[str, Any]) -> Reply:
        """POST `body` as JSON. Raises OSError (or http.client.HTTPException) when no answer came back.

        A connection kept from an earlier post may have been closed by the server in the meantime
        (idle timeout): that shows as CLOSED_WHILE_IDLE, and the post is sent once more on a fresh
        connection. A failure on a fresh connection is the caller's to handle."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "", parts.port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json;charset=utf-8", "User-Agent": self._user_agent}
        connections: dict[tuple[str, str, int | None], _Connection] = self._local.__dict__.setdefault("connections", {})
        kept = connections.pop(key, None)
        if kept is not None:
            try:
                return self._send(connections, key, kept, path, payload, headers)
            except CLOSED_WHILE_IDLE:
                pass
        return self._send(connections, key, self._connect(key), path, payload, headers)

    def _send(self, connections: dict[tuple[str, str, int | None], _Connection], key: tuple[str, str, int | None],
              connection: _Connection, path: str, payload: bytes, headers: dict[str, str]) -> Reply:
        try:
            connection.request("POST", path, body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
        except BaseException:
            connection.close()
            raise
        if response.will_close:
            connection.close()
        else:
            connections[key] = connection
        return Reply(status=response.status, headers=dict(response.getheaders()))

    def _connect(self, key: tuple[str, str, int | None]) -> _Connection:
        scheme, host, port = key
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self._timeout, context=self._tls)
        return http.client.HTTPConnection(host, port, timeout=self._timeout)


def _not_while_holding_the_database(method: str) -> None:
    # Flows ask Slack before or after their transactions (bot.postmortems.access.ask_slack_first); a call
    # made inside one is a bug that a slow Slack turns into a stalled bot. Said, not refused: the call is
    # still what the person needs.
    if holding_a_connection():
        log.warning("%s called while holding a database connection: a slow Slack holds the database too", method,
                    stack_info=True)


def _asked_or_last(cache: TtlCache[Answer], key: str, ask: Callable[[], Answer]) -> Answer:
    """The remembered answer, or Slack's. Inside a transaction (after access.ask_slack_first asked), Slack's
    last answer within its time even if a join or leave event made the cache forget it a moment ago: a
    change that recent is not worth holding the database for while Slack answers again."""
    if holding_a_connection() and (last := cache.last_answer(key)) is not None:
        return last
    return cache.get_or_load(key, ask)


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    tz: str
    is_bot: bool
    deleted: bool
    email: str | None


class SlackGateway:
    def __init__(self, *, token: str, base_url: str, timeout: int = 10, max_retry_after: float = MAX_RETRY_AFTER_SECONDS,
                 quiet_period: float = PACE_QUIET_PERIOD_SECONDS, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._pacer = Pacer(quiet_period=quiet_period, monotonic=monotonic, sleep=sleep)
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        # The Web API client retries nothing itself: `_call` decides, knowing the method.
        self.web_client = WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])
        self._uploads = WebClient(token=token, base_url=base_url, timeout=timeout,
                                  retry_handlers=self._helper_retry_handlers())
        self._timeout = timeout
        self._proxy = load_http_proxy_from_env()
        self._answers = KeptAliveConnections(timeout=timeout, user_agent=get_user_agent())
        self._users: TtlCache[SlackUser] = TtlCache(ttl_seconds=USER_CACHE_SECONDS, clock=monotonic)
        self._members: TtlCache[frozenset[str]] = TtlCache(ttl_seconds=MEMBERS_CACHE_SECONDS, clock=monotonic)
        self._user_groups: TtlCache[frozenset[str]] = TtlCache(ttl_seconds=USER_GROUP_CACHE_SECONDS, clock=monotonic)
        self._dm_channels: TtlCache[str] = TtlCache(ttl_seconds=USER_CACHE_SECONDS, clock=monotonic)

    def _helper_retry_handlers(self) -> list[RetryHandler]:
        return [
            CappedRetryAfterHandler(max_retry_after=self._max_retry_after, sleep=self._sleep),
            SafeConnectionErrorRetryHandler(max_retry_count=RETRIES_ON_CONNECTION_ERROR,
                                            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.5)),
        ]

    def _longest_wait(self) -> float:
        """How long a Retry-After may be waited out now: the cap, or less if an answer is due sooner."""
        due = _answer_due.get()
        return self._max_retry_after if due is None else min(self._max_retry_after, due - time.monotonic())

    def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        _not_while_holding_the_database(method)
        key = pace_key(method, arguments)
        rate_limited = lost = 0
        while True:
            blocked_for = self._pacer.blocked_for(key)
            if blocked_for > 0 and blocked_for > self._longest_wait():
                metrics.count_slack_call(method, "rate_limited")
                raise SlackRateLimited(method, blocked_for)
            self._pacer.wait_turn(key)
            try:
                response = getattr(self.web_client, method.replace(".", "_"))(**arguments)
                metrics.count_slack_call(method, "ok")
                return dict(response.data) if isinstance(response.data, dict) else {}
            except SlackApiError as error:
                status = error.response.status_code if error.response is not None else 200
                if status == 429:
                    retry_after = _retry_after(error.response.headers)
                    self._pacer.rate_limited(key, retry_after=retry_after)
                    metrics.count_rate_limited(method)
                    rate_limited += 1
                    if retry_after > self._longest_wait() or rate_limited > RETRIES_ON_RATE_LIMIT:
                        metrics.count_slack_call(method, "rate_limited")
                        raise SlackRateLimited(method, retry_after) from None
                    log.info("%s rate limited; waiting %.0f s", key, retry_after)
                    continue
                if status < 500:
                    metrics.count_slack_call(method, "error")
                    raise SlackCallFailed(method, _error_code(error)) from None
                failure: SlackCallFailed = SlackOutcomeUnknown(method, f"http_{status}")
            except OSError as error:  # connection refused, reset or timed out
                failure = SlackOutcomeUnknown(method, "connection_error")
                failure.__cause__ = error
            lost += 1
            if method in NOT_SAFE_TO_REPEAT or lost > RETRIES_ON_SERVER_ERROR:
                metrics.count_slack_call(method, failure.error)
                raise failure
            self._sleep(SERVER_ERROR_BACKOFF_SECONDS * lost)

    # -- views ---------------------------------------------------------------------------------
    def open_view(self, *, trigger_id: str, view: dict[str, Any]) -> str:
        return str(self._call("views.open", trigger_id=trigger_id, view=view)["view"]["id"])

    def update_view(self, *, view_id: str, view: dict[str, Any]) -> None:
        self._call("views.update", view_id=view_id, view=view)

    def publish_home(self, *, user_id: str, view: dict[str, Any]) -> None:
        self._call("views.publish", user_id=user_id, view=view)

    # -- messages ------------------------------------------------------------------------------
    def post_message(self, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
                     metadata: dict[str, Any] | None = None) -> str:
        """Post as the bot; `channel` may be a user ID (a DM). Returns the message ts.

        `metadata` ({"event_type": ..., "event_payload": {...}}) travels with the message, so that
        `find_message` can tell later whether a post whose answer was lost went out."""
        response = self._call(
            "chat.postMessage", channel=channel, text=text, blocks=blocks, metadata=metadata,
            unfurl_links=False, unfurl_media=False,
        )
        return str(response["ts"])

    def find_message(self, *, channel: str, event_type: str, payload: dict[str, Any], newer_than: str | None = None,
                     pages: int = 5) -> str | None:
        """The ts of the bot's newest message in `channel` carrying this metadata, if any (searching
        a few pages back)."""
        cursor = None
        for _ in range(pages):
            page = self._call("conversations.history", channel=channel, include_all_metadata=True, limit=100,
                              oldest=newer_than, cursor=cursor)
            for message in page.get("messages", []):
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == event_type and \
                        all(metadata.get("event_payload", {}).get(k) == v for k, v in payload.items()):
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def respond(
        self, *, response_url: str, text: str, blocks: list[dict[str, Any]] | None = None, replace_original: bool = False
    ) -> None:
        """Ephemeral answer to the user who ran a slash command or pressed a button, over a kept-alive
        connection (KeptAliveConnections)."""
        _not_while_holding_the_database("response_url")
        body: dict[str, Any] = {"text": text, "response_type": "ephemeral", "replace_original": replace_original,
                                "unfurl_links": False, "unfurl_media": False}
        if blocks is not None:
            body["blocks"] = blocks
        if self._proxy is not None:  # a proxy: slack_sdk's client knows how to go through it
            self._respond_through_proxy(response_url, body)
            return
        rate_limited = lost = 0
        while True:
            try:
                reply = self._answers.post_json(response_url, body)
            except CLOSED_WHILE_IDLE + (ConnectionRefusedError,) as error:  # nothing was taken: safe to send again
                lost += 1
                if lost > RETRIES_ON_CONNECTION_ERROR:
                    metrics.count_slack_call("response_url", "connection_error")
                    raise SlackCallFailed("response_url", "connection_error") from error
                self._sleep(CONNECTION_RETRY_BACKOFF_SECONDS * lost)
                continue
            except (OSError, http.client.HTTPException) as error:
                metrics.count_slack_call("response_url", "connection_error")
                raise SlackCallFailed("response_url", "connection_error") from error
            if reply.status == 429 and rate_limited < RETRIES_ON_RATE_LIMIT and \
                    _retry_after(reply.headers) <= self._max_retry_after:
                metrics.count_rate_limited("response_url")
                rate_limited += 1
                self._sleep(_retry_after(reply.headers))
                continue
            self._count_answer(reply.status)
            return

    def _respond_through_proxy(self, response_url: str, body: dict[str, Any]) -> None:
        webhook = WebhookClient(response_url, timeout=self._timeout, proxy=self._proxy,
                                retry_handlers=self._helper_retry_handlers())
        try:
            response = webhook.send_dict(body)
        except OSError as error:
            metrics.count_slack_call("response_url", "connection_error")
            raise SlackCallFailed("response_url", "connection_error") from error
        self._count_answer(response.status_code)

    @staticmethod
    def _count_answer(status: int) -> None:
        metrics.count_slack_call("response_url", "ok" if status == 200 else f"http_{status}")
        if status != 200:
            raise SlackCallFailed("response_url", f"http_{status}")

    def update_message(self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def upload_file(self, *, channel: str, filename: str, content: bytes, title: str, comment: str | None = None) -> None:
        """Share a file in a channel through files.getUploadURLExternal / files.completeUploadExternal."""
        _not_while_holding_the_database("files.completeUploadExternal")
        with _failures_as("files.completeUploadExternal"):
            self._uploads.files_upload_v2(
                channel=channel, filename=filename, content=content, title=title, initial_comment=comment
            )

    def dm_channel(self, *, user_id: str) -> str:
        """The id of the bot's DM with `user_id` (conversations.open), for what must go to that person alone."""
        return self._dm_channels.get_or_load(
            user_id, lambda: str(self._call("conversations.open", users=user_id)["channel"]["id"]))

    def pin(self, *, channel: str, ts: str) -> None:
        try:
            self._call("pins.add", channel=channel, timestamp=ts)
        except SlackCallFailed as failure:
            if failure.error != "already_pinned":
                raise

    def permalink(self, *, channel: str, ts: str) -> str:
        return str(self._call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"])

    # -- users ---------------------------------------------------------------------------------
    def user(self, user_id: str) -> SlackUser:
        """users.info, remembered for a few minutes: a modal that needs ten time zones must open fast."""
        return _asked_or_last(self._users, user_id, lambda: self._fetch_user(user_id))

    def _fetch_user(self, user_id: str) -> SlackUser:
        data = self._call("users.info", user=user_id)["user"]
        return SlackUser(
            id=data["id"],
            name=data.get("real_name") or data.get("name") or data["id"],
            tz=data.get("tz") or "UTC",
            is_bot=bool(data.get("is_bot")) or data["id"] == "USLACKBOT",
            deleted=bool(data.get("deleted")),
            email=(data.get("profile") or {}).get("email"),
        )

    def known_user(self, user_id: str) -> SlackUser | None:
        """The user as last seen, however long ago, without asking Slack (for work before an ack)."""
        return self._users.peek(user_id)

    def user_group_members(self, *, user_group: str) -> frozenset[str]:
        """usergroups.users.list, remembered for a minute: every scorecard request and Home tab asks."""
        return self._user_groups.get_or_load(
            user_group, lambda: frozenset(self._call("usergroups.users.list", usergroup=user_group).get("users", [])))

    # -- channels ------------------------------------------------------------------------------
    def create_private_channel(self, *, name: str) -> str:
        return str(self._call("conversations.create", name=name, is_private=True)["channel"]["id"])

    def private_channel_named(self, *, name: str) -> str | None:
        """The id of the private channel called `name` that the bot is in (it created it), if any."""
        cursor = None
        while True:
            page = self._call("conversations.list", types="private_channel", exclude_archived=True, limit=200,
                              cursor=cursor)
            found = next((c["id"] for c in page.get("channels", []) if c.get("name") == name), None)
            if found:
                return str(found)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def invite(self, *, channel: str, user_id: str) -> None:
        """Invite one user; someone already there is not an error."""
        try:
            self._call("conversations.invite", channel=channel, users=user_id)
        except SlackCallFailed as failure:
            if failure.error != "already_in_channel":
                raise
        finally:
            self.forget_members(channel=channel)

    def channel_members(self, *, channel: str) -> frozenset[str]:
        """conversations.members, remembered briefly: every command in a review channel checks membership."""
        return _asked_or_last(self._members, channel, lambda: self._fetch_members(channel))

    def remembered_channel_members(self, *, channel: str) -> frozenset[str] | None:
        """channel_members if remembered now, without asking Slack (None: not remembered)."""
        return self._members.remembered(channel)

    def forget_members(self, *, channel: str) -> None:
        """Someone joined or left `channel`: ask Slack next time."""
        self._members.forget(channel)

    def _fetch_members(self, channel: str) -> frozenset[str]:
        members: set[str] = set()
        cursor = None
        while True:
            page = self._call("conversations.members", channel=channel, limit=200, cursor=cursor)
            members.update(page.get("members", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return frozenset(members)

    def archive_channel(self, *, channel: str) -> None:
        try:
            self._call("conversations.archive", channel=channel)
        except SlackCallFailed as failure:
            if failure.error != "already_archived":
                raise

    def unarchive_channel(self, *, channel: str) -> bool:
        """True if this call unarchived the channel; False if it was not archived (any more)."""
        try:
            self._call("conversations.unarchive", channel=channel)
        except SlackCallFailed as failure:
            if failure.error != "not_archived":
                raise
            return False
        return True

    def describe_channel(self, *, channel: str, topic: str, purpose: str) -> None:
        """`topic` and `purpose` come from `safe_text.topic`: escaped, defanged and within 250 characters."""
        self._call("conversations.setTopic", channel=channel, topic=topic)
        self._call("conversations.setPurpose", channel=channel, purpose=purpose)


def _error_code(error: SlackApiError) -> str:
    return str(error.response.get("error", "unknown_error")) if error.response is not None else "unknown_error"


@contextmanager
def _failures_as(method: str) -> Iterator[None]:
    """Errors of the helpers slack_sdk drives itself, after its retries, as typed failures."""
    try:
        yield
    except SlackApiError as error:
        code = _error_code(error)
        status = error.response.status_code if error.response is not None else 200
        if status == 429:
            metrics.count_slack_call(method, "rate_limited")
            raise SlackRateLimited(method, _retry_after(error.response.headers)) from None
        if status >= 500:
            metrics.count_slack_call(method, f"http_{status}")
            # As in `_call`: the step that shares may have taken effect; a step before it shared nothing.
            failed_step = str(getattr(error.response, "api_url", "")).rsplit("/", 1)[-1]
            unknown = failed_step in NOT_SAFE_TO_REPEAT
            raise (SlackOutcomeUnknown if unknown else SlackCallFailed)(method, f"http_{status}") from None
        metrics.count_slack_call(method, "error")
        raise SlackCallFailed(method, code) from None
    except OSError as error:  # connection refused or reset after the retries
        metrics.count_slack_call(method, "connection_error")
        raise SlackOutcomeUnknown(method, "connection_error") from error
    metrics.count_slack_call(method, "ok")

