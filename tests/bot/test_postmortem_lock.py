"""The post-mortem row lock taken by every change (PostgreSQL): a purge waits for notes in flight, and a
note in flight when the post-mortem closes is refused, never stored after the close."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, select, update

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


def waits_for(holder: Any, work: Any, *, what: str) -> tuple[dict[str, Any], float]:
    """Runs `work` in a thread while `holder` (a session in a transaction) holds its locks: proves the work
    waited, then commits `holder` (closes it either way, so no lock outlives the test). Returns the
    work's outcome and when the holder committed."""
    try:
        thread, outcome = in_thread(work)
        time.sleep(BLOCKED_FOR)
        assert thread.is_alive(), f"{what} did not wait: {outcome}"
        committed = time.monotonic()
        holder.commit()
    finally:
        holder.close()
    thread.join(timeout=10)
    return outcome, committed


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

    outcome, committed = waits_for(in_flight, delete_first, what="the purge, behind the note in flight,")
    assert "error" not in outcome and outcome["finished"] >= committed
    with runtime.sessions() as session:
        assert session.scalars(select(Note.text)).all() == ["Proxy saw http://c2-race.net/x again"]
        assert set(session.execute(select(Indicator.kind, Indicator.value)).tuples()) == \
            {("url", "http://c2-race.net/x"), ("domain", "c2-race.net")}


def while_closing(runtime: Runtime, postmortem_id: int, work: Any) -> dict[str, Any]:
    """Runs `work` while a close holds the post-mortem's row: proves it waited, then lets the close commit."""
    closing = runtime.sessions()
    closing.begin()
    closing.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))
    return waits_for(closing, work, what="the note, behind the close,")[0]


def test_a_note_in_flight_when_the_postmortem_closes_is_refused(runtime: Runtime, postmortem_id: int) -> None:
    def add_late_note() -> Note:
        with runtime.sessions.begin() as session:
            return add_note(session, postmortem_id, "Written as it closed")

    outcome = while_closing(runtime, postmortem_id, add_late_note)
    assert isinstance(outcome.get("error"), notes.NoteRefused) and str(outcome["error"]) == "This post-mortem is closed."
    with runtime.sessions() as session:
        assert session.scalars(select(Note)).all() == []


def quick_note_in(session: Any, channel: str, text: str) -> Any:
    return notes.add_in_channel(session, channel_id=channel, author_id="ULEAD", text=text, now=NOW)


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
    except BaseException:
        in_flight.close()
        raise
    outcome, _ = waits_for(in_flight, lambda: close(runtime, postmortem_id), what="the close, behind the note in flight,")
    assert "error" not in outcome

    answer = note_flows.quick(runtime, channel_id=review_channel, user_id="ULEAD", text="Written after the close")
    assert answer.text == "This post-mortem is closed."
    with runtime.sessions() as session:
        assert session.scalars(select(Note.text)).all() == ["Written before the close"]


def test_a_quick_note_in_flight_when_the_postmortem_closes_is_refused(
    runtime: Runtime, postmortem_id: int, review_channel: str
) -> None:
    """The note's statement waits for the close's lock, then sees the row as the close left it."""
    def add_late_note() -> Any:
        with runtime.sessions.begin() as session:
            return quick_note_in(session, review_channel, "Written as it closed")

    outcome = while_closing(runtime, postmortem_id, add_late_note)
    assert isinstance(outcome.get("error"), notes.NoteRefused) and str(outcome["error"]) == "This post-mortem is closed."
    with runtime.sessions() as session:
        assert session.scalars(select(Note)).all() == []


def test_a_remembered_members_note_is_one_statement_and_a_close_in_flight_still_refuses_it(
    runtime: Runtime, postmortem_id: int, review_channel: str, fake_slack: FakeSlack
) -> None:
    statements: list[str] = []
    commits: list[object] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    event.listen(runtime.engine, "commit", lambda connection: commits.append(connection))
    assert note_flows.quick(runtime, channel_id=review_channel, user_id="ULEAD", text="First, members unknown") \
        .text.startswith(":memo: Added")  # a transaction, and Slack is asked for the members
    statements.clear(), commits.clear()
    assert note_flows.quick(runtime, channel_id=review_channel, user_id="ULEAD", text="Second, members known") \
        .text.startswith(":memo: Added")
    assert len(statements) == 1 and statements[0].startswith("WITH target AS") and commits == []
    # With an indicator in it the note takes the transaction (its indicators are stored with it).
    statements.clear()
    note_flows.quick(runtime, channel_id=review_channel, user_id="ULEAD", text="Beacon to evil-c2.net")
    assert len(statements) == 2 and commits  # the note, its indicator, one commit

    outcome = while_closing(runtime, postmortem_id, lambda: note_flows.quick(
        runtime, channel_id=review_channel, user_id="ULEAD", text="Written as it closed"))
    assert outcome["result"].text == "This post-mortem is closed."
    with runtime.sessions() as session:
        assert "Written as it closed" not in session.scalars(select(Note.text)).all()
        assert len(session.scalars(select(Note.text)).all()) == 3
        assert session.scalars(select(Indicator.value)).all() == ["evil-c2.net"]
