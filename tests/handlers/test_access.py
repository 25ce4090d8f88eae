"""Who may read and change a post-mortem, through signed requests and the Slack double: deleting a note
purges it, closed means read-only on every path, and leaving the review channel revokes access."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bot.demo.signed_requests import SlackSim, eventually, new_view, settled_view, wait_for_dm
from bot.slack.double import FakeSlack
from models import (
    Action,
    ActionStatus,
    Answer,
    AuditEntry,
    Indicator,
    Meeting,
    MeetingStatus,
    Note,
    Postmortem,
    PostmortemStatus,
    Reminder,
    ReportVersion,
)
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.handlers.test_meetings import TUESDAY_1600, open_meeting_form, schedule
from tests.handlers.test_notes import NOT_FOUND, membership_event, select_option
from tests.handlers.test_questionnaire import ANSWERS, open_questionnaire
from tests.handlers.test_reports import documents, publish
from tests.support import notice_text

CLOSED = "This post-mortem is closed."


def indicators_of(in_transaction: Any) -> set[tuple[str, str]]:
    with in_transaction() as session:
        return set(session.execute(select(Indicator.kind, Indicator.value)).tuples())


def note_menu(slack: SlackSim, channel: str, *, user: str, text: str) -> dict[str, Any]:
    """The overflow menu of the listed note holding `text`, as `user` sees it."""
    listing = slack.ask("notes", user=user, channel=channel).json()
    return next(b["accessory"] for b in listing["blocks"] if text in b.get("text", {}).get("text", ""))


def close_in_db(in_transaction: Any, postmortem_id: int) -> None:
    with in_transaction() as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))


# -- deleting a note purges it ---------------------------------------------------------------------

def test_deleting_a_note_purges_its_own_indicators_and_keeps_shared_ones(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    slack.ask("note Beacon to http://c2-only.net/gate from 198.51.100.7", user=RESPONDER_BERLIN, channel=channel)
    slack.ask("note Proxy also saw 198.51.100.7", user=RESPONDER_TOKYO, channel=channel)
    # An answer is another field holding an indicator of the note: it keeps that one too.
    view = open_questionnaire(slack, fake_slack, RESPONDER_TOKYO)
    slack.submit_view(view, user=RESPONDER_TOKYO, values={**ANSWERS, "resources": "Sandbox of hxxp://c2-only[.]net/gate"})
    slack.ask("note Payload at https://drop-zone.biz/x.exe", user=RESPONDER_BERLIN, channel=channel)
    assert {("url", "https://drop-zone.biz/x.exe"), ("domain", "drop-zone.biz"), ("ipv4", "198.51.100.7"),
            ("url", "http://c2-only.net/gate")} <= indicators_of(in_transaction)

    # Edit first, so the audit holds an earlier wording that must go too.
    menu = note_menu(slack, channel, user=RESPONDER_BERLIN, text="drop")
    [note_id] = {int(o["value"].split(":")[1]) for o in menu["options"]}
    edit_view = new_view(fake_slack, "note_edit", lambda: select_option(slack, menu, f"edit:{note_id}", user=RESPONDER_BERLIN))
    slack.submit_view(edit_view, user=RESPONDER_BERLIN,
                      values={"category": "evidence", "text": "Payload at https://drop-zone.biz/x.exe and 198.51.100.7"})
    select_option(slack, menu, f"delete:{note_id}", user=RESPONDER_BERLIN)
    eventually(lambda: fake_slack.responses and "drop" not in str(fake_slack.responses[-1].get("blocks"))
               and "Proxy also saw" in str(fake_slack.responses[-1].get("blocks")), what="the list without the deleted note")

    found = indicators_of(in_transaction)
    assert ("url", "https://drop-zone.biz/x.exe") not in found and ("domain", "drop-zone.biz") not in found
    assert {("ipv4", "198.51.100.7"), ("url", "http://c2-only.net/gate")} <= found  # still held elsewhere
    with in_transaction() as session:
        assert [n.text for n in session.scalars(select(Note).where(Note.id == note_id))] == []
        audit = [(a.actor_id, a.action, a.note_id, a.detail) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert audit == [
        (RESPONDER_BERLIN, "note_edited", note_id, f"note {note_id} edited; earlier text removed when the note was deleted"),
        (RESPONDER_BERLIN, "note_deleted", note_id, f"note {note_id} by {RESPONDER_BERLIN}"),
    ]
    assert "drop" not in str(audit)

    # The next report version knows nothing of it; the shared indicator is still listed.
    publish(slack, fake_slack, channel)
    markdown, html = documents(fake_slack, 1)
    assert "drop" not in markdown and "drop" not in html
    assert "198[.]51[.]100[.]7" in html


def test_deleting_the_only_note_with_an_indicator_empties_the_indicator_list(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    before = indicators_of(in_transaction)  # whatever the incident report itself holds stays
    slack.ask("note Mail from hr@lure-mail.info", user=LEAD, channel=channel)
    assert indicators_of(in_transaction) - before
    menu = note_menu(slack, channel, user=LEAD, text="Mail from")
    select_option(slack, menu, menu["options"][-2]["value"], user=LEAD)  # delete (edit, delete, action)
    eventually(lambda: fake_slack.responses and "none yet" in str(fake_slack.responses[-1].get("blocks")),
               what="the emptied list")
    assert indicators_of(in_transaction) == before


# -- closed means read-only everywhere -------------------------------------------------------------

def test_closed_postmortem_refuses_every_change_by_every_path(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    slack.ask(f"action <@{RESPONDER_BERLIN}|ben> 2026-12-10 Rotate VPN certificates", user=LEAD, channel=channel)
    slack.ask("note Berlin saw it first", user=RESPONDER_BERLIN, channel=channel)
    menu = note_menu(slack, channel, user=RESPONDER_BERLIN, text="Berlin saw it first")
    [note_id] = {int(o["value"].split(":")[1]) for o in menu["options"]}

    # Modals opened while it was open, submitted after it closed.
    note_view = new_view(fake_slack, "note_form", lambda: slack.command("note", user=RESPONDER_BERLIN, channel=channel))
    edit_view = new_view(fake_slack, "note_edit", lambda: select_option(slack, menu, f"edit:{note_id}", user=RESPONDER_BERLIN))
    questions = open_questionnaire(slack, fake_slack, RESPONDER_BERLIN)
    action_view = new_view(fake_slack, "action_form", lambda: slack.press("kickoff_add_action", str(postmortem_id), user=LEAD))
    classify_view = new_view(fake_slack, "classification", lambda: slack.command("classify", user=LEAD, channel=channel))
    scorecard_view = new_view(fake_slack, "scorecard", lambda: slack.command("scorecard-entry", user=LEAD, channel=channel))
    meeting_view = open_meeting_form(slack, fake_slack, user=LEAD, channel=channel)
    close_in_db(in_transaction, postmortem_id)

    def refused(reply: Any, field: str) -> None:
        assert reply.json() == {"response_action": "errors", "errors": {field: CLOSED}}

    def refused_after_saving(reply: Any, view: dict[str, Any]) -> None:
        # Saving these needs Slack, so they ack with "Saving…" first, then say what happened.
        assert reply.json()["response_action"] == "update" and notice_text(settled_view(fake_slack, view["id"])) == CLOSED

    refused(slack.submit_view(note_view, user=RESPONDER_BERLIN, values={"category": "observation", "text": "late"}), "text")
    refused(slack.submit_view(edit_view, user=RESPONDER_BERLIN, values={"category": "observation", "text": "changed"}), "text")
    refused(slack.submit_view(questions, user=RESPONDER_BERLIN, values=ANSWERS), "time_to_resolution")
    refused_after_saving(slack.submit_view(action_view, user=LEAD, values={
        "title": "One more", "owner_id": RESPONDER_TOKYO, "due_on": "2026-12-10", "priority": "high", "category": "other"}),
        action_view)
    refused(slack.submit_view(classify_view, user=LEAD, values={"classification": "targeted", "attack_vector": "phishing",
                                                                "rationale": "late"}), "classification")
    refused(slack.submit_view(scorecard_view, user=LEAD, values={"alert_volume": "1"}), "unpatched_vulnerabilities")
    refused_after_saving(slack.submit_view(meeting_view, user=LEAD, values={
        "starts_at": TUESDAY_1600, "duration": "60", "location": "", "agenda": "Review"}), meeting_view)

    # Commands and buttons answer at once, without opening anything.
    assert slack.ask("note too late", user=LEAD, channel=channel).text == CLOSED
    assert slack.ask(f"action <@{RESPONDER_BERLIN}> 2026-12-10 Another one", user=LEAD, channel=channel).text == CLOSED
    views_before = len(fake_slack.views)
    responses = len(fake_slack.responses)
    slack.command("note", user=LEAD, channel=channel)
    slack.press("kickoff_add_action", str(postmortem_id), user=LEAD)
    slack.press("kickoff_add_note", str(postmortem_id), user=LEAD)
    select_option(slack, menu, f"action:{note_id}", user=RESPONDER_BERLIN)  # the note's "Make action item"
    select_option(slack, menu, f"edit:{note_id}", user=RESPONDER_BERLIN)
    select_option(slack, menu, f"delete:{note_id}", user=RESPONDER_BERLIN)
    slack.command("classify", user=LEAD, channel=channel)
    slack.command("scorecard-entry", user=LEAD, channel=channel)
    slack.press("kickoff_questionnaire", str(postmortem_id), user=RESPONDER_BERLIN)
    slack.command("action", user=LEAD, channel=channel)  # the action form by command
    # Forms open at once (ack first) and say so; the delete answers ephemerally.
    eventually(lambda: len(fake_slack.responses) > responses and [notice_text(v) for v in list(fake_slack.views.values())[
        views_before:]] == [CLOSED] * 9, what="ten refusals")
    assert [r["text"] for r in fake_slack.responses[responses:]] == [CLOSED]

    with in_transaction() as session:
        assert [n.text for n in session.scalars(select(Note))] == ["Berlin saw it first"]
        assert session.scalars(select(Answer)).all() == []
        assert [a.title for a in session.scalars(select(Action))] == ["Rotate VPN certificates"]
        assert session.scalars(select(Meeting)).all() == []


def test_closed_postmortem_refuses_rescheduling(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    schedule(slack, fake_slack, channel, TUESDAY_1600, location="", agenda="Review")
    again = open_meeting_form(slack, fake_slack, user=LEAD, channel=channel)
    close_in_db(in_transaction, postmortem_id)
    reply = slack.submit_view(again, user=LEAD, values={"starts_at": TUESDAY_1600.replace(hour=17), "duration": "60",
                                                        "location": "", "agenda": "Review"})
    assert reply.json()["response_action"] == "update" and notice_text(settled_view(fake_slack, again["id"])) == CLOSED
    with in_transaction() as session:
        meeting = session.scalars(select(Meeting)).one()
        assert (meeting.starts_at, meeting.sequence) == (TUESDAY_1600, 0)
    updates = len(fake_slack.calls_to("views.update"))
    slack.command("schedule", user=LEAD, channel=channel)
    eventually(lambda: len(fake_slack.calls_to("views.update")) > updates, what="the meeting modal's answer")
    assert CLOSED in str(fake_slack.views[fake_slack.calls_to("views.update")[-1]["view_id"]]["blocks"])


def test_buttons_left_from_before_the_close_neither_publish_a_new_version_nor_cancel_the_meeting(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    schedule(slack, fake_slack, channel, TUESDAY_1600, location="", agenda="Review")
    announcement = eventually(lambda: next((m for m in fake_slack.messages[channel]
                                            if m["text"].startswith("Post-mortem review meeting")), None))
    cancel = next(e for e in announcement["blocks"][-1]["elements"] if e["text"]["text"] == "Cancel meeting")
    publish(slack, fake_slack, channel)
    slack.command("report", user=LEAD, channel=channel)
    draft = eventually(lambda: "Draft report v2" in fake_slack.responses[-1]["text"] and fake_slack.responses[-1])
    publish_button = next(b for b in draft["blocks"][-1]["elements"] if b["text"]["text"] == "Publish")
    slack.command("close", user=LEAD, channel=channel)
    eventually(lambda: "closed and read-only" in fake_slack.responses[-1]["text"], what="the close")

    responses = len(fake_slack.responses)
    slack.press(publish_button["action_id"], publish_button["value"], user=LEAD)
    slack.press(cancel["action_id"], cancel["value"], user=LEAD)
    eventually(lambda: len(fake_slack.responses) >= responses + 2, what="two answers")
    assert [r["text"] for r in fake_slack.responses[responses:]] == [CLOSED, CLOSED]
    assert slack.ask("cancel-meeting", user=LEAD, channel=channel).text == CLOSED
    slack.command("report", user=LEAD, channel=channel)  # the preview answers after the ack
    eventually(lambda: len(fake_slack.responses) > responses + 2, what="the preview's answer")
    assert fake_slack.responses[-1]["text"] == CLOSED
    with in_transaction() as session:
        assert session.scalars(select(ReportVersion.version)).all() == [1]
        meeting = session.scalars(select(Meeting)).one()
        assert (meeting.status, meeting.sequence) == (MeetingStatus.SCHEDULED, 0)


def test_after_closing_owners_still_finish_extend_and_reassign_their_actions(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    slack.ask(f"action <@{RESPONDER_BERLIN}|ben> 2026-12-10 Rotate VPN certificates", user=LEAD, channel=channel)
    slack.ask(f"action <@{RESPONDER_BERLIN}|ben> 2026-12-11 Block the lure domain", user=LEAD, channel=channel)
    close_in_db(in_transaction, postmortem_id)
    dm = wait_for_dm(fake_slack, RESPONDER_BERLIN, "Block the lure domain")
    buttons = {b["text"]["text"]: b for b in dm["blocks"][1]["elements"]}

    extend = new_view(fake_slack, "action_extend_form", lambda: slack.press(
        buttons["Extend due date"]["action_id"], buttons["Extend due date"]["value"], user=RESPONDER_BERLIN))
    reply = slack.submit_view(extend, user=RESPONDER_BERLIN, values={"due_on": "2026-12-18", "reason": "Vendor"}).json()
    assert reply["response_action"] == "update"
    reassign = new_view(fake_slack, "action_reassign_form", lambda: slack.press(
        buttons["Reassign"]["action_id"], buttons["Reassign"]["value"], user=RESPONDER_BERLIN))
    reply = slack.submit_view(reassign, user=RESPONDER_BERLIN, values={"owner_id": RESPONDER_TOKYO, "reason": "Leave"}).json()
    assert reply["response_action"] == "update"
    first = wait_for_dm(fake_slack, RESPONDER_BERLIN, "Rotate VPN certificates")
    done = next(b for b in first["blocks"][1]["elements"] if b["text"]["text"] == "Mark done")
    slack.press(done["action_id"], done["value"], user=RESPONDER_BERLIN)
    eventually(lambda: fake_slack.responses and fake_slack.responses[-1]["text"].startswith(
        ":white_check_mark: Done: Rotate VPN certificates"), what="the done confirmation")
    with in_transaction() as session:
        actions = {a.title: (a.status, a.owner_id, a.due_on.isoformat()) for a in session.scalars(select(Action))}
    assert actions == {"Rotate VPN certificates": (ActionStatus.DONE, RESPONDER_BERLIN, "2026-12-10"),
                       "Block the lure domain": (ActionStatus.OPEN, RESPONDER_TOKYO, "2026-12-18")}


# -- leaving the review channel revokes access -----------------------------------------------------

def test_a_responder_removed_from_the_channel_cannot_page_through_notes_with_an_old_button(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    for number in range(7):
        slack.ask(f"note secret finding {number}", user=LEAD, channel=channel)
    listing = slack.ask("notes", user=RESPONDER_BERLIN, channel=channel).json()
    older = next(e for b in listing["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"].endswith("_older"))
    slack.press(older["action_id"], older["value"], user=RESPONDER_BERLIN)
    eventually(lambda: "secret finding 0" in str(fake_slack.responses[-1].get("blocks")), what="page 2")  # works while a member

    fake_slack.channels[channel].members.discard(RESPONDER_BERLIN)
    # Slack tells the bot, which stops trusting the members it remembered.
    assert slack.event(membership_event("member_left_channel", RESPONDER_BERLIN, channel), event_id="EvLeft2").status == 200
    eventually(lambda: slack.ask("notes", user=RESPONDER_BERLIN, channel=channel).text == NOT_FOUND, what="the member refused")
    responses = len(fake_slack.responses)
    slack.press(older["action_id"], older["value"], user=RESPONDER_BERLIN)
    refusal = eventually(lambda: fake_slack.responses[responses:])[0]
    assert refusal["text"] == NOT_FOUND and "secret" not in str(refusal)
    # Every other path says the same, although the incident report still lists them.
    assert slack.ask("notes", user=RESPONDER_BERLIN, channel=channel).text == NOT_FOUND
    assert slack.ask("note still here?", user=RESPONDER_BERLIN, channel=channel).text == NOT_FOUND
    slack.press("kickoff_add_note", str(postmortem_id), user=RESPONDER_BERLIN)
    eventually(lambda: notice_text(fake_slack.latest_view()) == NOT_FOUND, what="the refusal in the modal")
    with in_transaction() as session:
        assert RESPONDER_BERLIN in session.get(Postmortem, postmortem_id).member_ids


def test_meeting_invites_and_nudges_follow_the_channel_membership(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    fake_slack.channels[channel].members.discard(RESPONDER_TOKYO)
    slack.event({"type": "member_left_channel", "user": RESPONDER_TOKYO, "channel": channel, "channel_type": "G"},
                event_id="EvLeft0002")
    fake_slack.channels[channel].members.add(OUTSIDER)  # added by the facilitator after the kickoff
    slack.event({"type": "member_joined_channel", "user": OUTSIDER, "channel": channel, "channel_type": "G"},
                event_id="EvJoin0002")
    eventually(lambda: slack.ask("note joined late", user=OUTSIDER, channel=channel).text.startswith(":memo:"),
               what="the new member taking part")
    schedule(slack, fake_slack, channel, TUESDAY_1600)
    wait_for_dm(fake_slack, OUTSIDER, "You're invited")
    assert not any("invited" in m["text"] for m in fake_slack.dm_messages(RESPONDER_TOKYO))

    with in_transaction() as session:
        nudged = {r.recipient_id for r in session.scalars(select(Reminder).where(Reminder.kind == "meeting_dm"))}
    assert nudged == {LEAD, RESPONDER_BERLIN, OUTSIDER}
