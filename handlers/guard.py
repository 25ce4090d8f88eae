"""After `ack()`, a listener that raises makes Bolt answer 404: catch, log, and tell the user in plain words.

What the user is told depends on whether what they entered was stored before the failure: only then
does the message say nothing is lost. Otherwise it says the step did not go through, so they send it
again (a modal stays open with its text, so nothing has to be retyped)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import Ack

from bot.runtime import Runtime
from bot.slack.gateway import SlackCallFailed, answering_within
from handlers.replies import tell

log = logging.getLogger(__name__)

SLACK_TROUBLE_SAVED = "Slack did not accept my last step (`{error}`). Nothing you entered is lost; please try again in a minute."
OUR_TROUBLE_SAVED = "Something went wrong on my side. Nothing you entered is lost; please try again in a minute."
SLACK_TROUBLE = "That didn't go through (Slack answered `{error}`): please send it again in a minute."
OUR_TROUBLE = "That didn't go through (something went wrong on my side): please send it again in a minute."
MODAL_TROUBLE = "That didn't go through (something went wrong on my side). Everything you typed is still here: please submit again."
MODAL_SLACK_TROUBLE = "That didn't go through (Slack answered `{error}`). Everything you typed is still here: please submit again in a minute."
# Of Slack's 3 s for a submission's answer, what its work may spend waiting on Slack itself.
SLACK_BUDGET_BEFORE_ANSWER_SECONDS = 2.0


@contextmanager
def telling_user_of_failures(
    runtime: Runtime, *, ack: Ack | None, user_id: str, response_url: str | None = None, saved: bool = False
) -> Iterator[None]:
    """Wrap a listener's work. Before the ack, the failure becomes the ack's text; after it (or with no
    `ack`: a slash subcommand's work, always acked first), a message.
    `saved`: what the person entered is already stored (committed) before this work starts."""
    try:
        yield
    except SlackCallFailed as failure:
        log.warning("Slack call failed for %s: %s", user_id, failure)
        _tell(runtime, ack, user_id, response_url, (SLACK_TROUBLE_SAVED if saved else SLACK_TROUBLE).format(error=failure.error))
    except Exception:
        log.exception("listener failed for %s", user_id)
        _tell(runtime, ack, user_id, response_url, OUR_TROUBLE_SAVED if saved else OUR_TROUBLE)


@contextmanager
def keeping_the_modal_open(ack: Ack, view: dict[str, Any]) -> Iterator[None]:
    """Wrap a view submission's work: if it fails before the answer, the modal stays open with the
    failure shown on its first field, so the person submits again without retyping anything. Slack
    calls made before the answer never wait past it (a Retry-After fails them at once instead)."""
    try:
        with answering_within(SLACK_BUDGET_BEFORE_ANSWER_SECONDS):
            yield
    except Exception as failure:
        log.exception("submission of %s failed", view.get("callback_id"))
        if ack.response is not None:
            raise
        first_input = next((block["block_id"] for block in view.get("blocks", []) if block.get("type") == "input"), None)
        if first_input is None:
            raise
        text = MODAL_SLACK_TROUBLE.format(error=failure.error) if isinstance(failure, SlackCallFailed) else MODAL_TROUBLE
        ack(response_action="errors", errors={first_input: text})


def _tell(runtime: Runtime, ack: Ack | None, user_id: str, response_url: str | None, text: str) -> None:
    if ack is not None and ack.response is None:
        ack(text=text)
        return
    try:
        tell(runtime, text, user_id=user_id, response_url=response_url)
    except SlackCallFailed as failure:
        log.warning("could not tell %s about a failure: %s", user_id, failure)
