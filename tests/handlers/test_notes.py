"""Notes through signed requests: quick, modal, captured, listed, edited, deleted, refused, deduplicated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from bot.demo.signed_requests import SlackSim, eventually
from bot.slack.double import FakeSlack, _Contract
from models import AuditEntry, Indicator, Note, NoteCategory, Postmortem, PostmortemStatus
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.support import notice_text, utc

NOT_FOUND = "I can't find a post-mortem you take part in here. Ask its facilitator to add you, or run this in the review channel."


def stored_notes(in_transaction: Any) -> list[Note]:
    with in_transaction() as session:
        return list(session.scalars(select(Note).order_by(Note.id)))


def test_quick_note_is_stored_and_echoed_defanged_and_inert(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    # As Slack sends it: a real @channel is markup, a typed `&` an entity.
    reply = slack.ask("note Phish came from http://evil-login.com/reset <!channel> &amp; 203.0.113.5", user=RESPONDER_BERLIN,
                      channel=channel)
    assert reply.text == (
        ":memo: Added to *VPN credential phishing*: Phish came from hxxp://evil-login[.]com/reset "
        "@channel &amp; 203[.]0[.]113[.]5"
    )
    [note] = stored_notes(in_transaction)
    assert (note.author_id, note.category, note.postmortem_id) == (RESPONDER_BERLIN, NoteCategory.OBSERVATION, postmortem_id)
    assert note.text == "Phish came from http://evil-login.com/reset @channel & 203.0.113.5"
    with in_transaction() as session:
        found = set(session.execute(select(Indicator.kind, Indicator.value)).tuples())
    assert found == {("url", "http://evil-login.com/reset"), ("domain", "evil-login.com"), ("ipv4", "203.0.113.5")}


def test_the_same_quick_note_delivered_twice_is_stored_once(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    first = slack.ask("note VPN logs rotated before we copied them", user=LEAD, channel=channel)
    again = slack.ask("note VPN logs rotated before we copied them", user=LEAD, channel=channel)
    assert first.text.startswith(":memo: Added to")
    assert again.text.startswith(":memo: Already in")
    assert len(stored_notes(in_transaction)) == 1


def test_over_long_and_empty_quick_notes_are_refused_with_the_reason(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    too_long = slack.ask("note " + "x" * 3001, user=LEAD, channel=channel)
    assert too_long.text == "Your note is 3,001 characters; the limit is 3,000. Shorten it or split it into two notes."
    only_control = slack.command("note \x07\x00", user=LEAD, channel=channel)
    assert only_control.status == 200  # nothing readable after the subcommand: the note form opens instead
    eventually(lambda: fake_slack.views and fake_slack.latest_view().get("callback_id") == "note_form", what="the note form")
    assert stored_notes(in_transaction) == []


def test_control_characters_are_dropped(slack: SlackSim, started: tuple[int, str], in_transaction: Any) -> None:
    _, channel = started
    slack.ask("note bell\x07 and\ttab", user=LEAD, channel=channel)
    assert [n.text for n in stored_notes(in_transaction)] == ["bell and\ttab"]


def test_non_participant_is_refused_without_learning_anything(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    assert slack.ask("note I was not there", user=OUTSIDER, channel=channel).text == NOT_FOUND
    listing = slack.ask("notes", user=OUTSIDER, channel=channel).text
    assert listing == NOT_FOUND and "VPN" not in listing
    assert stored_notes(in_transaction) == []
    # Someone added to the review channel later takes part: Slack's event makes the bot ask for the members again.
    fake_slack.channels[channel].members.add(OUTSIDER)
    assert slack.event(membership_event("member_joined_channel", OUTSIDER, channel), event_id="EvJoin1").status == 200
    # The event's listener runs after its ack.
    eventually(lambda: slack.ask("note Joined late, saw the alert", user=OUTSIDER, channel=channel).text
               .startswith(":memo: Added"), what="the joined member's note accepted")


def test_member_lookups_are_remembered_until_someone_leaves(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    fake_slack.channels[channel].members.add(OUTSIDER)
    lookups_before = len(fake_slack.calls_to("conversations.members"))
    for number in range(3):
        assert slack.ask(f"note visiting {number}", user=OUTSIDER, channel=channel).text.startswith(":memo: Added")
    assert len(fake_slack.calls_to("conversations.members")) - lookups_before <= 1
    fake_slack.channels[channel].members.discard(OUTSIDER)
    assert slack.event(membership_event("member_left_channel", OUTSIDER, channel), event_id="EvLeft1").status == 200
    eventually(lambda: slack.ask("note after leaving", user=OUTSIDER, channel=channel).text == NOT_FOUND,
               what="the member who left refused")


def membership_event(kind: str, user: str, channel: str) -> dict[str, Any]:
    return {"type": kind, "user": user, "channel": channel, "channel_type": "G", "team": "T0000FAKE",
            "event_ts": "1700000000.000100"}


def test_closed_postmortem_takes_no_notes(slack: SlackSim, started: tuple[int, str], in_transaction: Any) -> None:
    postmortem_id, channel = started
    with in_transaction() as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(status=PostmortemStatus.CLOSED))
    reply = slack.ask("note too late", user=LEAD, channel=channel)
    assert reply.text == "This post-mortem is closed."
    assert stored_notes(in_transaction) == []


def test_modal_note_with_timeline_time(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    assert slack.command("note", user=RESPONDER_TOKYO, channel=channel).status == 200
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    assert "postmortem_id" not in [b.get("block_id") for b in view["blocks"]]  # the channel tells which
    values = {"category": "timeline", "occurred_at": utc(2026, 11, 17, 9, 58), "text": "EDR flagged mshta.exe"}
    reply = slack.submit_view(view, user=RESPONDER_TOKYO, values=values)
    body = reply.json()
    assert body["response_action"] == "update"
    assert body["view"]["blocks"][0]["text"]["text"] == ":memo: Added to *VPN credential phishing*: EDR flagged mshta.exe"
    # Slack redelivers the same view_submission: still one note.
    slack.submit_view(view, user=RESPONDER_TOKYO, values=values)
    [note] = stored_notes(in_transaction)
    assert (note.category, note.occurred_at, note.author_id) == (NoteCategory.TIMELINE, utc(2026, 11, 17, 9, 58), RESPONDER_TOKYO)


def test_modal_outside_review_channel_asks_which_postmortem(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, _ = started
    slack.command("note", user=RESPONDER_BERLIN, channel="C0WARROOM")
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    picker = next(b for b in view["blocks"] if b.get("block_id") == "postmortem_id")
    assert [o["value"] for o in picker["element"]["options"]] == [str(postmortem_id)]
    reply = slack.submit_view(view, user=RESPONDER_BERLIN,
                              values={"postmortem_id": str(postmortem_id), "category": "lesson", "text": "Test restores"})
    assert reply.json()["response_action"] == "update"
    assert [(n.category, n.text) for n in stored_notes(in_transaction)] == [(NoteCategory.LESSON, "Test restores")]


def test_modal_note_for_someone_with_no_postmortem(slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]) -> None:
    slack.command("note", user=OUTSIDER, channel="C0WARROOM")
    eventually(lambda: notice_text(fake_slack.latest_view()) == NOT_FOUND, what="the refusal in the modal")
    assert all(v.get("callback_id") != "note_form" for v in fake_slack.views.values())


def capture(slack: SlackSim, fake: FakeSlack, channel: str, message: dict[str, Any], *, user: str):  # type: ignore[no-untyped-def]
    return slack.interaction({
        "type": "message_action",
        "callback_id": "add_to_postmortem",
        "user": {"id": user},
        "channel": {"id": channel, "name": "war-room"},
        "message": message,
        "message_ts": message["ts"],
        "trigger_id": fake.issue_trigger(),
        "response_url": fake.response_url(),
    })


def test_message_shortcut_captures_text_author_time_and_permalink_once(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, _ = started
    war_room = fake_slack.add_channel("incident-war-room", members=[LEAD, RESPONDER_BERLIN, "UBOT000001"])
    message = fake_slack.add_message(war_room, user=RESPONDER_BERLIN, text="Blocked evil-login.com at the proxy <@U0LEAD0001>")
    assert capture(slack, fake_slack, war_room, message, user=LEAD).status == 200
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    text_block = next(b for b in view["blocks"] if b.get("block_id") == "text")
    assert text_block["element"]["initial_value"] == message["text"]
    when = next(b for b in view["blocks"] if b.get("block_id") == "occurred_at")
    assert when["element"]["initial_date_time"] == int(float(message["ts"]))
    values = {"postmortem_id": str(postmortem_id), "category": "timeline", "text": message["text"],
              "occurred_at": utc(2026, 11, 17, 10, 5)}
    assert slack.submit_view(view, user=LEAD, values=values).json()["response_action"] == "update"

    # Captured again from another click: still one note.
    capture(slack, fake_slack, war_room, message, user=LEAD)
    second = eventually(lambda: fake_slack.latest_view()["id"] != view["id"] and
                        fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    again = slack.submit_view(second, user=LEAD, values=values).json()
    assert again["view"]["blocks"][0]["text"]["text"].startswith(":memo: Already in")

    [note] = stored_notes(in_transaction)
    assert note.source_author_id == RESPONDER_BERLIN and note.author_id == LEAD
    assert note.source_permalink == f"https://fake.slack.com/archives/{war_room}/p{message['ts'].replace('.', '')}"


def test_capture_keeps_the_note_when_the_permalink_fails(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, _ = started
    war_room = fake_slack.add_channel("incident-war-room", members=[LEAD, "UBOT000001"])
    message = fake_slack.add_message(war_room, user=LEAD, text="Reset all VPN passwords")
    fake_slack.inject("chat.getPermalink", error="channel_not_found")
    capture(slack, fake_slack, war_room, message, user=LEAD)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    slack.submit_view(view, user=LEAD, values={"postmortem_id": str(postmortem_id), "category": "timeline",
                                                "text": message["text"]})
    [note] = stored_notes(in_transaction)
    assert (note.text, note.source_permalink) == ("Reset all VPN passwords", None)


def test_notes_list_is_paginated_newest_first(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], clock: Any
) -> None:
    from datetime import timedelta

    _, channel = started
    for number in range(1, 8):
        clock.advance(timedelta(minutes=1))
        slack.ask(f"note step {number}", user=LEAD, channel=channel)
    first_page = slack.ask("notes", user=LEAD, channel=channel).json()
    texts = [b["text"]["text"] for b in first_page["blocks"] if b["type"] == "section"]
    assert "7 in all, newest first (page 1 of 2)" in texts[0]
    assert [t.rsplit("\n", 1)[1] for t in texts[1:]] == ["step 7", "step 6", "step 5", "step 4", "step 3"]
    [older] = first_page["blocks"][-1]["elements"]
    assert older["text"]["text"] == "Older"

    slack.press(older["action_id"], older["value"], user=LEAD)
    second = eventually(lambda: fake_slack.responses[-1].get("replace_original") and fake_slack.responses[-1], what="page 2")
    assert second["replace_original"] is True
    assert [b["text"]["text"].rsplit("\n", 1)[1] for b in second["blocks"][1:] if b["type"] == "section"] == ["step 2", "step 1"]
    assert [e["text"]["text"] for e in second["blocks"][-1]["elements"]] == ["Newer"]


def test_edit_own_note_and_facilitator_deletes_anothers_with_audit(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    slack.ask("note Berlin saw it first", user=RESPONDER_BERLIN, channel=channel)
    [note] = stored_notes(in_transaction)

    # Tokyo can only turn Berlin's note into an action; Berlin can also edit and delete it.
    tokyo_view = slack.ask("notes", user=RESPONDER_TOKYO, channel=channel).json()
    assert [o["value"] for o in tokyo_view["blocks"][1]["accessory"]["options"]] == [f"action:{note.id}"]
    berlin_view = slack.ask("notes", user=RESPONDER_BERLIN, channel=channel).json()
    menu = berlin_view["blocks"][1]["accessory"]
    assert [o["value"] for o in menu["options"]] == [f"edit:{note.id}", f"delete:{note.id}", f"action:{note.id}"]

    select_option(slack, menu, f"edit:{note.id}", user=RESPONDER_BERLIN)
    edit_view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_edit" and fake_slack.latest_view())
    reply = slack.submit_view(edit_view, user=RESPONDER_BERLIN, values={"category": "timeline", "text": "Berlin saw it at 09:58"})
    assert reply.json()["view"]["blocks"][0]["text"]["text"].startswith(":memo: Updated in")
    assert stored_notes(in_transaction)[0].text == "Berlin saw it at 09:58"

    # Tokyo cannot edit it or delete it, even by replaying Berlin's menu values.
    views_before = len(fake_slack.views)
    select_option(slack, menu, f"edit:{note.id}", user=RESPONDER_TOKYO)
    eventually(lambda: notice_text(fake_slack.latest_view()) == "You can edit only your own notes.", what="the refusal")
    assert [v.get("callback_id") for v in list(fake_slack.views.values())[views_before:]] == [None]
    select_option(slack, menu, f"delete:{note.id}", user=RESPONDER_TOKYO)
    eventually(lambda: fake_slack.responses[-1]["text"] == "You can delete only your own notes.", what="the refusal")

    lead_view = slack.ask("notes", user=LEAD, channel=channel).json()
    lead_menu = lead_view["blocks"][1]["accessory"]
    assert [o["value"] for o in lead_menu["options"]] == [f"delete:{note.id}", f"action:{note.id}"]
    select_option(slack, lead_menu, f"delete:{note.id}", user=LEAD)
    emptied = eventually(lambda: "none yet" in str(fake_slack.responses[-1].get("blocks")) and fake_slack.responses[-1])
    assert emptied["replace_original"] is True
    assert stored_notes(in_transaction) == []
    with in_transaction() as session:
        actions = [(a.actor_id, a.action, a.note_id, a.detail)
                   for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    # The audit keeps who deleted which note and when; no words of it, not even the edit's earlier wording.
    assert actions == [
        (RESPONDER_BERLIN, "note_edited", note.id, f"note {note.id} edited; earlier text removed when the note was deleted"),
        (LEAD, "note_deleted", note.id, f"note {note.id} by {RESPONDER_BERLIN}"),
    ]


def select_option(slack: SlackSim, menu: dict[str, Any], value: str, *, user: str) -> None:
    option = {"text": {"type": "plain_text", "text": value.split(":")[0].title()}, "value": value}
    slack.interaction({
        "type": "block_actions",
        "user": {"id": user},
        "trigger_id": slack.fake.issue_trigger(),
        "response_url": slack.fake.response_url(),
        "actions": [{"type": "overflow", "action_id": menu["action_id"], "block_id": "n", "selected_option": option,
                     "action_ts": "1"}],
    })


def test_status_for_facilitator_only(slack: SlackSim, started: tuple[int, str]) -> None:
    _, channel = started
    slack.ask("note one", user=RESPONDER_BERLIN, channel=channel)
    slack.ask("note two", user=RESPONDER_BERLIN, channel=channel)
    assert slack.ask("status", user=RESPONDER_BERLIN, channel=channel).text == \
        "Only the facilitator of this post-mortem can see its participation status."
    status = slack.ask("status", user=LEAD, channel=channel).json()["text"]
    assert f"<@{RESPONDER_BERLIN}> — review questions not answered yet — 2 notes" in status
    assert f"<@{LEAD}> — review questions not answered yet — 0 notes" in status


def test_status_of_a_large_response_team_fits_slacks_sections(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    team = [f"U0TEAM{number:04d}" for number in range(45)]
    for user in team:
        fake_slack.add_user(user)
        fake_slack.channels[channel].members.add(user)
    assert slack.event(membership_event("member_joined_channel", team[-1], channel), event_id="EvJoin1").status == 200
    for user in team:
        eventually(lambda: slack.ask(f"note seen by {user}", user=user, channel=channel).text.startswith(":memo:"),
                   what=f"a note by {user}")
    status = slack.ask("status", user=LEAD, channel=channel).json()
    assert _Contract.load().block_errors(status["blocks"]) == []
    shown = "".join(block["text"]["text"] for block in status["blocks"])
    assert len(status["blocks"]) > 1 and all(len(block["text"]["text"]) <= 3000 for block in status["blocks"])
    assert all(f"<@{user}> — review questions not answered yet — 1 note" in shown for user in team)


def test_kickoff_add_note_button_opens_the_form_for_that_postmortem(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    slack.press("kickoff_add_note", str(postmortem_id), user=RESPONDER_BERLIN)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    assert "postmortem_id" not in [b.get("block_id") for b in view["blocks"]]
    slack.submit_view(view, user=RESPONDER_BERLIN, values={"category": "went_well", "text": "Fast containment"})
    assert [(n.postmortem_id, n.category) for n in stored_notes(in_transaction)] == [(postmortem_id, NoteCategory.WENT_WELL)]
