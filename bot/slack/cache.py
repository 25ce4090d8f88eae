"""A small per-process, thread-safe memory of Slack look-ups (users.info, conversations.members).

Every slash command in a review channel asks "is this person a member?"; asking Slack each time
costs a round trip before the ack and Slack's rate limit. Entries live a short while and a channel's
entry is dropped when Slack reports someone joining or leaving it, so a change shows at once in the
process that got the event and within the TTL in the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")
MAX_ENTRIES = 10_000


class TtlCache(Generic[Value]):
    def __init__(self, *, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[float, Value]] = {}
        self._last_answers: dict[Hashable, tuple[float, Value]] = {}  # kept through `forget`: last_answer
        self._forgotten = 0  # counts `forget` calls: a load that straddles one must not store its stale answer

    def get_or_load(self, key: Hashable, load: Callable[[], Value]) -> Value:
        """The remembered value, or `load()`'s (called outside the lock: a slow Slack blocks nobody else)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                return entry[1]
            forgotten_before = self._forgotten
        value = load()
        with self._lock:
            if len(self._last_answers) >= MAX_ENTRIES:
                self._last_answers.clear()
            self._last_answers[key] = (self._clock() + self._ttl, value)
            if self._forgotten != forgotten_before:
                return value
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()  # a crude bound; the cache refills in seconds
            self._entries[key] = (self._clock() + self._ttl, value)
        return value

    def last_answer(self, key: Hashable) -> Value | None:
        """What the last load returned while its time is not up, even if forgotten since (None otherwise)."""
        with self._lock:
            entry = self._last_answers.get(key)
            return entry[1] if entry is not None and entry[0] > self._clock() else None

    def remembered(self, key: Hashable) -> Value | None:
        """The value while its time is not up, without loading (None otherwise)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry[1] if entry is not None and entry[0] > self._clock() else None

    def peek(self, key: Hashable) -> Value | None:
        """The value last loaded, even if its time is up, without loading (None if never loaded)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry[1] if entry is not None else None

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._forgotten += 1
            self._entries.pop(key, None)
