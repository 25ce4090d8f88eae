"""The one place the bot talks to Slack's Web API.

Unfurl flags, retries (429 with Retry-After, 5xx, connection errors) and
the translation of Slack errors into `SlackCallFailed` all live here, so services and handlers
never build a Web API call themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from bot import metrics
from bot.slack_cache import TtlCache

log = logging.getLogger(__name__)

RETRIES_ON_RATE_LIMIT = 3
RETRIES_ON_SERVER_ERROR = 2
RETRIES_ON_CONNECTION_ERROR = 2
USER_CACHE_SECONDS = 300
MEMBERS_CACHE_SECONDS = 30


class SlackCallFailed(Exception):
    """A Web API call failed for good (after retries); `error` is Slack's error code."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error


class AnyServerErrorRetryHandler(RetryHandler):
    """slack_sdk's own handler retries only 500 and 503; a 502 or 504 from a proxy is as transient."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code >= 500


class Pacer:
    """Keeps each method under the rate Slack showed it allows.

    Until a method meets a 429 it runs at full speed; the 429 tells how many calls fit in a second
    (those that got through), and later calls wait their turn instead of hitting the limit again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._allowed: dict[str, int] = {}

    def wait_turn(self, method: str) -> None:
        while True:
            with self._lock:
                recent, now = self._recent[method], time.monotonic()
                while recent and now - recent[0] >= 1.0:
                    recent.popleft()
                allowed = self._allowed.get(method)
                if allowed is None or len(recent) < allowed:
                    recent.append(now)
                    return
                delay = 1.0 - (now - recent[0])
            time.sleep(delay)

    def rate_limited(self, method: str) -> None:
        with self._lock:
            # The call that met the 429 is counted in `recent`; the ones before it got through.
            self._allowed[method] = max(1, len(self._recent[method]) - 1)


class RetryAfterHandler(RateLimitErrorRetryHandler):
    """Waits exactly the Retry-After Slack asks for (slack_sdk's own handler adds up to a second of
    jitter, which helps many clients spread out but costs one bot a third of its sending rate), and
    tells the pacer so the next calls stay under the limit."""

    def __init__(self, *, pacer: Pacer, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._pacer = pacer

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            raise error if error else RuntimeError("429 without a response")
        retry_after = next((values[0] for name, values in response.headers.items() if name.lower() == "retry-after"), "1")
        self._pacer.rate_limited(request.url.rsplit("/", 1)[-1])
        metrics.count_rate_limited(request.url.rsplit("/", 1)[-1])
        state.next_attempt_requested = True
        time.sleep(max(0, int(retry_after)))
        state.increment_current_attempt()


def retry_handlers(pacer: Pacer) -> list[RetryHandler]:
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.5)
    return [
        RetryAfterHandler(pacer=pacer, max_retry_count=RETRIES_ON_RATE_LIMIT),
        AnyServerErrorRetryHandler(max_retry_count=RETRIES_ON_SERVER_ERROR, interval_calculator=backoff),
        ConnectionErrorRetryHandler(max_retry_count=RETRIES_ON_CONNECTION_ERROR, interval_calculator=backoff),
    ]


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    tz: str
    is_bot: bool
    deleted: bool
    email: str | None


class SlackGateway:
    def __init__(self, *, token: str, base_url: str, timeout: int = 10) -> None:
        self._pacer = Pacer()
        self.web_client = WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=retry_handlers(self._pacer))
        self._users: TtlCache[SlackUser] = TtlCache(ttl_seconds=USER_CACHE_SECONDS)
        self._members: TtlCache[frozenset[str]] = TtlCache(ttl_seconds=MEMBERS_CACHE_SECONDS)

    def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        self._pacer.wait_turn(method)
        with _failures_as(method):
            response = getattr(self.web_client, method.replace(".", "_"))(**arguments)
        return dict(response.data) if isinstance(response.data, dict) else {}

    # -- views ---------------------------------------------------------------------------------
    def open_view(self, *, trigger_id: str, view: dict[str, Any]) -> str:
        return str(self._call("views.open", trigger_id=trigger_id, view=view)["view"]["id"])

    def update_view(self, *, view_id: str, view: dict[str, Any]) -> None:
        self._call("views.update", view_id=view_id, view=view)

    def publish_home(self, *, user_id: str, view: dict[str, Any]) -> None:
        self._call("views.publish", user_id=user_id, view=view)

    # -- messages ------------------------------------------------------------------------------
    def post_message(self, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        """Post as the bot; `channel` may be a user ID (a DM). Returns the message ts."""
        response = self._call(
            "chat.postMessage", channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        return str(response["ts"])

    def respond(
        self, *, response_url: str, text: str, blocks: list[dict[str, Any]] | None = None, replace_original: bool = False
    ) -> None:
        """Ephemeral answer to the user who ran a slash command or pressed a button."""
        webhook = WebhookClient(response_url, timeout=10, retry_handlers=retry_handlers(self._pacer))
        try:
            response = webhook.send(
                text=text,
                blocks=blocks,
                response_type="ephemeral",
                replace_original=replace_original,
                unfurl_links=False,
                unfurl_media=False,
            )
        except OSError as error:
            metrics.count_slack_call("response_url", "connection_error")
            raise SlackCallFailed("response_url", "connection_error") from error
        metrics.count_slack_call("response_url", "ok" if response.status_code == 200 else f"http_{response.status_code}")
        if response.status_code != 200:
            raise SlackCallFailed("response_url", f"http_{response.status_code}")

    def update_message(self, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def upload_file(self, *, channel: str, filename: str, content: bytes, title: str, comment: str | None = None) -> None:
        """Share a file in a channel through files.getUploadURLExternal / files.completeUploadExternal."""
        with _failures_as("files.completeUploadExternal"):
            self.web_client.files_upload_v2(
                channel=channel, filename=filename, content=content, title=title, initial_comment=comment
            )

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
        return self._users.get_or_load(user_id, lambda: self._fetch_user(user_id))

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

    # -- channels ------------------------------------------------------------------------------
    def create_private_channel(self, *, name: str) -> str:
        return str(self._call("conversations.create", name=name, is_private=True)["channel"]["id"])

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
        return self._members.get_or_load(channel, lambda: self._fetch_members(channel))

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

    def describe_channel(self, *, channel: str, topic: str, purpose: str) -> None:
        """`topic` and `purpose` come from `safe_text.topic`: escaped, defanged and within 250 characters."""
        self._call("conversations.setTopic", channel=channel, topic=topic)
        self._call("conversations.setPurpose", channel=channel, purpose=purpose)


@contextmanager
def _failures_as(method: str) -> Iterator[None]:
    """slack_sdk's errors, after its retries, as one typed failure carrying Slack's error code."""
    try:
        yield
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error") if error.response is not None else "unknown_error"
        metrics.count_slack_call(method, "rate_limited" if code == "ratelimited" else "error")
        raise SlackCallFailed(method, code) from None
    except OSError as error:  # connection refused or reset after the retries
        metrics.count_slack_call(method, "connection_error")
        raise SlackCallFailed(method, "connection_error") from error
    metrics.count_slack_call(method, "ok")

