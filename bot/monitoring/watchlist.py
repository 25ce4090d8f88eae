"""The automaton each process keeps, rebuilt when what is watched changes.

Indicators and windows change in many places and processes; rather than every writer signalling, each
process compares `service.watch_version` (two aggregate reads) with the version its automaton was built
from, at most once every CHECK_EVERY_SECONDS. Windows also end as time passes: the automaton is rebuilt
at least every REBUILD_EVERY_SECONDS, and every hit is checked against its window before it is stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.monitoring import service
from bot.monitoring.matcher import Matcher
from bot.runtime import Runtime
from models.db import transaction

CHECK_EVERY_SECONDS = 1.0
REBUILD_EVERY_SECONDS = 3600.0


class Watchlist:
    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._building = threading.Lock()
        self._matcher: Matcher | None = None
        self._version: tuple[object, ...] | None = None
        self._checked_at = self._built_at = float("-inf")

    def matcher(self, runtime: Runtime) -> Matcher:
        """The current automaton. While one thread rebuilds it, the others keep matching with the previous one."""
        started = self._monotonic()
        if self._matcher is not None and started - self._checked_at < CHECK_EVERY_SECONDS:
            return self._matcher
        if not self._building.acquire(blocking=self._matcher is None):
            return self._matcher  # type: ignore[return-value]  # not None: only the first build blocks
        try:
            with transaction(runtime.sessions) as session:
                version = service.watch_version(session)
                if self._matcher is None or version != self._version or started - self._built_at > REBUILD_EVERY_SECONDS:
                    self._matcher = Matcher(service.watched(session, now=runtime.clock.now(),
                                                            period=runtime.settings.monitor_period))
                    self._version, self._built_at = version, started
            self._checked_at = started
            return self._matcher
        finally:
            self._building.release()
