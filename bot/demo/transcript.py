"""The demo's running commentary: who did what, and what each person saw, as plain text.

Messages are rendered as a terminal can show them: headers underlined, fields one per line, buttons and
menus in [brackets], mentions as @Name, and Slack's `<!date^…>` tokens in the reader's own time zone
(channel messages keep the UTC fallback, since each member sees their own zone).
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.slack import safe_text
from bot.slack.double import BOT_USER_ID, Call, FakeSlack

WIDTH = 100
DATE_TOKEN = re.compile(r"<!date\^(\d+)\^[^|>]*\|([^>]*)>")
MENTION = re.compile(r"<@(\w+)(?:\|[^>]*)?>")
CHANNEL = re.compile(r"<#(\w+)(?:\|[^>]*)?>")
LINK = re.compile(r"<((?:https?|mailto):[^|>]+)\|([^>]+)>")
SPECIAL = re.compile(r"<!(here|channel|everyone)>")


class Transcript:
    """Prints the story as it plays, and what the double received since the last look."""

    def __init__(self, double: FakeSlack, out: TextIO) -> None:
        self.double = double
        self.out = out
        self._seen_messages: dict[str, int] = {}
        self._seen_responses = 0
        self._seen_calls = 0
        self._actor: str | None = None
        self._news()  # what was there before the story began is not news

    # -- the story's voice --------------------------------------------------------------------------
    def progress(self, number: int, total: int, title: str) -> None:
        self.out.write(f"\n[{number:>2}/{total}] {title}\n{'=' * min(WIDTH, len(title) + 8)}\n")
        self.out.flush()

    def act(self, user_id: str, doing: str) -> None:
        """A person does something in Slack; what they see next is theirs."""
        self._actor = user_id
        self.say(f"{self.person(user_id)}: {safe_text.terminal(doing)}")

    def say(self, text: str, *, indent: int = 0) -> None:
        for line in text.splitlines() or [""]:
            self.out.write(textwrap.indent(line, " " * indent) + "\n")
        self.out.flush()

    def person(self, user_id: str) -> str:
        user = self.double.users.get(user_id, {})
        city = user.get("tz", "UTC").rsplit("/", 1)[-1].replace("_", " ").replace("Kolkata", "Bangalore")
        return f"{user.get('real_name', user_id)} ({city})" if user_id != BOT_USER_ID else "postmortem-bot"

    def modal(self, user_id: str, view: dict[str, Any], *, caption: str = "sees the form") -> None:
        if not view.get("blocks"):
            self.say(f"  {self.person(user_id)}'s form closes.")
            return
        self.say(f"  {self.person(user_id)} {caption}:")
        self.say(render_view(view, self._reader(user_id)), indent=4)

    # -- what Slack received since the last look ----------------------------------------------------
    def look(self) -> None:
        """Print every message, ephemeral reply, answer and shared file that arrived since the last look."""
        messages, calls, responses = self._news()
        for channel_id, message in messages:
            where, reader = self._audience(channel_id)
            if message.get("user") != BOT_USER_ID:  # someone's own message, e.g. in the war room: as typed
                self.say(f"  {self.person(message['user'])} writes in {self._channel_label(channel_id)}:")
                typed = self._reader(reader).text(str(message.get("text", "")))
                self.say("\n".join(_wrapped(safe_text.terminal(typed))), indent=4)
            else:
                self.say(f"  {where} sees:")
                self.say(render_message(message, self._reader(reader)), indent=4)
        for call in calls:
            if call.method == "chat.postEphemeral":
                self.say(f"  only {self.person(call.args['user'])} sees (in {self._channel_label(call.args['channel'])}):")
                self.say(render_message(_decoded(call.args), self._reader(call.args["user"])), indent=4)
            elif call.method == "files.completeUploadExternal" and call.args.get("channel_id"):
                for entry in _json(call.args["files"]):
                    stored = self.double.files.get(entry["id"], {})
                    size = len(stored.get("content") or b"")
                    self.say(f"  file shared in {self._channel_label(call.args['channel_id'])}: "
                             f"{stored.get('filename')} ({size:,} bytes)")
        for response in responses:
            who = self.person(self._actor) if self._actor else "the person who asked"
            self.say(f"  only {who} sees:")
            self.say(render_message(response, self._reader(self._actor)), indent=4)

    def _news(self) -> tuple[list[tuple[str, dict[str, Any]]], list[Call], list[dict[str, Any]]]:
        """Messages (oldest first), Web API calls and response_url answers since the last call."""
        with self.double.lock:
            calls = self.double.calls[self._seen_calls:]
            self._seen_calls = len(self.double.calls)
            responses = self.double.responses[self._seen_responses:]
            self._seen_responses = len(self.double.responses)
            messages = []
            for channel_id, posted in self.double.messages.items():
                messages += [(channel_id, m) for m in posted[self._seen_messages.get(channel_id, 0):]]
                self._seen_messages[channel_id] = len(posted)
        messages.sort(key=lambda pair: pair[1]["ts"])
        return messages, calls, responses

    def _audience(self, channel_id: str) -> tuple[str, str | None]:
        channel = self.double.channels.get(channel_id)
        if channel is not None and channel.is_im:
            reader = "U" + channel_id[1:]
            return f"{self.person(reader)}, in a DM from the bot,", reader
        return f"everyone in {self._channel_label(channel_id)}", None

    def _channel_label(self, channel_id: str) -> str:
        channel = self.double.channels.get(channel_id)
        if channel is None or channel.is_im:
            return "a DM"
        return f"#{channel.name}" + (" (private)" if channel.is_private else "")

    def _reader(self, user_id: str | None) -> Reader:
        tz = self.double.users.get(user_id or "", {}).get("tz") if user_id else None
        return Reader(self.double, tz)


class Reader:
    """How mrkdwn reads for one person: names resolved, dates in their zone (None: the UTC fallback)."""

    def __init__(self, double: FakeSlack, tz: str | None) -> None:
        self.double = double
        self.tz = ZoneInfo(tz) if tz else None

    def text(self, mrkdwn: str) -> str:
        text = DATE_TOKEN.sub(lambda m: self.date(int(m.group(1)), fallback=m.group(2)), mrkdwn)
        text = MENTION.sub(lambda m: "@" + self.double.users.get(m.group(1), {}).get("real_name", m.group(1)), text)
        text = CHANNEL.sub(lambda m: "#" + getattr(self.double.channels.get(m.group(1)), "name", m.group(1)), text)
        text = LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
        text = SPECIAL.sub(lambda m: "@" + m.group(1), text)
        return html.unescape(text)

    def date(self, timestamp: int, *, fallback: str) -> str:
        if self.tz is None and fallback:
            return fallback
        moment = datetime.fromtimestamp(timestamp, self.tz or ZoneInfo("UTC"))
        return moment.strftime("%a %d %b %Y, %H:%M ") + (moment.tzname() or "")


def render_message(message: dict[str, Any], reader: Reader) -> str:
    blocks = _json(message.get("blocks")) or []
    if not blocks:
        return "\n".join(_wrapped(reader.text(str(message.get("text", "")))))
    return render_blocks(blocks, reader)


def render_view(view: dict[str, Any], reader: Reader) -> str:
    title = (view.get("title") or {}).get("text", "")
    lines = [f"┌─ {title} ─", textwrap.indent(render_blocks(view.get("blocks") or [], reader), "│ ")]
    buttons = [f"[{view[key]['text']}]" for key in ("close", "submit") if view.get(key)]
    lines.append("└─ " + " ".join(buttons))
    return "\n".join(lines)


def render_blocks(blocks: list[dict[str, Any]], reader: Reader) -> str:
    return "\n".join(line for block in blocks for line in _render_block(block, reader))


def _render_block(block: dict[str, Any], reader: Reader) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = reader.text(block["text"]["text"])
        return [title, "‾" * min(len(title), WIDTH)]
    if kind == "divider":
        return ["─" * 40]
    if kind == "section":
        lines = _wrapped(reader.text(block["text"]["text"])) if block.get("text") else []
        lines += [f"  {line}" for field in block.get("fields", []) for line in _wrapped(reader.text(field["text"]))]
        if block.get("accessory"):
            lines.append("  " + _element(block["accessory"]))
        return lines
    if kind == "context":
        parts = [reader.text(e["text"]) if "text" in e else f"({e.get('alt_text', 'image')})" for e in block["elements"]]
        return [f"  {line}" for line in _wrapped(" · ".join(parts))]
    if kind == "actions":
        return [" ".join(_element(element) for element in block["elements"])]
    if kind == "input":
        return [f"{block['label']['text']}: {_input_value(block['element'], reader)}"]
    return [f"({kind} block)"]


def _element(element: dict[str, Any]) -> str:
    kind = element.get("type")
    if kind == "button":
        return f"[{element['text']['text']}]"
    if kind == "overflow":
        return "[⋯ " + " | ".join(o["text"]["text"] for o in element.get("options", [])) + "]"
    placeholder = (element.get("placeholder") or {}).get("text", "choose")
    return f"[{placeholder} ▾]"


def _input_value(element: dict[str, Any], reader: Reader) -> str:
    for key in ("initial_value", "initial_date", "initial_user"):
        if element.get(key):
            value = str(element[key])
            if key == "initial_user":
                return "@" + reader.double.users.get(value, {}).get("real_name", value)
            return safe_text.terminal(value)  # a form gives back what was typed, as typed
    if element.get("initial_date_time"):
        return reader.date(int(element["initial_date_time"]), fallback="")
    if element.get("initial_option"):
        return f"[{element['initial_option']['text']['text']} ▾]"
    if element.get("initial_users"):
        return ", ".join("@" + reader.double.users.get(u, {}).get("real_name", u) for u in element["initial_users"])
    return "____"


def _wrapped(text: str) -> list[str]:
    return [wrapped for line in text.splitlines() for wrapped in (textwrap.wrap(line, WIDTH) or [""])]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _decoded(args: dict[str, Any]) -> dict[str, Any]:
    return {**args, "blocks": _json(args.get("blocks"))}
