"""After `ack()`, a listener that raises makes Bolt answer 404: catch, log, and tell the user in plain words."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from slack_bolt import Ack

from bot.runtime import Runtime
from bot.slack_gateway import SlackCallFailed
from handlers.replies import tell

log = logging.getLogger(__name__)

SLACK_TROUBLE = "Slack did not accept my last step (`{error}`). Nothing you entered is lost; please try again in a minute."
OUR_TROUBLE = "Something went wrong on my side. Nothing you entered is lost; please try again in a minute."


@contextmanager
def telling_user_of_failures(
    runtime: Runtime, *, ack: Ack, user_id: str, response_url: str | None = None
) -> Iterator[None]:
    """Wrap a listener's work. Before the ack, the failure becomes the ack's text; after it, a message."""
    try:
        yield
    except SlackCallFailed as failure:
        log.warning("Slack call failed for %s: %s", user_id, failure)
        _tell(runtime, ack, user_id, response_url, SLACK_TROUBLE.format(error=failure.error))
    except Exception:
        log.exception("listener failed for %s", user_id)
        _tell(runtime, ack, user_id, response_url, OUR_TROUBLE)


def _tell(runtime: Runtime, ack: Ack, user_id: str, response_url: str | None, text: str) -> None:
    if ack.response is None:
        ack(text=text)
        return
    try:
        tell(runtime, text, user_id=user_id, response_url=response_url)
    except SlackCallFailed as failure:
        log.warning("could not tell %s about a failure: %s", user_id, failure)
