"""The post-mortem row lock taken by every change (PostgreSQL): a purge waits for notes in flight, and a
note in flight when the post-mortem closes is refused, never stored after the close."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.notes import flows as note_flows
from bot.notes import service as notes
from bot.runtime import Runtime
from bot.slack.double import BOT_USER_ID, FakeSlack
from models import Indicator, Note, Participant, ParticipantRole, Postmortem, PostmortemStatus, Severity
from tests.support import utc

NOW = utc(2026, 11, 20, 15)
BLOCKED_FOR = 0.5  # long enough that an unblocked thread would certainly have finished


@pytest.fixture
def postmortem_id(runtime: Runtime, database_url: str) -> int:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time, so these transactions cannot overlap there")
    with runtime.sessions.begin() as session:
        postmortem = Postmortem(team_id="T", title="Race", severity=Severity.LOW, detected_at=NOW, created_by="ULEAD",
                                facilitator_id="ULEAD", source_view_id="VRACE", created_at=NOW)
        postmortem.participants = [Participant(user_id="ULEAD", role=ParticipantRole.FACILITATOR)]
        session.add(postmortem)
        session.flush()
        return postmortem.id


def add_note(session: Any, postmortem_id: int, text: str) -> notes.SavedNote:
    postmortem = session.get(Postmortem, postmortem_id)
    note, _ = notes.add(session, postmortem=postmortem, author_id="ULEAD", draft=notes.NoteDraft(text=text),
                        dedupe_key=f"race:{text}", now=NOW)
    return note


def in_thread(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except Exception as error:  # the assertion below names it
            outcome["error"] = error
        outcome["finished"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_purge_waits_for_a_note_in_flight_that_holds_the_same_indicator(runtime: Runtime, postmortem_id: int) -> None:
    with runtime.sessions.begin() as session:
        first_id = add_note(session, postmortem_id, "Beacon to http://c2-race.net/x").id

    in_flight = runtime.sessions()
    in_flight.begin()
    add_note(in_flight, postmortem_id, "Proxy saw http://c2-race.net/x again")  # the indicator exists: nothing new

    def delete_first() -> None:
        with runtime.sessions.begin() as session:
            postmortem = session.get(Postmortem, postmortem_id)
            notes.delete(session, note=session.get(Note, first_id), postmortem=postmortem, user_id="ULEAD", now=NOW)

    try:
        thread, outcome = in_thread(delete_first)
        time.sleep(BLOCKED_FOR)
        assert thread.is_alive(), f"the purge did not wait for the note in flight: {outcome}"
        committed = time.monotonic()
        in_flight.commit()
    finally:
        in_flight.close()  # rolls back on failure, so no lock outlives the test
    thread.join(timeout=10)
    assert "error" not in outcome and outcome["finished"] >= committed
    with runtime.sessions() as session:
        assert session.scalars(select(Note.text)).all() == ["Proxy saw http://c2-race.net/x again"]
        assert set(session.execute(select(Indicator.kind, Indicator.value)).tuples()) == \
            {("url", "http://c2-race.net/x"), ("domain", "c2-race.net")}


def test_a_note_in_flight_when_the_postmortem_closes_is_refused(runtime: Runtime, postmortem_id: int) -> None:
    closing = runtime.sessions()
    closing.begin()
    closing.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))

    def add_late_note() -> Note:
        with runtime.sessions.begin() as session:
            return add_note(session, postmortem_id, "Written as it closed")

    try:
        thread, outcome = in_thread(add_late_note)
        time.sleep(BLOCKED_FOR)
        assert thread.is_alive(), f"the note did not wait for the close: {outcome}"
        closing.commit()
    finally:
        closing.close()
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), notes.NoteRefused) and str(outcome["error"]) == "This post-mortem is closed."
    with runtime.sessions() as session:
        assert session.scalars(select(Note)).all() == []


def quick_note_in(session: Any, channel: str, text: str) -> Any:
    return notes.add_in_channel(session, channel_id=channel, author_id="ULEAD", text=text, now=NOW,
                                takes_part=lambda: True)


@pytest.fixture
def review_channel(runtime: Runtime, postmortem_id: int, fake_slack: FakeSlack) -> str:
    channel = fake_slack.add_channel("pm-race", members=[BOT_USER_ID, "ULEAD"], is_private=True)
    with runtime.sessions.begin() as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(channel_id=channel))
    return channel


def close(runtime: Runtime, postmortem_id: int) -> None:
    with runtime.sessions.begin() as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))


def test_a_close_waits_for_a_quick_note_in_flight(runtime: Runtime, postmortem_id: int, review_channel: str) -> None:
    """`/postmortem note` finds, locks and inserts in one statement: the close waits until its commit."""
    in_flight = runtime.sessions()
    in_flight.begin()
    try:
        assert quick_note_in(in_flight, review_channel, "Written before the close") is not None
        thread, outcome = in_thread(lambda: close(runtime, postmortem_id))
        time.sleep(BLOCKED_FOR)
        assert thread.is_alive(), f"the close did not wait for the note in flight: {outcome}"
        in_flight.commit()
    finally:
        in_flight.close()
    thread.join(timeout=10)
    assert "error" not in outcome

    answer, stored = note_flows.quick(runtime, channel_id=review_channel, user_id="ULEAD", text="Written after the close")
    assert (answer.text, stored) == ("This post-mortem is closed.", False)
    with runtime.sessions() as session:
        assert session.scalars(select(Note.text)).all() == ["Written before the close"]


def test_a_quick_note_in_flight_when_the_postmortem_closes_is_refused(
    runtime: Runtime, postmortem_id: int, review_channel: str
) -> None:
    """The note's statement waits for the close's lock, then sees the row as the close left it."""
    closing = runtime.sessions()
    closing.begin()
    closing.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))

    def add_late_note() -> Any:
        with runtime.sessions.begin() as session:
            return quick_note_in(session, review_channel, "Written as it closed")

    try:
        thread, outcome = in_thread(add_late_note)
        time.sleep(BLOCKED_FOR)
        assert thread.is_alive(), f"the note did not wait for the close: {outcome}"
        closing.commit()
    finally:
        closing.close()
    thread.join(timeout=10)
    assert isinstance(outcome.get("error"), notes.NoteRefused) and str(outcome["error"]) == "This post-mortem is closed."
    with runtime.sessions() as session:
        assert session.scalars(select(Note)).all() == []
