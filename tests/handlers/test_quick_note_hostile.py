"""Hostile review of `/postmortem note <text>`: non-members, a failing Slack, duplicates at once, odd text."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update

from bot import logs
from bot.demo.signed_requests import SlackSim, wait_for_dm
from bot.runtime import Runtime
from bot.slack.double import RESPONSE_URL, FakeSlack
from handlers.guard import OUR_TROUBLE, SLACK_TROUBLE
from models import Indicator, Note, Postmortem, PostmortemStatus
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN
from tests.handlers.test_reports import publish
from tests.races import at_once, most_in_flight, on_postgresql

NOT_FOUND = "I can't find a post-mortem you take part in here. Ask its facilitator to add you, or run this in the review channel."


def count(in_transaction: Any, model: Any) -> int:
    with in_transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_slack_failing_on_members_after_the_insert_stores_nothing_and_says_it_did_not_go_through(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    runtime.slack.forget_members(channel=channel)
    fake_slack.inject("conversations.members", error="internal_error", times=5)
    reply = slack.ask("note 203.0.113.9 beaconed out", user=LEAD, channel=channel)
    assert reply.text == SLACK_TROUBLE.format(error="internal_error")
    assert count(in_transaction, Note) == 0
    assert count(in_transaction, Indicator) == 0


def test_non_member_on_a_closed_postmortem_learns_nothing_and_nothing_is_stored(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    with in_transaction() as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))
    assert slack.ask("note hi", user=OUTSIDER, channel=channel).text == NOT_FOUND
    assert slack.ask("note hi", user=LEAD, channel=channel).text == "This post-mortem is closed."
    assert count(in_transaction, Note) == 0


def test_non_member_note_with_indicators_is_not_stored(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    assert slack.ask("note http://evil.example.org/x 198.51.100.7", user=OUTSIDER, channel=channel).text == NOT_FOUND
    assert count(in_transaction, Note) == 0 and count(in_transaction, Indicator) == 0


def test_the_same_quick_note_redelivered_at_once_is_stored_once(
    slack: SlackSim, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    body = "note C2 at http://c2.example.net/gate and 192.0.2.44"
    with on_postgresql(runtime.engine, "WITH target", parties=6) as rendezvous:
        answers, intervals = at_once(lambda _: slack.ask(body, user=RESPONDER_BERLIN, channel=channel).text, 6)
    assert most_in_flight(intervals) >= 2
    assert rendezvous is None or rendezvous.met.is_set()  # on PostgreSQL all six statements ran together
    assert sum(a.startswith(":memo: Added to") for a in answers) == 1, answers
    assert sum(a.startswith(":memo: Already in") for a in answers) == 5, answers
    assert count(in_transaction, Note) == 1
    with in_transaction() as session:
        kinds = sorted(session.scalars(select(Indicator.value)))
    assert kinds == sorted(set(kinds)) and "192.0.2.44" in kinds


@pytest.mark.parametrize("note_text", [
    "ünïcödé 日本語 🙂 " * 10,
    "x" * 2999 + "🙂",
    "zero\u200bwidth and rtl \u202e text",
    "nul\x00 inside and \x1b[31m escape",
    "\u0085next line and \u00a0nbsp",
])
def test_odd_texts_are_stored_as_cleaned(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any, note_text: str
) -> None:
    _, channel = started
    reply = slack.ask("note " + note_text, user=LEAD, channel=channel)
    assert reply.text.startswith(":memo: Added to"), reply.text
    with in_transaction() as session:
        [stored] = session.scalars(select(Note.text))
    assert "\x00" not in stored and "\x1b" not in stored


def test_whitespace_only_note(slack: SlackSim, started: tuple[int, str], in_transaction: Any) -> None:
    _, channel = started
    reply = slack.command("note \u3000\u2003 \n\t", user=LEAD, channel=channel)
    assert reply.status == 200
    assert count(in_transaction, Note) == 0


def test_terminated_backends_do_not_give_tracebacks(
    slack: SlackSim, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    _, channel = started
    from sqlalchemy import create_engine
    killer = create_engine(str(runtime.engine.url.render_as_string(hide_password=False)))
    with killer.connect() as connection:
        connection.execute(text("select pg_terminate_backend(pid) from pg_stat_activity "
                                "where datname='pm_review' and pid<>pg_backend_pid()"))
    killer.dispose()
    answers = [slack.ask(f"note after kill {n}", user=LEAD, channel=channel).text for n in range(3)]
    # A connection cut while in steady use (idle < 5 s: not pinged) fails its first statement: the person is told
    # it did not go through, and SQLAlchemy drops the pool, so what follows works.
    assert answers[0] in {OUR_TROUBLE} or answers[0].startswith(":memo: Added to"), answers
    assert all(a.startswith(":memo: Added to") for a in answers[1:]), answers
    with in_transaction() as session:
        stored = set(session.scalars(select(Note.text)))
    assert stored == {a.split("*: ", 1)[1] for a in answers if a.startswith(":memo:")}


def test_a_stored_quick_note_whose_answer_fails_is_told_what_happened_by_dm(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    """Slack refuses the answer on the response_url: the note is committed by then, so the person must
    hear that it was added, not "send it again in a minute" (a minute later that stores it a second time)."""
    _, channel = started
    fake_slack.inject(RESPONSE_URL, status=500)
    slack.command("note The proxy kept 2 days of logs", user=LEAD, channel=channel)
    assert wait_for_dm(fake_slack, LEAD, ":memo: Added to")["text"].endswith("The proxy kept 2 days of logs")
    assert count(in_transaction, Note) == 1
    assert not fake_slack.responses  # nothing else was said, on either path


def test_a_refused_quick_note_whose_answer_fails_is_told_the_refusal_by_dm(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    fake_slack.inject(RESPONSE_URL, status=500)
    slack.command("note I was not there", user=OUTSIDER, channel=channel)
    assert wait_for_dm(fake_slack, OUTSIDER, "I can't find a post-mortem")["text"] == NOT_FOUND
    assert count(in_transaction, Note) == 0


def test_quick_notes_racing_a_close_are_either_stored_and_added_or_refused_and_absent(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    publish(slack, fake_slack, channel)

    def work(index: int) -> str:
        if index == 0:
            return slack.ask("close", user=LEAD, channel=channel, timeout=20).text
        return slack.ask(f"note racing the close {index}", user=LEAD, channel=channel, timeout=20).text

    answers, intervals = at_once(work, 8)
    assert most_in_flight(intervals) >= 2
    assert answers[0].startswith(":lock:"), answers[0]
    with in_transaction() as session:
        stored = set(session.scalars(select(Note.text)))
    for index, answer in enumerate(answers[1:], start=1):
        note = f"racing the close {index}"
        if answer.startswith(":memo: Added to"):
            assert note in stored
        else:
            assert answer == "This post-mortem is closed." and note not in stored, answer


def test_a_quick_notes_work_runs_with_the_request_team_user_and_listener_bound_for_its_log_lines(
    slack: SlackSim, started: tuple[int, str], monkeypatch: Any
) -> None:
    seen: list[Any] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        seen.append(logs.current())
        raise RuntimeError("the database went away")

    monkeypatch.setattr("bot.indicators.extraction.record", broken)
    slack.ask("note The proxy logs are gone", user=LEAD, channel=started[1])
    [context] = seen
    assert context.request_id and (context.team, context.user, context.listener) == ("T0000FAKE", LEAD, "/postmortem note")


def test_a_remembered_members_plain_note_is_one_write_and_no_transaction_on_either_database(
    slack: SlackSim, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    assert slack.ask("note first: the bot asks Slack for the members", user=LEAD, channel=channel).text \
        .startswith(":memo: Added")
    runtime.slack.channel_members(channel=channel)  # remembered again if the set-up's invites just forgot it
    executed: list[tuple[int, str]] = []

    def record(*args: Any) -> None:
        executed.append((threading.get_ident(), args[2]))

    def committed(_connection: Any) -> None:
        executed.append((threading.get_ident(), "COMMIT"))

    event.listen(runtime.engine, "before_cursor_execute", record)
    event.listen(runtime.engine, "commit", committed)
    try:
        # No separator, no hex run: this text cannot hold an indicator, so there is nothing else to store.
        assert slack.ask("note second and members remembered", user=LEAD, channel=channel).text \
            .startswith(":memo: Added to")
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
        event.remove(runtime.engine, "commit", committed)
    [note_thread] = {thread for thread, sql in executed if "INSERT INTO notes" in sql}
    by_note = [sql for thread, sql in executed if thread == note_thread]
    assert sum("INSERT INTO notes" in sql for sql in by_note) == 1
    # No transaction around it: no COMMIT, and on SQLite no BEGIN IMMEDIATE either.
    assert not any(sql.startswith(("BEGIN", "COMMIT")) for sql in by_note), by_note
    assert count(in_transaction, Note) == 2
