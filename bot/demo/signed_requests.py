"""What Slack sends on people's behalf: signed slash commands, interactions and events, and modals filled
in as a person would. The demo plays its story with it; the tests drive the app with it too."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

from bot.slack.double import TEAM_ID, FakeSlack

# The app under the double is configured with this secret, so the requests here pass its signature check.
SIGNING_SECRET = "test-signing-secret"


def eventually(check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `check()` is truthy: listeners finish their slow part after the ack."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Reply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Answer:
    """What the person who ran a command sees: its text and blocks."""

    message: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.message.get("text", ""))

    def json(self) -> dict[str, Any]:
        return self.message


def sign(body: str, *, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSim:
    """Sends what Slack sends: signed form-encoded slash commands and `payload=<json>` interactions."""

    def __init__(self, app_url: str, fake: FakeSlack) -> None:
        self.app_url = app_url
        self.fake = fake

    def post(self, body: str, *, content_type: str = "application/x-www-form-urlencoded",
             timestamp: int | None = None, signature: str | None = None, headers: dict[str, str] | None = None) -> Reply:
        timestamp = int(time.time()) if timestamp is None else timestamp
        request = urllib.request.Request(
            self.app_url + "slack/events",
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": str(timestamp),
                "X-Slack-Signature": signature or sign(body, timestamp=timestamp),
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return Reply(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode())

    def command(self, text: str, *, user: str, channel: str = "C0WARROOM", trigger_id: str | None = None,
                response_url: str | None = None) -> Reply:
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "war-room",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/postmortem",
            "text": text,
            "api_app_id": "A0FAKE",
            "response_url": response_url or self.fake.response_url(),
            "trigger_id": trigger_id or self.fake.issue_trigger(),
        }
        return self.post(urlencode(form))

    def ask(self, text: str, *, user: str, channel: str = "C0WARROOM", timeout: float = 10.0) -> Answer:
        """Run a subcommand and wait for its answer: the ack's text, or else what it sent to the response_url."""
        response_url = self.fake.response_url()
        reply = self.command(text, user=user, channel=channel, response_url=response_url)
        assert reply.status == 200, reply
        if reply.body:
            return Answer(reply.json() if reply.body.startswith("{") else {"text": reply.body})
        return Answer(eventually(
            lambda: next((r for r in self.fake.responses if r["response_url"] == response_url), None),
            timeout=timeout, what=f"an answer to /postmortem {text[:40]}"))

    def interaction(self, payload: dict[str, Any]) -> Reply:
        payload = {"team": {"id": TEAM_ID, "domain": "fake"}, "api_app_id": "A0FAKE", "token": "legacy", **payload}
        return self.post(urlencode({"payload": json.dumps(payload)}))

    def event(self, event: dict[str, Any], *, event_id: str = "Ev0001", retry_num: int | None = None) -> Reply:
        """An Events API delivery; `retry_num` makes it Slack's redelivery of the same event."""
        body = {"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0FAKE", "type": "event_callback",
                "event_id": event_id, "event_time": int(time.time()), "event": event,
                "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT000001", "is_bot": True}]}
        retry = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else {}
        return self.post(json.dumps(body), content_type="application/json", headers=retry)

    def submit_view(self, view: dict[str, Any], *, user: str, values: dict[str, Any]) -> Reply:
        submitted = {**view, "state": {"values": fill(view, values)}}
        return self.interaction({"type": "view_submission", "user": {"id": user, "team_id": TEAM_ID}, "view": submitted,
                                 "trigger_id": self.fake.issue_trigger()})

    def press(self, action_id: str, value: str, *, user: str, message: dict[str, Any] | None = None,
              channel: str | None = None) -> Reply:
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "team_id": TEAM_ID},
            "trigger_id": self.fake.issue_trigger(),
            "response_url": self.fake.response_url(),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": value,
                         "action_ts": str(time.time())}],
        }
        if message is not None:
            payload["container"] = {"type": "message", "message_ts": message["ts"], "channel_id": channel}
            payload["message"] = message
            payload["channel"] = {"id": channel}
        return self.interaction(payload)


def fill(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`state.values` for `view` as Slack builds it: keyed by block_id then action_id, typed by element."""
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            continue
        element = block["element"]
        action_id = element["action_id"]
        value = values.get(action_id)
        kind = element["type"]
        entry: dict[str, Any] = {"type": kind}
        if kind in {"plain_text_input", "email_text_input", "url_text_input", "number_input"}:
            entry["value"] = value
        elif kind == "static_select":
            entry["selected_option"] = None if value is None else next(
                o for o in element["options"] if o["value"] == value
            )
        elif kind == "users_select":
            entry["selected_user"] = value if value is not None else element.get("initial_user")
        elif kind == "multi_users_select":
            entry["selected_users"] = value or []
        elif kind == "datetimepicker":
            entry["selected_date_time"] = None if value is None else int(value.timestamp())
        elif kind == "datepicker":
            entry["selected_date"] = value
        else:
            raise AssertionError(f"fill() does not know element type {kind}")
        state[block["block_id"]] = {action_id: entry}
    return state


def new_view(fake: FakeSlack, callback_id: str, open_it: Callable[[], Any]) -> dict[str, Any]:
    """Open a modal and wait for that one (not an earlier modal with the same callback)."""
    opened = len(fake.views)
    open_it()
    return eventually(lambda: len(fake.views) > opened and fake.latest_view().get("callback_id") == callback_id
                      and fake.latest_view(), what=f"the {callback_id} modal")


def settled_view(fake: FakeSlack, view_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The modal a submission ends on: submissions that need Slack are acked with a "Saving…" notice
    and then updated with what happened."""
    def settled() -> dict[str, Any] | None:
        for call in reversed(fake.calls_to("views.update")):
            view = json.loads(call["view"]) if isinstance(call["view"], str) else call["view"]
            if call["view_id"] == view_id and "callback_id" not in view and ":hourglass" not in json.dumps(view):
                return view
        return None
    return eventually(settled, timeout=timeout, what=f"the outcome in modal {view_id}")


def wait_for_dm(fake: FakeSlack, user_id: str, fragment: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """The latest DM to `user_id` whose text contains `fragment`, waiting for it to arrive."""
    return eventually(
        lambda: next((m for m in reversed(fake.dm_messages(user_id)) if fragment in m["text"]), None),
        timeout=timeout,
        what=f"a DM to {user_id} containing {fragment!r}",
    )
