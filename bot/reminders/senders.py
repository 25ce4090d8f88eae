"""Who sends each kind of reminder.

Reminders sit below the domains that schedule them: meetings and actions register a sender for each
kind they create, and the dispatcher only looks kinds up here. `bot.domains` loads every domain, so a
process that dispatches knows every sender.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from bot.reminders.service import SentThen
from models import Reminder, ReminderStatus

if TYPE_CHECKING:
    from bot.runtime import Runtime

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
