"""Who sends each kind of reminder, and how a reminder's message is posted once.

Reminders sit below the domains that schedule them: meetings, actions, monitoring and reports (the
MISP push) register a sender for each kind they create, and the dispatcher only looks kinds up here.
`bot.domains` loads every domain, so a process that dispatches knows every sender.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING

from bot.reminders.service import SentThen
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed
from models import Reminder, ReminderStatus

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# A sender posts the reminder and returns SENT (or SentThen, to plan the chain's next step), or SKIPPED
# when it no longer makes sense.
Sender = Callable[["Runtime", Reminder], ReminderStatus | SentThen]

_SENDERS: dict[str, Sender] = {}


class TryLater(Exception):
    """A sender's delivery outside Slack failed (MISP): the dispatcher retries it like a failed Slack call."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def sends(*kinds: str) -> Callable[[Sender], Sender]:
    """Decorator: the function sends reminders of these kinds."""

    def register(sender: Sender) -> Sender:
        for kind in kinds:
            if _SENDERS.setdefault(kind, sender) is not sender:
                raise RuntimeError(f"two senders registered for reminder kind {kind!r}")
        return sender

    return register


def registered() -> Mapping[str, Sender]:
    return MappingProxyType(_SENDERS)


# Every reminder's message carries its id, so that a retry can tell whether an earlier attempt went out.
REMINDER_EVENT = "postmortem_reminder"
_LOOK_BACK = timedelta(minutes=1)


def post_once(runtime: Runtime, reminder: Reminder, message: Message, *, channel: str | None = None) -> None:
    """Post a reminder's message to its recipient (or to `channel`, where the sender redirects it). A retry
    looks for it first: an earlier attempt's answer may have been lost after Slack posted it, and the
    recipient must not get it twice."""
    recipient = channel or reminder.recipient_id
    payload = {"reminder_id": reminder.id}
    if reminder.attempts > 1:
        where = runtime.slack.dm_channel(user_id=recipient) if recipient.startswith(("U", "W")) else recipient
        since = f"{(reminder.planned_for - _LOOK_BACK).timestamp():.6f}"
        try:
            if runtime.slack.find_message(channel=where, event_type=REMINDER_EVENT, payload=payload, newer_than=since):
                return
        except SlackCallFailed as failure:
            if failure.error != "missing_scope":
                raise
            # An install from before the manifest asked for im:history: post, at the old risk of a double.
            log.warning("cannot look for reminder %s's earlier post (missing scope); posting it", reminder.id)
    runtime.slack.post_message(channel=recipient, text=message.text, blocks=message.blocks,
                               metadata={"event_type": REMINDER_EVENT, "event_payload": payload})
