"""`/postmortem <subcommand> [text]`: one slash command, routed by its first word.

Every subcommand is acked at once, before it touches the database or Slack (Slack gives up after
3 s, and a slow Slack must not make us miss that); its answer follows through the response_url."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App

from bot.runtime import Runtime
from bot.slack import safe_text, usage
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed
from handlers.guard import telling_user_of_failures
from handlers.replies import tell

log = logging.getLogger(__name__)

COMMAND = "/postmortem"


@dataclass(frozen=True)
class SlashCommand:
    user_id: str
    team_id: str
    channel_id: str
    trigger_id: str
    response_url: str
    text: str  # what follows the subcommand, decoded from Slack's format and normalised


Answer = Callable[[Message | str], None]
Subcommand = Callable[[SlashCommand, Answer], None]


class SubcommandRouter:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._routes: dict[str, tuple[str, Subcommand]] = {}

    def add(self, name: str, summary: str, handler: Subcommand) -> None:
        self._routes[name] = (summary, handler)

    def summaries(self) -> list[tuple[str, str]]:
        return [(name, summary) for name, (summary, _) in self._routes.items()] + [("help", "Show this list.")]

    def register(self, app: App) -> None:
        @app.command(COMMAND)
        def postmortem_command(ack: Ack, command: dict[str, Any]) -> None:
            name, _, rest = safe_text.from_slack(command.get("text")).strip().partition(" ")
            route = self._routes.get(name.lower())
            if route is None:
                text = usage.help_text(self.summaries()) if name.lower() in {"", "help"} else \
                    usage.unknown_subcommand(name, self.summaries())
                ack(text=text)
                return
            ack()
            parsed = SlashCommand(
                user_id=command["user_id"],
                team_id=command.get("team_id", ""),
                channel_id=command.get("channel_id", ""),
                trigger_id=command.get("trigger_id", ""),
                response_url=command.get("response_url", ""),
                text=rest.strip(),
            )

            def answer(message: Message | str) -> None:
                # The answer says what happened (stored, or refused and why): when the response_url refuses
                # it, it goes by DM, then once more to the response_url. It is never left to the guard,
                # whose "That didn't go through, send it again" is untrue after a stored note (and sending
                # it again a minute later would store it twice).
                ways = [parsed.response_url, None, parsed.response_url] if parsed.response_url else [None]
                for attempt, response_url in enumerate(ways, start=1):
                    try:
                        tell(self._runtime, message, user_id=parsed.user_id, response_url=response_url)
                        return
                    except SlackCallFailed as failure:
                        way = "the response_url" if response_url else "a DM"
                        if attempt < len(ways):
                            log.warning("%s refused an answer (%s); trying another way", way, failure.error)
                        else:
                            log.error("could not deliver an answer to %s (%s by %s)", parsed.user_id, failure.error, way)

            with telling_user_of_failures(self._runtime, ack=ack, user_id=parsed.user_id, response_url=parsed.response_url):
                route[1](parsed, answer)
