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
                try:
                    tell(self._runtime, message, user_id=parsed.user_id, response_url=parsed.response_url)
                except SlackCallFailed as failure:
                    # The answer says what happened (stored, or refused and why): deliver it another way.
                    # A failure message instead could not say whether anything was stored, and "send it
                    # again" after a stored note would store it twice.
                    log.warning("the response_url refused an answer (%s); sending it by DM", failure.error)
                    try:
                        tell(self._runtime, message, user_id=parsed.user_id)
                    except SlackCallFailed as dm_failure:
                        # Not raised: the guard would then say "That didn't go through, send it again", untrue
                        # after a stored note. The answer itself is tried once more where it was first sent.
                        log.warning("the DM with the answer failed too (%s)", dm_failure.error)
                        try:
                            tell(self._runtime, message, user_id=parsed.user_id, response_url=parsed.response_url)
                        except SlackCallFailed as last_failure:
                            log.error("could not deliver an answer to %s (%s)", parsed.user_id, last_failure.error)

            with telling_user_of_failures(self._runtime, ack=ack, user_id=parsed.user_id, response_url=parsed.response_url):
                route[1](parsed, answer)
