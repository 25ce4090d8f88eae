"""Making things really happen at once, and proving that they did.

`at_once` releases threads together from a barrier and records when each call started and ended;
`most_in_flight` tells how many were under way at the same moment. `together_in_the_database` is a
barrier inside the database work: the first `parties` executions of one statement wait for each other,
so that many transactions are open and at the same step at once. It fits PostgreSQL, where transactions
run side by side; SQLite lets one writer in at a time (the bot begins with BEGIN IMMEDIATE), so there the
overlap is proven at the HTTP level only.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Engine, event

T = TypeVar("T")


def at_once(work: Callable[[int], T], count: int) -> tuple[list[T], list[tuple[float, float]]]:
    """Run work(0..count-1) in `count` threads released together; the results and each call's (start, end)."""
    barrier = threading.Barrier(count, timeout=30)
    intervals: list[tuple[float, float]] = [(0.0, 0.0)] * count

    def run(index: int) -> T:
        barrier.wait()
        start = time.monotonic()
        try:
            return work(index)
        finally:
            intervals[index] = (start, time.monotonic())

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(run, range(count)))
    return results, intervals


def most_in_flight(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals that contain one same moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals], key=lambda e: (e[0], e[1]))
    in_flight = best = 0
    for _, step in edges:
        in_flight += step
        best = max(best, in_flight)
    return best


class Rendezvous:
    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.barrier = threading.Barrier(parties, timeout=20)
        self._arrivals = itertools.count()
        self.met = threading.Event()

    def arrive(self) -> None:
        if next(self._arrivals) >= self.parties:
            return
        if self.barrier.wait() == 0:
            self.met.set()


@contextmanager
def together_in_the_database(engine: Engine, statement: str, *, parties: int) -> Iterator[Rendezvous]:
    """The first `parties` executions of SQL starting with `statement` wait for each other before running."""
    rendezvous = Rendezvous(parties)

    def before_execute(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if sql.lstrip().upper().startswith(statement.upper()):
            rendezvous.arrive()

    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        yield rendezvous
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)


def on_postgresql(engine: Engine, statement: str, *, parties: int) -> Any:
    """`together_in_the_database` on PostgreSQL; nothing on SQLite (see the module's docstring)."""
    if engine.dialect.name == "postgresql":
        return together_in_the_database(engine, statement, parties=parties)
    return nullcontext()
