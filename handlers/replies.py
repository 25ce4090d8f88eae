"""Answering the person who acted: ephemerally through the response_url when Slack gave one, else by DM."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack

from bot.blocks import Message, notice_view
from bot.runtime import Runtime


def tell(runtime: Runtime, message: Message | str, *, user_id: str, response_url: str | None = None,
         replace_original: bool = False) -> None:
    if isinstance(message, str):
        message = Message(text=message)
    blocks = message.blocks or None
    if response_url:
        runtime.slack.respond(response_url=response_url, text=message.text, blocks=blocks, replace_original=replace_original)
    else:
        runtime.slack.post_message(channel=user_id, text=message.text, blocks=blocks)


def open_or_tell(runtime: Runtime, form: dict[str, Any] | Message, *, trigger_id: str, user_id: str,
                 response_url: str | None) -> None:
    """Open the modal a flow returned, or pass on the message it returned instead (a refusal, say)."""
    if isinstance(form, Message):
        tell(runtime, form, user_id=user_id, response_url=response_url)
    else:
        runtime.slack.open_view(trigger_id=trigger_id, view=form)


def answer_submission(ack: Ack, outcome: dict[str, str] | str) -> None:
    """Inline errors keep the modal open; success replaces it with a short confirmation."""
    if isinstance(outcome, dict):
        ack(response_action="errors", errors=outcome)
    else:
        ack(response_action="update", view=notice_view(outcome))

