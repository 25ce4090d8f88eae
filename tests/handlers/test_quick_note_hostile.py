"""Hostile review of `/postmortem note <text>`: non-members, a failing Slack, duplicates at once, odd text."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import event, func, select, text, update

from bot import logs
from bot.app import LISTENER_THREADS
from bot.demo.signed_requests import SlackSim, eventually, wait_for_dm
from bot.runtime import Runtime
from bot.slack.double import RESPONSE_URL, FakeSlack
from handlers.guard import OUR_TROUBLE, SLACK_TROUBLE
from models import Indicator, Note, Postmortem, PostmortemStatus
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN
from tests.handlers.test_reports import publish
from tests.races import at_once, most_in_flight, on_postgresql
from tests.serving import seed_review

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
    with fake_slack.lock:
        fake_slack.injected.pop("conversations.members", None)  # Slack recovered: "send it again" was true
    assert slack.ask("note 203.0.113.9 beaconed out", user=LEAD, channel=channel).text.startswith(":memo: Added to")
    assert count(in_transaction, Note) == 1 and count(in_transaction, Indicator) == 1


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


@pytest.mark.parametrize("note_of", [
    "racing the close {index}",  # one statement
    "racing 203.0.113.{index} at close",  # may hold an indicator: a transaction that records it
])
def test_quick_notes_racing_a_close_are_either_stored_and_added_or_refused_and_absent(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any, note_of: str
) -> None:
    _, channel = started
    publish(slack, fake_slack, channel)

    def work(index: int) -> str:
        if index == 0:
            return slack.ask("close", user=LEAD, channel=channel, timeout=30).text
        return slack.ask("note " + note_of.format(index=index), user=LEAD, channel=channel, timeout=30).text

    answers, intervals = at_once(work, 10)
    assert most_in_flight(intervals) >= 2
    assert answers[0].startswith(":lock:"), answers[0]
    with in_transaction() as session:
        stored = set(session.scalars(select(Note.text)))
        indicators = set(session.scalars(select(Indicator.value)))
    for index, answer in enumerate(answers[1:], start=1):
        note = note_of.format(index=index)
        if answer.startswith(":memo: Added to"):
            assert note in stored and ("203.0.113" not in note or f"203.0.113.{index}" in indicators), answer
        else:
            assert answer == "This post-mortem is closed." and note not in stored, answer
            assert f"203.0.113.{index}" not in indicators


def test_a_quick_notes_work_runs_with_the_request_team_user_and_listener_bound_for_its_log_lines(
    slack: SlackSim, started: tuple[int, str], monkeypatch: Any
) -> None:
    seen: list[Any] = []

    def broken(*args: Any, **kwargs: Any) -> Any:
        seen.append(logs.current())
        raise RuntimeError("the database went away")

    monkeypatch.setattr("bot.indicators.extraction.record", broken)
    slack.ask("note The proxy logs of 203.0.113.7 are gone", user=LEAD, channel=started[1])  # an indicator: recorded
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


# --- Second hostile pass: the one-statement path for remembered members, and the DM fallback ---------------

def remember_members(slack: SlackSim, runtime: Runtime, channel: str, user: str = LEAD) -> None:
    """A first note asks Slack for the channel's members; from then on they are remembered."""
    assert slack.ask("note warming the member cache", user=user, channel=channel).text.startswith(":memo: Added")
    assert runtime.slack.remembered_channel_members(channel=channel) is not None


def test_the_same_plain_quick_note_at_once_from_a_remembered_member_is_stored_once(
    slack: SlackSim, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    remember_members(slack, runtime, channel, user=RESPONDER_BERLIN)
    from sqlalchemy import event
    commits: list[object] = []
    event.listen(runtime.engine, "commit", lambda connection: commits.append(connection))
    body = "note The failover runbook was two versions old"
    with on_postgresql(runtime.engine, "WITH target", parties=6) as rendezvous:
        answers, intervals = at_once(lambda _: slack.ask(body, user=RESPONDER_BERLIN, channel=channel).text, 6)
    assert most_in_flight(intervals) >= 2
    assert rendezvous is None or rendezvous.met.is_set()
    if runtime.engine.dialect.name == "postgresql":  # the one-statement path was the one taken: no COMMIT
        assert commits == []
    assert sum(a.startswith(":memo: Added to") for a in answers) == 1, answers
    assert sum(a.startswith(":memo: Already in") for a in answers) == 5, answers
    assert count(in_transaction, Note) == 2  # the warming note and this one


def test_a_remembered_member_on_a_closed_postmortem_is_told_it_is_closed_and_nothing_is_stored(
    slack: SlackSim, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    postmortem_id, channel = started
    remember_members(slack, runtime, channel)
    with in_transaction() as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))
    assert slack.ask("note written after the close", user=LEAD, channel=channel).text == "This post-mortem is closed."
    with in_transaction() as session:
        assert session.scalars(select(Note.text)).all() == ["warming the member cache"]


def test_a_remembered_member_who_left_is_refused_once_slack_says_so(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    from tests.handlers.test_notes import membership_event
    _, channel = started
    remember_members(slack, runtime, channel, user=RESPONDER_BERLIN)
    fake_slack.channels[channel].members.discard(RESPONDER_BERLIN)
    assert slack.event(membership_event("member_left_channel", RESPONDER_BERLIN, channel), event_id="EvGone").status == 200
    eventually(lambda: runtime.slack.remembered_channel_members(channel=channel) is None, what="the members forgotten")
    assert slack.ask("note left but still writing", user=RESPONDER_BERLIN, channel=channel).text == NOT_FOUND
    with in_transaction() as session:
        assert "left but still writing" not in session.scalars(select(Note.text)).all()


def test_a_pooled_connection_used_for_one_statement_is_transactional_again_afterwards(
    slack: SlackSim, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    """The one-statement path sets AUTOCOMMIT on a pooled connection: the next transaction on that same
    connection must still be one (an error rolls back what it wrote)."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")
    from sqlalchemy import event
    postmortem_id, channel = started
    remember_members(slack, runtime, channel)
    used: list[Any] = []

    def note_connection(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("WITH target"):
            used.append(conn.connection.dbapi_connection)

    event.listen(runtime.engine, "before_cursor_execute", note_connection)
    assert slack.ask("note one statement", user=LEAD, channel=channel).text.startswith(":memo: Added")
    event.remove(runtime.engine, "before_cursor_execute", note_connection)
    [autocommitted] = used
    # Hold pooled connections until the one the note used comes back out.
    held = []
    try:
        for _ in range(runtime.engine.pool.size() + 5):
            connection = runtime.engine.connect()
            held.append(connection)
            if connection.connection.dbapi_connection is autocommitted:
                break
        else:
            pytest.fail("the note's connection never came out of the pool again")
        same = held[-1]
        assert same.connection.dbapi_connection.autocommit is False
        with pytest.raises(Exception):
            with same.begin():
                same.execute(text("UPDATE postmortems SET title = 'changed' WHERE id = :id"), {"id": postmortem_id})
                same.execute(text("SELECT 1/0"))
    finally:
        for connection in held:
            connection.close()
    with in_transaction() as session:
        assert session.scalar(select(Postmortem.title).where(Postmortem.id == postmortem_id)) != "changed"


def test_when_the_response_url_and_the_dm_both_fail_the_person_is_never_told_a_stored_note_did_not_go_through(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    """The response_url refuses once (a 500), the DM fails too: the note is stored, so a later message must
    not say "That didn't go through ... send it again" (a minute later that stores it twice)."""
    import time

    _, channel = started
    fake_slack.inject(RESPONSE_URL, status=500)
    fake_slack.inject("chat.postMessage", error="channel_not_found", times=5)
    response_url = fake_slack.response_url()
    slack.command("note The WAF rule was in log-only mode", user=LEAD, channel=channel, response_url=response_url)
    eventually(lambda: count(in_transaction, Note) == 1, what="the note stored")
    eventually(lambda: fake_slack.calls_to("chat.postMessage"), what="the DM attempted")
    time.sleep(1.0)  # whatever the listener says next, it says within this
    told = [r["text"] for r in fake_slack.responses if r["response_url"] == response_url]
    assert not any("didn't go through" in t for t in told), told
    assert told and all(t.startswith(":memo: Added to") for t in told), told


def test_an_answer_with_blocks_refused_by_the_response_url_arrives_by_dm_with_its_blocks(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    assert slack.ask("note something to list", user=LEAD, channel=channel).text.startswith(":memo: Added")
    fake_slack.inject(RESPONSE_URL, status=500)
    slack.command("notes", user=LEAD, channel=channel, response_url=fake_slack.response_url())
    dm = eventually(lambda: next((m for m in fake_slack.dm_messages(LEAD) if "something to list" in str(m.get("blocks"))),
                                 None), what="the notes listing by DM")
    assert dm["blocks"]


@pytest.mark.parametrize("subcommand", ["", "help", "frobnicate"])
def test_help_and_unknown_subcommands_answer_in_the_ack(slack: SlackSim, fake_slack: FakeSlack, subcommand: str) -> None:
    reply = slack.command(subcommand, user=LEAD, channel="C0WARROOM", response_url=fake_slack.response_url())
    assert reply.status == 200 and reply.body and "note" in reply.body


def test_when_no_way_to_answer_works_the_failure_is_logged_without_a_traceback_and_nothing_false_is_said(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any, caplog: Any
) -> None:
    import logging
    import time

    _, channel = started
    fake_slack.inject(RESPONSE_URL, status=500, times=5)
    fake_slack.inject("chat.postMessage", error="channel_not_found", times=5)
    response_url = fake_slack.response_url()
    with caplog.at_level(logging.WARNING):
        slack.command("note The backup job had been failing silently", user=LEAD, channel=channel,
                      response_url=response_url)
        eventually(lambda: count(in_transaction, Note) == 1, what="the note stored")
        eventually(lambda: any("could not deliver an answer" in r.getMessage() for r in caplog.records),
                   what="the undelivered answer logged")
        time.sleep(0.5)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert not [r for r in fake_slack.responses if r["response_url"] == response_url]


def test_a_worker_that_missed_the_leave_event_refuses_the_member_once_its_memory_times_out(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any,
    monkeypatch: Any
) -> None:
    """Another process got member_left_channel; this one did not. Its remembered members last the TTL (the
    transactional path trusts them as long), and after it Slack is asked again: the one-statement path
    must not outlive the memory."""
    from bot.slack import gateway as slack_gateway
    _, channel = started
    now = [1000.0]
    monkeypatch.setattr(runtime.slack._members, "_clock", lambda: now[0])
    runtime.slack.forget_members(channel=channel)
    remember_members(slack, runtime, channel, user=RESPONDER_BERLIN)
    fake_slack.channels[channel].members.discard(RESPONDER_BERLIN)  # no event reaches this worker
    now[0] += slack_gateway.MEMBERS_CACHE_SECONDS + 0.1
    assert runtime.slack.remembered_channel_members(channel=channel) is None
    assert slack.ask("note written after leaving", user=RESPONDER_BERLIN, channel=channel).text == NOT_FOUND
    with in_transaction() as session:
        assert "written after leaving" not in session.scalars(select(Note.text)).all()


# --- Third hostile pass: Slack asked before the write (members first, then the note), 64 listener threads ---

@pytest.mark.parametrize("note_text", ["plain words closing under it", "beacon to 198.51.100.23 closing under it"])
def test_a_note_whose_slack_answer_arrives_after_the_close_is_refused_and_not_stored(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any,
    note_text: str
) -> None:
    """Who is in the channel is asked before the write: the close lands while Slack takes its time, and the
    note (with or without an indicator) must then be refused as closed, never said to be added."""
    import time

    postmortem_id, channel = started
    runtime.slack.forget_members(channel=channel)
    asked_before = len(fake_slack.calls_to("conversations.members"))
    fake_slack.slow("conversations.members", seconds=3)
    answer: dict[str, str] = {}
    writer = threading.Thread(target=lambda: answer.setdefault(
        "text", slack.ask(f"note {note_text}", user=RESPONDER_BERLIN, channel=channel, timeout=20).text))
    writer.start()
    eventually(lambda: len(fake_slack.calls_to("conversations.members")) > asked_before, what="Slack asked")
    time.sleep(0.3)
    with in_transaction() as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))
    writer.join(timeout=30)
    assert answer["text"] == "This post-mortem is closed.", answer
    with in_transaction() as session:
        assert note_text not in session.scalars(select(Note.text)).all()
    assert count(in_transaction, Indicator) == 0


def test_a_note_refused_by_a_rate_limited_slack_is_retried_and_stored_once(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    """conversations.members answers 429 (Retry-After 1) for the note's membership check: it waits, then stores once."""
    _, channel = started
    runtime.slack.forget_members(channel=channel)
    before = count(in_transaction, Note)
    fake_slack.inject("conversations.members", status=429, retry_after=1, times=1)
    reply = slack.ask("note after a rate limit", user=RESPONDER_BERLIN, channel=channel, timeout=20)
    assert reply.text.startswith(":memo: Added to"), reply.text
    assert count(in_transaction, Note) == before + 1


def test_a_note_in_a_channel_that_is_no_review_channel_asks_slack_nothing(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    before = len(fake_slack.calls_to("conversations.members"))
    other = fake_slack.add_channel("random-chat", members=[LEAD, OUTSIDER])
    for user in (LEAD, OUTSIDER):
        assert slack.ask("note not a review", user=user, channel=other).text == NOT_FOUND
    assert len(fake_slack.calls_to("conversations.members")) == before
    with in_transaction() as session:
        assert "not a review" not in session.scalars(select(Note.text)).all()


def test_listeners_waiting_on_slack_inside_transactions_do_not_starve_a_quick_note_of_database_connections(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any,
    database_url: str
) -> None:
    """64 listener threads, a database pool of POOL_SIZE + overflow: more listings than the pool holds wait on a
    slow Slack for the channel's members, and hold no connection meanwhile (they ask before their transaction),
    so a quick note that needs no Slack still gets one. The pool's 30 s timeout is shortened to 2 s here and
    Slack takes 4 s (in production: a Retry-After of up to 60 s)."""
    _, channel = started
    remember_members(slack, runtime, channel, user=LEAD)
    quick_channel = channel
    pool = runtime.engine.pool
    capacity = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
    waiters = min(LISTENER_THREADS - 4, capacity + 6)
    slow_channel = seed_review(database_url, fake_slack, facilitator=LEAD, members=[], title="Slow listing")
    runtime.slack.forget_members(channel=slow_channel)
    fake_slack.slow("conversations.members", seconds=4)
    pool._timeout = 2  # type: ignore[attr-defined]
    asked_before = len(fake_slack.calls_to("conversations.members"))
    threads = [threading.Thread(target=lambda: slack.ask("notes", user=LEAD, channel=slow_channel, timeout=30))
               for _ in range(waiters)]
    for thread in threads:
        thread.start()
    eventually(lambda: len(fake_slack.calls_to("conversations.members")) >= asked_before + capacity, timeout=10,
               what="the pool's worth of listings asking Slack")
    reply = slack.ask("note needs no Slack at all", user=LEAD, channel=quick_channel, timeout=30)
    for thread in threads:
        thread.join(timeout=60)
    assert reply.text.startswith(":memo: Added to"), reply.text
