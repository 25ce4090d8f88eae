"""Answering the person who acted: ephemerally through the response_url when Slack gave one, else by DM."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import Ack

from bot.runtime import Runtime
from bot.slack.blocks import Message, notice_view

LOADING = ":hourglass_flowing_sand: One moment…"
FORM_FAILED = "I couldn't prepare this form. Close it and try again in a minute."
SAVING = ":hourglass_flowing_sand: Saving…"
SAVE_FAILED = "Something went wrong while saving this, so it may not have been saved. Please check, and send it again if it's missing."


def tell(runtime: Runtime, message: Message | str, *, user_id: str, response_url: str | None = None,
         replace_original: bool = False) -> None:
    if isinstance(message, str):
        message = Message(text=message)
    blocks = message.blocks or None
    if response_url:
        runtime.slack.respond(response_url=response_url, text=message.text, blocks=blocks, replace_original=replace_original)
    else:
        runtime.slack.post_message(channel=user_id, text=message.text, blocks=blocks)


def open_form(runtime: Runtime, build: Callable[[], dict[str, Any] | Message], *, trigger_id: str,
              title: str = "Post-mortem", loading: dict[str, Any] | None = None) -> None:
    """Open a modal at once (a trigger lives 3 s, and building the form may wait on the database or
    Slack), then fill it in with the form, or with the message the flow returned instead (a refusal)."""
    view_id = runtime.slack.open_view(trigger_id=trigger_id, view=loading or notice_view(LOADING, title=title))
    try:
        form = build()
    except Exception:
        # Never leave the person looking at "One moment…"; the caller's guard says what happened.
        runtime.slack.update_view(view_id=view_id, view=notice_view(FORM_FAILED, title=title))
        raise
    runtime.slack.update_view(view_id=view_id, view=notice_view(form.text, title=title) if isinstance(form, Message) else form)


@contextmanager
def settling(runtime: Runtime, *, view_id: str, title: str) -> Iterator[Callable[[str], None]]:
    """For a submission acked with a "Saving…" notice: yields `settle(text)`, which shows the outcome in
    the modal; if the work fails first, the modal says so (the caller's guard tells the rest)."""
    def settle(text: str) -> None:
        runtime.slack.update_view(view_id=view_id, view=notice_view(text, title=title))

    try:
        yield settle
    except Exception:
        settle(SAVE_FAILED)
        raise


def answer_submission(ack: Ack, outcome: dict[str, str] | str) -> None:
    """Inline errors keep the modal open; success replaces it with a short confirmation."""
    if isinstance(outcome, dict):
        ack(response_action="errors", errors=outcome)
    else:
        ack(response_action="update", view=notice_view(outcome))

