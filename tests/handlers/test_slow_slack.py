"""A slow and failing Slack: every listener still acks within Slack's 3 s, nothing is made twice.

The slow cases run against a second app whose Slack gateway has just started (no user remembered),
as after a deploy, so the work behind each request really waits on the injected 429s and delays.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.serving import serving
from bot.demo.signed_requests import Reply, SlackSim, eventually, settled_view, wait_for_dm
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings
from bot.slack.double import FakeSlack
from handlers.replies import FORM_FAILED, SAVE_FAILED
from models import Action, Note, Postmortem
from tests.conftest import LEAD, RESPONDER_BERLIN
from tests.handlers.test_actions import assign, press_owner_button
from tests.handlers.test_meetings import MONDAY_1500
from tests.handlers.test_start import REPORT, open_form
from tests.races import at_once, most_in_flight
from tests.serving import seed_review
from tests.support import notice_text

ACK_DEADLINE = 3.0  # Slack's: an answer later than this is a failed request
NEWCOMER = "U0NEWBIE01"


@pytest.fixture
def restarted(started: tuple[int, str], settings: Settings, clock: FrozenClock, fake_slack: FakeSlack) -> Iterator[SlackSim]:
    """The same database and Slack, served by a freshly started bot that remembers no one."""
    with serving(build_runtime(settings, clock=clock)) as url:
        yield SlackSim(url, fake_slack)


def make_slack_slow(fake: FakeSlack) -> None:
    fake.inject("users.info", status=429, retry_after=4, times=2)
    fake.slow("chat.postMessage", seconds=2)


def timed(request: Callable[[], Reply]) -> tuple[Reply, float]:
    began = time.monotonic()
    reply = request()
    return reply, time.monotonic() - began


def answer_to(fake: FakeSlack, response_url: str) -> dict[str, Any]:
    return eventually(lambda: next((r for r in fake.responses if r["response_url"] == response_url), None),
                      timeout=20, what="the answer on the response_url")


def test_one_line_action_acks_at_once_on_a_slow_slack_and_a_retype_adds_nothing(
    restarted: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    _, channel = started
    fake_slack.add_user(NEWCOMER, name="Nia New", tz="Europe/Paris")
    make_slack_slow(fake_slack)
    first_url = fake_slack.response_url()
    began = time.monotonic()
    reply, took = timed(lambda: restarted.command(f"action <@{NEWCOMER}|nia> 2026-12-04 Rotate VPN certificates",
                                                  user=LEAD, channel=channel, response_url=first_url))
    assert (reply.status, reply.body) == (200, "") and took < ACK_DEADLINE
    answer = answer_to(fake_slack, first_url)
    # The work behind the ack really waited on Slack (Retry-After 4), yet the ack did not.
    assert time.monotonic() - began > 4
    assert answer["text"] == f":white_check_mark: Assigned to <@{NEWCOMER}>, due 2026-12-04: Rotate VPN certificates"
    wait_for_dm(fake_slack, NEWCOMER, "New follow-up:", timeout=20)

    retyped_url = fake_slack.response_url()
    reply, took = timed(lambda: restarted.command(f"action <@{NEWCOMER}>  2026-12-04 rotate VPN  Certificates",
                                                  user=LEAD, channel=channel, response_url=retyped_url))
    assert reply.status == 200 and took < ACK_DEADLINE
    assert answer_to(fake_slack, retyped_url)["text"].startswith(":white_check_mark: Already assigned")
    with runtime.sessions() as session:
        assert len(session.scalars(select(Action)).all()) == 1
    assert len([m for m in fake_slack.dm_messages(NEWCOMER) if "New follow-up:" in m["text"]]) == 1


def test_every_kind_of_listener_acks_within_3_seconds_on_a_slow_slack(
    restarted: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    postmortem_id, channel = started
    war_room = fake_slack.add_channel("incident-war-room", members=[LEAD, RESPONDER_BERLIN, "UBOT000001"])
    message = fake_slack.add_message(war_room, user=RESPONDER_BERLIN, text="Blocked evil-login.com at the proxy")
    make_slack_slow(fake_slack)
    requests: dict[str, Callable[[], Reply]] = {
        "quick note": lambda: restarted.command("note Proxy logs kept for 90 days", user=LEAD, channel=channel),
        "notes list": lambda: restarted.command("notes", user=LEAD, channel=channel),
        "my actions": lambda: restarted.command("actions", user=LEAD, channel=channel),
        "action form": lambda: restarted.command("action", user=LEAD, channel=channel),
        "meeting form": lambda: restarted.command("schedule", user=LEAD, channel=channel),
        "kickoff button": lambda: restarted.press("kickoff_add_note", str(postmortem_id), user=LEAD),
        "message shortcut": lambda: restarted.interaction({
            "type": "message_action", "callback_id": "add_to_postmortem", "user": {"id": LEAD},
            "channel": {"id": war_room, "name": "incident-war-room"}, "message": message, "message_ts": message["ts"],
            "trigger_id": fake_slack.issue_trigger(), "response_url": fake_slack.response_url()}),
    }
    slow = {}
    for name, request in requests.items():
        reply, took = timed(request)
        assert reply.status == 200, name
        slow[name] = took
    assert {name: took for name, took in slow.items() if took >= ACK_DEADLINE} == {}

    # Each modal was opened with its trigger at once, then filled in once Slack answered.
    forms = eventually(lambda: {v.get("callback_id") for v in fake_slack.views.values()}
                       >= {"action_form", "meeting_form", "note_form"}, timeout=20, what="the three forms")
    assert forms
    captured = eventually(lambda: next((v for v in fake_slack.views.values() if v.get("callback_id") == "note_form"
                                        and "permalink" in v.get("private_metadata", "")), None), timeout=20)
    assert f"/archives/{war_room}/" in captured["private_metadata"]


def test_submissions_ack_within_3_seconds_on_a_slow_slack(
    restarted: SlackSim, slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    fake_slack.add_user(NEWCOMER, name="Nia New", tz="Europe/Paris")
    slack.command("action", user=LEAD, channel=channel)
    action_form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_form" and fake_slack.latest_view())
    slack.command("schedule", user=LEAD, channel=channel)
    meeting_form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "meeting_form" and fake_slack.latest_view())
    make_slack_slow(fake_slack)

    reply, took = timed(lambda: restarted.submit_view(action_form, user=LEAD, values={
        "title": "Phishing drill", "owner_id": NEWCOMER, "due_on": "2026-12-10", "priority": "high", "category": "other"}))
    assert (reply.json()["response_action"], took < ACK_DEADLINE) == ("update", True)
    reply, took = timed(lambda: restarted.submit_view(meeting_form, user=LEAD, values={
        "starts_at": MONDAY_1500, "duration": "60", "location": "Zoom", "agenda": "Timeline"}))
    assert (reply.json()["response_action"], took < ACK_DEADLINE) == ("update", True)

    assert notice_text(settled_view(fake_slack, action_form["id"], timeout=20)).startswith(
        f":white_check_mark: Assigned to <@{NEWCOMER}>")
    assert notice_text(settled_view(fake_slack, meeting_form["id"], timeout=20)).startswith(":white_check_mark: Scheduled.")


def test_a_channel_created_without_an_answer_is_found_not_made_twice(
    slack: SlackSim, fake_slack: FakeSlack, runtime: Runtime
) -> None:
    fake_slack.inject("conversations.create", reset=True, effect_first=True)
    slack.submit_view(open_form(slack, fake_slack), user=LEAD, values=REPORT)
    wait_for_dm(fake_slack, LEAD, "is ready")
    assert [c.name for c in fake_slack.channels_named("pm-")] == ["pm-20261117-vpn-credential-phishing"]
    assert len(fake_slack.calls_to("conversations.create")) == 1  # looked up, not created again
    assert fake_slack.calls_to("conversations.list")[0]["types"] == "private_channel"
    with runtime.sessions() as session:
        postmortem = session.scalars(select(Postmortem)).one()
    assert postmortem.channel_id == fake_slack.channels_named("pm-")[0].id and postmortem.kickoff_pinned


@pytest.mark.parametrize("failure", [{"reset": True}, {"status": 503}])
def test_a_kickoff_posted_without_an_answer_is_found_not_posted_twice(
    slack: SlackSim, fake_slack: FakeSlack, runtime: Runtime, failure: dict[str, Any]
) -> None:
    fake_slack.inject("chat.postMessage", effect_first=True, **failure)  # the kickoff is the set-up's first post
    slack.submit_view(open_form(slack, fake_slack), user=LEAD, values=REPORT)
    wait_for_dm(fake_slack, LEAD, "is ready")
    [channel] = fake_slack.channels_named("pm-")
    kickoffs = [m for m in fake_slack.messages[channel.id] if (m.get("metadata") or {}).get("event_type") == "postmortem_kickoff"]
    assert len(kickoffs) == 1 and len(fake_slack.messages[channel.id]) == 1
    with runtime.sessions() as session:
        postmortem = session.scalars(select(Postmortem)).one()
    assert kickoffs[0]["metadata"]["event_payload"] == {"postmortem_id": postmortem.id}
    assert (postmortem.kickoff_ts, fake_slack.pins[channel.id]) == (kickoffs[0]["ts"], [kickoffs[0]["ts"]])


def test_a_kickoff_lost_on_an_earlier_run_is_found_by_the_retry(
    slack: SlackSim, fake_slack: FakeSlack, runtime: Runtime
) -> None:
    # Lost three times over: the set-up stops at the kickoff, though the post went out once.
    fake_slack.inject("chat.postMessage", reset=True, effect_first=True)
    fake_slack.inject("conversations.history", status=503, times=3)
    slack.submit_view(open_form(slack, fake_slack), user=LEAD, values=REPORT)
    wait_for_dm(fake_slack, LEAD, "could not post the kickoff message")
    [channel] = fake_slack.channels_named("pm-")
    assert len(fake_slack.messages[channel.id]) == 1

    assert slack.ask("retry", user=LEAD).text.startswith("Picking up where I stopped.")
    wait_for_dm(fake_slack, LEAD, "is ready")
    assert len(fake_slack.messages[channel.id]) == 1 and len(fake_slack.pins[channel.id]) == 1


def test_the_same_action_typed_twice_at_once_on_a_slow_slack_is_made_once(
    restarted: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    _, channel = started
    fake_slack.add_user(NEWCOMER, name="Nia New", tz="Europe/Paris")
    make_slack_slow(fake_slack)
    urls = [fake_slack.response_url(), fake_slack.response_url()]
    barrier = threading.Barrier(2)
    acked: list[float] = []

    def type_it(url: str) -> None:
        barrier.wait()
        reply = restarted.command(f"action <@{NEWCOMER}> 2026-12-04 Rotate VPN certificates", user=LEAD, channel=channel,
                                  response_url=url)
        assert reply.status == 200
        acked.append(time.monotonic())

    began = time.monotonic()
    typists = [threading.Thread(target=type_it, args=(url,)) for url in urls]
    for typist in typists:
        typist.start()
    for typist in typists:
        typist.join()
    answers = [answer_to(fake_slack, url) for url in urls]
    answered = time.monotonic()
    # Both were acked at once, and both were still being worked on (waiting on Slack) after both acks.
    assert len(acked) == 2 and max(acked) - began < ACK_DEADLINE and answered - max(acked) > 1
    assert sum(a["text"].startswith(":white_check_mark: Assigned") for a in answers) == 1
    with runtime.sessions() as session:
        assert len(session.scalars(select(Action)).all()) == 1


def test_a_form_that_cannot_be_prepared_says_so_instead_of_loading_forever(
    restarted: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    fake_slack.inject("users.info", error="fatal_error")  # the form needs the person's time zone
    response_url = fake_slack.response_url()
    assert restarted.command("action", user=LEAD, channel=channel, response_url=response_url).status == 200
    eventually(lambda: notice_text(fake_slack.latest_view()) == FORM_FAILED, what="the failure in the modal")
    assert "fatal_error" in answer_to(fake_slack, response_url)["text"]


def test_a_submission_that_fails_after_its_ack_says_so_in_the_modal(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    _, channel = started
    fake_slack.add_user(NEWCOMER, name="Nia New", tz="Europe/Paris")
    slack.command("action", user=LEAD, channel=channel)
    form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_form" and fake_slack.latest_view())
    fake_slack.inject("users.info", error="fatal_error")  # the new owner's time zone cannot be had
    reply = slack.submit_view(form, user=LEAD, values={"title": "Phishing drill", "owner_id": NEWCOMER, "due_on": "2026-12-10"})
    assert reply.json()["response_action"] == "update"
    assert notice_text(settled_view(fake_slack, form["id"])) == SAVE_FAILED
    wait_for_dm(fake_slack, LEAD, "fatal_error")
    with runtime.sessions() as session:
        assert session.scalars(select(Action)).all() == []


def test_an_extension_acks_within_3_seconds_on_a_slow_slack(
    restarted: SlackSim, slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    assign(slack, channel)
    make_slack_slow(fake_slack)
    press_owner_button(restarted, fake_slack, "Extend due date")  # the fresh bot learns the zones while the form opens
    form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_extend_form" and fake_slack.latest_view(),
                      timeout=20)
    fake_slack.inject("users.info", status=429, retry_after=4, times=2)
    reply, took = timed(lambda: restarted.submit_view(form, user=RESPONDER_BERLIN,
                                                      values={"due_on": "2026-12-14", "reason": "Vendor delay"}))
    assert took < ACK_DEADLINE
    assert notice_text(reply.json()["view"]) == ":white_check_mark: New due date 2026-12-14 for Rotate VPN certificates."
    assert len(fake_slack.injected["users.info"]) == 2  # replanned with the zones it knew: Slack was not asked


def test_a_reassignment_to_someone_slack_was_never_asked_about_acks_within_3_seconds(
    restarted: SlackSim, slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    # The new owner is picked in the form, so no worker has looked them up: checking them is a users.info.
    _, channel = started
    fake_slack.add_user(NEWCOMER, name="Nia New", tz="Europe/Paris")
    assign(slack, channel)
    press_owner_button(slack, fake_slack, "Reassign")
    form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_reassign_form" and fake_slack.latest_view())
    fake_slack.inject("users.info", status=429, retry_after=4, times=1)
    reply, took = timed(lambda: restarted.submit_view(form, user=RESPONDER_BERLIN,
                                                      values={"owner_id": NEWCOMER, "reason": "On leave"}))
    assert reply.status == 200 and took < ACK_DEADLINE
    # Slack asked us to wait longer than the answer may: the modal stays open and says so truthfully.
    assert reply.json()["response_action"] == "errors"
    assert "Slack" in " ".join(reply.json()["errors"].values()) and "still here" in " ".join(reply.json()["errors"].values())
    with runtime.sessions() as session:
        assert session.scalars(select(Action)).one().owner_id == RESPONDER_BERLIN  # nothing half-done

    # Sent again (here to the other worker, which Slack has not asked to wait): it goes through.
    reply, took = timed(lambda: slack.submit_view(form, user=RESPONDER_BERLIN,
                                                  values={"owner_id": NEWCOMER, "reason": "On leave"}))
    assert took < ACK_DEADLINE and notice_text(reply.json()["view"]).startswith(f":white_check_mark: <@{NEWCOMER}> owns")


def test_a_note_submitted_to_a_worker_that_never_saw_the_channel_acks_within_3_seconds(
    restarted: SlackSim, slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    # The form opened on one worker; the submission lands on another whose member list is cold.
    _, channel = started
    slack.command("note", user=RESPONDER_BERLIN, channel=channel)
    form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    fake_slack.inject("conversations.members", status=429, retry_after=4, times=1)
    reply, took = timed(lambda: restarted.submit_view(form, user=RESPONDER_BERLIN,
                                                      values={"category": "observation", "text": "Proxy logs kept"}))
    assert reply.status == 200 and took < ACK_DEADLINE
    assert reply.json()["response_action"] == "errors" and "Slack" in " ".join(reply.json()["errors"].values())
    with runtime.sessions() as session:
        assert session.scalars(select(Note)).all() == []  # told it didn't go through, and it didn't
    reply = slack.submit_view(form, user=RESPONDER_BERLIN, values={"category": "observation", "text": "Proxy logs kept"})
    assert reply.json()["response_action"] == "update"
    with runtime.sessions() as session:
        assert len(session.scalars(select(Note)).all()) == 1


def test_a_note_waiting_on_a_slow_slack_holds_up_no_other_review_channels_note(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, database_url: str
) -> None:
    """Who is in the channel is asked of Slack before the note is written: while Slack takes 4 s to
    answer for one channel, a note in another review channel is stored at once (on SQLite the first
    note once held the one write lock through Slack's answer, and every other writer waited)."""
    _, slow_channel = started
    quick_channel = seed_review(database_url, fake_slack, facilitator=LEAD, members=[], title="Second incident")
    runtime.slack.channel_members(channel=quick_channel)  # remembered: this note asks Slack nothing
    runtime.slack.forget_members(channel=slow_channel)
    asked_before = len(fake_slack.calls_to("conversations.members"))
    fake_slack.slow("conversations.members", seconds=4)
    finished: dict[str, float] = {}

    def slow_note() -> None:
        slack.ask("note Beacon to 203.0.113.9 every 60 s", user=LEAD, channel=slow_channel, timeout=20)
        finished["slow"] = time.monotonic()

    waiting = threading.Thread(target=slow_note)
    waiting.start()
    eventually(lambda: len(fake_slack.calls_to("conversations.members")) > asked_before, timeout=10,
               what="the slow note asking Slack for the channel's members")
    quick = slack.ask("note Beacon to 203.0.113.10 every 60 s", user=LEAD, channel=quick_channel, timeout=20)
    finished["quick"] = time.monotonic()
    waiting.join(timeout=30)
    assert quick.text.startswith(":memo: Added to"), quick.text
    assert finished["quick"] < finished["slow"] - 2  # not behind the slow one: it ended while Slack still took its time
    with runtime.sessions() as session:
        assert sorted(session.scalars(select(Note.text))) == ["Beacon to 203.0.113.10 every 60 s",
                                                              "Beacon to 203.0.113.9 every 60 s"]


def test_a_burst_of_notes_stuck_on_a_slow_slack_after_their_acks_delays_no_ack(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    """Bolt runs each listener, ack included, in one thread pool: when the work after earlier acks
    waits on Slack and fills the pool, later requests cannot even ack. More requests at once than the
    pool once had threads must all be acked in time, and all be stored."""
    _, channel = started
    runtime.slack.forget_members(channel=channel)
    fake_slack.slow("conversations.members", seconds=4)  # every note waits here, after its ack
    burst = 24

    def note(index: int) -> tuple[Reply, float]:
        return timed(lambda: slack.command(f"note Burst {index}", user=LEAD, channel=channel))

    replies, intervals = at_once(note, burst)
    assert most_in_flight(intervals) >= 8
    slowest = max(took for _, took in replies)
    assert all(reply.status == 200 for reply, _ in replies) and slowest < ACK_DEADLINE, slowest
    eventually(lambda: sum("Burst" in answer.get("text", "") for answer in fake_slack.responses) == burst, timeout=30,
               what="every note's answer")
    with runtime.sessions() as session:
        assert len(session.scalars(select(Note)).all()) == burst
