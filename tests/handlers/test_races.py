"""Nothing lost, nothing twice, when things really happen at once: every test here proves its overlap
(threads released by a barrier, with the HTTP calls' intervals overlapping; on PostgreSQL also a barrier
inside the database work), then asserts the exact outcome."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from bot.actions import flows as action_flows
from bot.clock import FrozenClock
from bot.demo.signed_requests import SlackSim, eventually, wait_for_dm
from bot.meetings.service import DEFAULT_AGENDA
from bot.reminders import service as reminders
from bot.reminders.dispatcher import dispatch_due
from bot.reports.flows import ALREADY_PUBLISHED, BEING_PUBLISHED
from bot.runtime import Runtime
from bot.slack.double import FakeSlack
from handlers.guard import MODAL_TROUBLE, OUR_TROUBLE, SLACK_TROUBLE_SAVED
from models import Action, ActionChange, Answer, Indicator, Meeting, Note, Reminder, ReminderStatus, ReportVersion
from tests.conftest import LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.handlers.test_actions import BERLIN_DUE, assign, pending, press_owner_button
from tests.handlers.test_meetings import MONDAY_1500, invites, open_meeting_form
from tests.handlers.test_questionnaire import ANSWERS, answers_in_db, open_questionnaire
from tests.races import at_once, most_in_flight, on_postgresql
from tests.support import utc

SHARED_URL = "http://c2-beacon.example.net/gate"


def test_fifty_notes_at_once_sharing_new_indicators_are_all_stored_and_each_indicator_once(
    slack: SlackSim, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    postmortem_id, channel = started
    authors = [LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO]

    def send_note(index: int) -> Any:
        # Every note names the shared URL (and its domain); each also names an address of its own.
        text = f"note Host {index} beaconed to {SHARED_URL} from 203.0.113.{index + 1}"
        return slack.ask(text, user=authors[index % 3], channel=channel)

    with on_postgresql(runtime.engine, "INSERT INTO indicators", parties=4) as rendezvous:
        replies, intervals = at_once(send_note, 50)
    if rendezvous is not None:
        assert rendezvous.met.is_set()  # four notes' transactions were inserting the same indicators together
    assert most_in_flight(intervals) >= 8
    assert all(reply.text.startswith(":memo: Added to") for reply in replies), {r.text for r in replies}
    with in_transaction() as session:
        texts = set(session.scalars(select(Note.text).where(Note.postmortem_id == postmortem_id)))
        stored = list(session.execute(select(Indicator.kind, Indicator.value).where(Indicator.postmortem_id == postmortem_id)).tuples())
    assert texts == {f"Host {i} beaconed to {SHARED_URL} from 203.0.113.{i + 1}" for i in range(50)}
    assert sorted(stored) == sorted([("url", SHARED_URL), ("domain", "c2-beacon.example.net")]
                                    + [("ipv4", f"203.0.113.{i + 1}") for i in range(50)])


def test_the_same_meeting_form_delivered_twice_at_once_schedules_once(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    view = open_meeting_form(slack, fake_slack, user=LEAD, channel=channel)
    values = {"starts_at": MONDAY_1500, "duration": "60", "location": "Room 4", "agenda": DEFAULT_AGENDA}
    with on_postgresql(runtime.engine, "INSERT INTO meetings", parties=2) as rendezvous:
        replies, intervals = at_once(lambda _: slack.submit_view(view, user=LEAD, values=values), 2)
        # Saving happens after the ack ("Saving…"): stay until it is done.
        wait_for_dm(fake_slack, RESPONDER_TOKYO, "You're invited")
    if rendezvous is not None:
        assert rendezvous.met.is_set()
    assert most_in_flight(intervals) == 2
    assert [reply.json()["response_action"] for reply in replies] == ["update", "update"]
    time.sleep(0.3)  # room for a second announcement, were one coming
    with in_transaction() as session:
        meeting = session.scalars(select(Meeting)).one()
        planned = session.scalar(select(func.count()).select_from(Reminder).where(Reminder.status == ReminderStatus.PENDING))
    assert meeting.sequence == 0
    assert planned == 8  # 24 h and 15 min before: the channel and three people, once
    assert [c.get("SEQUENCE") for i in invites(fake_slack) for c in i.walk("VEVENT")] == [0]
    for user in (LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO):
        texts = [m["text"] for m in fake_slack.dm_messages(user)]
        assert sum("You're invited" in t for t in texts) == 1 and not any("moved to" in t for t in texts)


def test_the_same_meeting_form_submitted_again_later_is_not_a_reschedule(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    view = open_meeting_form(slack, fake_slack, user=LEAD, channel=channel)
    values = {"starts_at": MONDAY_1500, "duration": "60", "location": "Room 4", "agenda": DEFAULT_AGENDA}
    first = slack.submit_view(view, user=LEAD, values=values).json()
    wait_for_dm(fake_slack, RESPONDER_BERLIN, "You're invited")
    again = slack.submit_view(view, user=LEAD, values=values).json()
    assert again == first
    time.sleep(0.3)
    with in_transaction() as session:
        assert session.scalars(select(Meeting.sequence)).one() == 0
    assert len(invites(fake_slack)) == 1
    assert not any("moved to" in m["text"] for m in fake_slack.dm_messages(RESPONDER_BERLIN))


def test_two_participants_answering_at_once_with_the_same_new_indicator_keep_all_their_answers(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    postmortem_id, _ = started
    views = {user: open_questionnaire(slack, fake_slack, user) for user in (RESPONDER_BERLIN, RESPONDER_TOKYO)}

    def submit(index: int) -> Any:
        user = (RESPONDER_BERLIN, RESPONDER_TOKYO)[index % 2]  # each submits twice: a double delivery
        return slack.submit_view(views[user], user=user, values={**ANSWERS, "resources": f"Proxy logs of 198.51.100.9, says {user}"})

    with on_postgresql(runtime.engine, "INSERT INTO indicators", parties=2) as rendezvous:
        replies, intervals = at_once(submit, 4)
    if rendezvous is not None:
        assert rendezvous.met.is_set()
    assert most_in_flight(intervals) >= 2
    assert [reply.json()["response_action"] for reply in replies] == ["update"] * 4
    for user in (RESPONDER_BERLIN, RESPONDER_TOKYO):
        assert answers_in_db(in_transaction, user)["resources"] == f"Proxy logs of 198.51.100.9, says {user}"
    with in_transaction() as session:
        assert session.scalar(select(func.count()).select_from(Answer)) == 2 * len(ANSWERS)  # every question answered, once per person
        ips = session.scalars(select(Indicator.value).where(Indicator.postmortem_id == postmortem_id, Indicator.kind == "ipv4")).all()
    assert ips == ["198.51.100.9"]


def open_publish_button(slack: SlackSim, fake: FakeSlack, channel: str) -> dict[str, Any]:
    slack.command("report", user=LEAD, channel=channel)
    draft = eventually(lambda: fake.responses and "Draft report" in fake.responses[-1]["text"] and fake.responses[-1])
    return next(b for b in draft["blocks"][-1]["elements"] if b["text"]["text"] == "Publish")


def summaries(fake: FakeSlack, channel: str) -> list[str]:
    return [m["text"] for m in fake.messages[channel] if m["text"].startswith("Post-mortem report v")]


def shared_reports(fake: FakeSlack) -> list[str]:
    return sorted(f["filename"] for f in fake.files.values() if f["channels"] and "-report-" in f["filename"])


def test_two_publish_clicks_at_once_make_one_version_one_and_one_summary(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    postmortem_id, channel = started
    button = open_publish_button(slack, fake_slack, channel)
    with on_postgresql(runtime.engine, "INSERT INTO report_versions", parties=2) as rendezvous:
        replies, intervals = at_once(lambda _: slack.press(button["action_id"], button["value"], user=LEAD), 2)
        answers = eventually(lambda: len(fake_slack.responses) >= 3 and sorted(r["text"] for r in fake_slack.responses[1:]),
                             what="both clicks answered")
    if rendezvous is not None:
        assert rendezvous.met.is_set()  # both clicks were claiming version 1 at the same moment
    assert most_in_flight(intervals) == 2
    assert len(answers) == 2 and "Report v1 is published" in answers[0]
    # Claiming at the same moment (PostgreSQL), the second click is told the report is being published;
    # where SQLite lets one transaction in at a time it may come after the first finished posting.
    refusals = {BEING_PUBLISHED} if rendezvous is not None else {BEING_PUBLISHED, ALREADY_PUBLISHED.format(version=1)}
    assert answers[1] in refusals
    assert len(summaries(fake_slack, channel)) == 1
    assert shared_reports(fake_slack) == [f"postmortem-{postmortem_id}-vpn-credential-phishing-report-v1.html",
                                           f"postmortem-{postmortem_id}-vpn-credential-phishing-report-v1.md",
                                           f"postmortem-{postmortem_id}-vpn-credential-phishing-report-v1.stix.json"]
    with in_transaction() as session:
        [(version, ts)] = session.execute(select(ReportVersion.version, ReportVersion.summary_ts)).tuples().all()
    assert version == 1 and ts is not None


def test_publish_retried_after_slack_failed_half_way_posts_only_what_is_missing(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    button = open_publish_button(slack, fake_slack, channel)
    fake_slack.inject("chat.postMessage", error="fatal_error")  # the summary, after both files went up
    slack.press(button["action_id"], button["value"], user=LEAD)
    failed = eventually(lambda: "didn't go through" in fake_slack.responses[-1]["text"] and fake_slack.responses[-1])
    assert failed["text"] == "That didn't go through (Slack answered `fatal_error`): please send it again in a minute."
    slack.press(button["action_id"], button["value"], user=LEAD)
    eventually(lambda: "is published" in fake_slack.responses[-1]["text"], what="the retried publish")
    assert len(summaries(fake_slack, channel)) == 1
    assert shared_reports(fake_slack) == [f"postmortem-{postmortem_id}-vpn-credential-phishing-report-v1.html",
                                           f"postmortem-{postmortem_id}-vpn-credential-phishing-report-v1.md",
                                           f"postmortem-{postmortem_id}-vpn-credential-phishing-report-v1.stix.json"]
    with in_transaction() as session:
        assert session.execute(select(ReportVersion.version, ReportVersion.posted_parts)).tuples().all() == [(1, "html markdown stix")]


def test_extend_and_reassign_at_once_one_wins_and_the_other_is_told_to_reload(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    press_owner_button(slack, fake_slack, "Extend due date")
    extend_view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_extend_form" and fake_slack.latest_view())
    press_owner_button(slack, fake_slack, "Reassign")
    reassign_view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_reassign_form" and fake_slack.latest_view())

    def submit(index: int) -> Any:
        if index == 0:
            return slack.submit_view(extend_view, user=RESPONDER_BERLIN, values={"due_on": "2026-12-14", "reason": "Vendor delay"})
        return slack.submit_view(reassign_view, user=RESPONDER_BERLIN, values={"owner_id": RESPONDER_TOKYO, "reason": "Tokyo owns VPN"})

    with on_postgresql(runtime.engine, "UPDATE actions", parties=2) as rendezvous:
        replies, intervals = at_once(submit, 2)
    if rendezvous is not None:
        assert rendezvous.met.is_set()  # both changes were writing the same action row at the same moment
    assert most_in_flight(intervals) == 2
    answers = [reply.json() for reply in replies]
    refused = [a for a in answers if a["response_action"] == "errors"]
    assert len(refused) == 1 and list(refused[0]["errors"].values()) == [action_flows.CHANGED_MEANWHILE]
    extend_won = answers[0]["response_action"] == "update"
    with in_transaction() as session:
        action = session.scalars(select(Action)).one()
        changes = [c.field for c in session.scalars(select(ActionChange).order_by(ActionChange.id))]
        stale = session.scalar(select(func.count()).select_from(Reminder).where(
            Reminder.status == ReminderStatus.PENDING, Reminder.subject_version != action.version))
    assert action.version == 1
    assert changes == ["created", "due_on" if extend_won else "owner_id"]
    assert (action.owner_id, action.due_on.isoformat()) == \
        ((RESPONDER_BERLIN, "2026-12-14") if extend_won else (RESPONDER_TOKYO, "2026-11-30"))
    assert stale == 0  # only the winner's reminders are planned
    owners = {recipient for kind, recipient, _ in pending(runtime) if kind != "action_escalation"}
    assert owners == {action.owner_id}


def tick(runtime: Runtime, clock: FrozenClock, at: Any) -> dict[str, int]:
    clock.current = at
    return dispatch_due(runtime, worker_id="w").counts


def overdue_dms(fake: FakeSlack) -> list[str]:
    texts = [m["blocks"][0]["text"]["text"] for m in fake.dm_messages(RESPONDER_BERLIN) if m.get("blocks")]
    return [t for t in texts if t.startswith(":red_circle: Overdue.")]


def test_a_failed_overdue_send_is_retried_without_forking_the_chain(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock
) -> None:
    assign(slack, started[1])
    wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up:")
    assert tick(runtime, clock, utc(2026, 11, 27, 8)) == {"sent": 1}
    assert tick(runtime, clock, BERLIN_DUE) == {"sent": 1}
    fake_slack.inject("chat.postMessage", error="fatal_error")
    assert tick(runtime, clock, utc(2026, 12, 1, 8)) == {"pending": 1}  # the first overdue DM failed
    assert [kind for kind, _, _ in pending(runtime)].count("action_overdue") == 1
    assert tick(runtime, clock, utc(2026, 12, 1, 8) + reminders.RETRY_DELAYS[0]) == {"sent": 1}
    overdue = [(kind, at) for kind, _, at in pending(runtime) if kind == "action_overdue"]
    assert overdue == [("action_overdue", utc(2026, 12, 3, 8))]  # one next step, on the planned cadence
    assert tick(runtime, clock, utc(2026, 12, 3, 8)) == {"sent": 1}
    assert len(overdue_dms(fake_slack)) == 2
    assert [kind for kind, _, _ in pending(runtime)].count("action_overdue") == 1


def test_a_failing_escalation_channel_post_is_retried_alone_the_facilitator_gets_one_dm(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock
) -> None:
    runtime.settings.escalation_channel = fake_slack.add_channel("sec-leads", members=[])  # the bot is not in it
    assign(slack, started[1])
    wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up:")
    clock.current = utc(2026, 12, 7, 14)
    dispatch_due(runtime, worker_id="w")
    for delay in reminders.RETRY_DELAYS:
        clock.advance(delay)
        dispatch_due(runtime, worker_id="w")
    escalation_dms = [m for m in fake_slack.dm_messages(LEAD) if m["text"] == "Overdue follow-up: Rotate VPN certificates"]
    assert len(escalation_dms) == 1
    with runtime.sessions() as session:
        escalations = {(r.recipient_id, r.status.value, r.attempts) for r in session.scalars(
            select(Reminder).where(Reminder.kind == "action_escalation"))}
    assert escalations == {(LEAD, "sent", 1), (runtime.settings.escalation_channel, "failed", reminders.MAX_ATTEMPTS)}


def test_a_quick_note_that_could_not_be_saved_says_so(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    # After the note's insert, inside its transaction (an indicator to record): rolled back with the rest.
    monkeypatch.setattr("bot.indicators.extraction.record", broken)
    assert slack.ask("note The proxy logs of 203.0.113.7 are gone", user=LEAD, channel=started[1]).text == OUR_TROUBLE
    with in_transaction() as session:
        assert session.scalar(select(func.count()).select_from(Note)) == 0


def test_a_note_modal_that_could_not_be_saved_stays_open_with_the_reason(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], monkeypatch: Any
) -> None:
    slack.command("note", user=LEAD, channel=started[1])
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    monkeypatch.setattr("bot.notes.service.add", lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("database down")))
    reply = slack.submit_view(view, user=LEAD, values={"text": "Mail gateway let it through", "category": "observation"})
    first_input = next(b["block_id"] for b in view["blocks"] if b["type"] == "input")
    assert reply.json() == {"response_action": "errors", "errors": {first_input: MODAL_TROUBLE}}


def test_when_slack_fails_after_the_meeting_is_saved_the_user_hears_that_nothing_is_lost(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    view = open_meeting_form(slack, fake_slack, user=LEAD, channel=channel)
    fake_slack.inject("chat.postMessage", error="fatal_error")  # the announcement
    slack.submit_view(view, user=LEAD, values={"starts_at": MONDAY_1500, "duration": "60", "location": "", "agenda": "Review"})
    told = wait_for_dm(fake_slack, LEAD, "Nothing you entered is lost")
    assert told["text"] == SLACK_TROUBLE_SAVED.format(error="fatal_error")
    with in_transaction() as session:
        assert session.scalars(select(Meeting.starts_at)).one() == MONDAY_1500



def test_a_change_from_a_form_opened_before_another_change_is_refused_not_applied(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    assign(slack, started[1])
    press_owner_button(slack, fake_slack, "Extend due date")
    extend_view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_extend_form" and fake_slack.latest_view())
    press_owner_button(slack, fake_slack, "Reassign")
    reassign_view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_reassign_form" and fake_slack.latest_view())
    won = slack.submit_view(reassign_view, user=RESPONDER_BERLIN, values={"owner_id": RESPONDER_TOKYO, "reason": "Tokyo owns VPN"})
    assert won.json()["response_action"] == "update"
    late = slack.submit_view(extend_view, user=RESPONDER_BERLIN, values={"due_on": "2026-12-14", "reason": "Vendor delay"})
    assert late.json() == {"response_action": "errors", "errors": {"due_on": action_flows.CHANGED_MEANWHILE}}
    with in_transaction() as session:
        action = session.scalars(select(Action)).one()
    assert (action.owner_id, action.due_on.isoformat(), action.version) == (RESPONDER_TOKYO, "2026-11-30", 1)
    assert {recipient for kind, recipient, _ in pending(runtime) if kind != "action_escalation"} == {RESPONDER_TOKYO}


def test_two_close_commands_at_once_post_one_closing_message(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime
) -> None:
    from tests.handlers.test_reports import publish

    _, channel = started
    publish(slack, fake_slack, channel)
    answered = len(fake_slack.responses)
    with on_postgresql(runtime.engine, "UPDATE postmortems", parties=2) as rendezvous:
        _, intervals = at_once(lambda _: slack.command("close", user=LEAD, channel=channel), 2)
        answers = eventually(lambda: len(fake_slack.responses) >= answered + 2
                             and sorted(r["text"] for r in fake_slack.responses[answered:]), what="both closes answered")
    if rendezvous is not None:
        assert rendezvous.met.is_set()  # both were closing an open post-mortem at the same moment
    assert most_in_flight(intervals) == 2
    assert len([m for m in fake_slack.messages[channel] if "closed and read-only" in m["text"]]) == 1
    assert answers[0].startswith(":lock:") and answers[1] == "This post-mortem is closed."
    # Typed again later: the same answer, nothing posted to the archived channel.
    assert slack.ask("close", user=LEAD, channel=channel).text == "This post-mortem is closed."


def test_mark_done_pressed_twice_at_once_is_done_once_and_neither_is_told_to_send_it_again(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    dm = wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up:")
    button = next(b for b in dm["blocks"][1]["elements"] if b["text"]["text"] == "Mark done")
    answered = len(fake_slack.responses)
    with on_postgresql(runtime.engine, "UPDATE actions", parties=2) as rendezvous:
        _, intervals = at_once(lambda _: slack.press(button["action_id"], button["value"], user=RESPONDER_BERLIN), 2)
        answers = eventually(lambda: len(fake_slack.responses) >= answered + 2
                             and sorted(r["text"] for r in fake_slack.responses[answered:]), what="both presses answered")
    if rendezvous is not None:
        assert rendezvous.met.is_set()  # both were marking the open action done at the same moment
    assert most_in_flight(intervals) == 2
    assert answers[0].startswith(":white_check_mark: Done: Rotate VPN certificates")
    assert answers[1] in {"This action is already done.", answers[0]}
    with in_transaction() as session:
        assert session.scalar(select(func.count()).select_from(ActionChange).where(ActionChange.new_value == "done")) == 1


def test_the_same_cancel_typed_twice_at_once_cancels_once_with_one_notice(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    action_id = the_action_id(in_transaction)
    answered = len(fake_slack.responses)
    with on_postgresql(runtime.engine, "UPDATE actions", parties=2) as rendezvous:
        _, intervals = at_once(lambda _: slack.command(f"action cancel {action_id} Vendor does it now", user=LEAD,
                                                        channel=channel), 2)
        answers = eventually(lambda: len(fake_slack.responses) >= answered + 2
                             and sorted(r["text"] for r in fake_slack.responses[answered:]), what="both cancels answered")
    if rendezvous is not None:
        assert rendezvous.met.is_set()
    assert most_in_flight(intervals) == 2
    assert answers[0].startswith(":no_entry_sign: Cancelled: Rotate VPN certificates")
    assert answers[1] == "This action is already cancelled."
    time.sleep(0.5)  # a second notice would follow its answer
    assert len([m for m in fake_slack.messages[channel] if "cancelled" in m["text"].lower()]) == 1


def the_action_id(in_transaction: Any) -> int:
    with in_transaction() as session:
        return session.scalars(select(Action.id)).one()


def test_two_meeting_cancellations_at_once_send_one_cancellation(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    from tests.handlers.test_meetings import schedule

    _, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: len(invites(fake_slack)) == 1, what="the invite")
    answered = len(fake_slack.responses)
    with on_postgresql(runtime.engine, "UPDATE meetings", parties=2) as rendezvous:
        _, intervals = at_once(lambda index: slack.command("cancel-meeting", user=(LEAD, RESPONDER_BERLIN)[index],
                                                            channel=channel), 2)
        answers = eventually(lambda: len(fake_slack.responses) >= answered + 2
                             and sorted(r["text"] for r in fake_slack.responses[answered:]), what="both answered")
    if rendezvous is not None:
        assert rendezvous.met.is_set()  # both were cancelling the scheduled meeting at the same moment
    assert most_in_flight(intervals) == 2
    assert answers == ["Cancelled. I'm telling everyone and posting the calendar cancellation.",
                       "There is no meeting to change yet. Schedule one with `/postmortem schedule`."]
    eventually(lambda: len(invites(fake_slack)) == 2, what="the cancellation")
    time.sleep(0.5)  # a second cancellation would follow
    assert len(invites(fake_slack)) == 2 and invites(fake_slack)[1].walk("VEVENT")[0]["SEQUENCE"] == 1
    with in_transaction() as session:
        assert session.scalars(select(Meeting.sequence)).one() == 1


def test_mark_done_on_the_home_tab_whose_refresh_fails_is_not_told_it_did_not_go_through(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    action_id = the_action_id(in_transaction)
    fake_slack.inject("views.publish", error="internal_error")
    slack.interaction({"type": "block_actions", "user": {"id": RESPONDER_BERLIN}, "trigger_id": fake_slack.issue_trigger(),
                       "view": {"type": "home", "id": "VHOME"},
                       "actions": [{"type": "button", "action_id": "action_done", "block_id": "b", "value": str(action_id),
                                    "action_ts": "1"}]})
    told = wait_for_dm(fake_slack, RESPONDER_BERLIN, "internal_error")
    assert "Nothing you entered is lost" in told["text"] and "didn't go through" not in told["text"]
    with in_transaction() as session:
        assert session.get(Action, action_id).status.value == "done"


def test_a_cancelled_action_whose_home_refresh_fails_is_not_told_it_did_not_go_through(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    action_id = the_action_id(in_transaction)
    press_owner_button(slack, fake_slack, "Cancel action")
    form = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_cancel_form" and fake_slack.latest_view())
    fake_slack.inject("views.publish", error="internal_error")
    reply = slack.submit_view(form, user=RESPONDER_BERLIN, values={"reason": "Vendor does it now"})
    assert reply.json()["response_action"] == "update"
    told = wait_for_dm(fake_slack, RESPONDER_BERLIN, "internal_error")
    assert "Nothing you entered is lost" in told["text"] and "didn't go through" not in told["text"]
    with in_transaction() as session:
        assert session.get(Action, action_id).status.value == "cancelled"


def test_a_meeting_cancelled_by_button_whose_announcement_fails_is_not_told_it_did_not_go_through(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    from tests.handlers.test_meetings import schedule

    _, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: len(invites(fake_slack)) == 1, what="the invite")
    announcement = next(m for m in fake_slack.messages[channel] if m["text"].startswith("Post-mortem review meeting"))
    _, cancel_button = announcement["blocks"][-1]["elements"]
    fake_slack.inject("chat.update", error="internal_error")
    answered = len(fake_slack.responses)
    slack.press(cancel_button["action_id"], cancel_button["value"], user=LEAD)
    told = eventually(lambda: next((r["text"] for r in fake_slack.responses[answered:] if "internal_error" in r["text"]), None),
                      what="the failure told")
    assert "Nothing you entered is lost" in told and "didn't go through" not in told
    with in_transaction() as session:
        assert session.scalars(select(Meeting.status)).one().value == "cancelled"


def test_a_meeting_cancelled_by_command_whose_announcement_fails_is_not_told_it_did_not_go_through(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    from tests.handlers.test_meetings import schedule

    _, channel = started
    schedule(slack, fake_slack, channel, MONDAY_1500)
    eventually(lambda: len(invites(fake_slack)) == 1, what="the invite")
    fake_slack.inject("chat.update", error="internal_error")
    answered = len(fake_slack.responses)
    slack.command("cancel-meeting", user=LEAD, channel=channel)
    told = eventually(lambda: next((r["text"] for r in fake_slack.responses[answered:] if "internal_error" in r["text"]), None),
                      what="the failure told")
    assert "Nothing you entered is lost" in told and "didn't go through" not in told
    with in_transaction() as session:
        assert session.scalars(select(Meeting.status)).one().value == "cancelled"
