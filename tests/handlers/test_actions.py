"""Follow-up actions through signed requests, the fake Slack and a controlled clock."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.signed_requests import SlackSim, eventually, settled_view, wait_for_dm
from bot.reminders.dispatcher import dispatch_due
from bot.runtime import Runtime
from bot.slack.double import FakeSlack
from models import Action, ActionChange, ActionStatus, Postmortem, PostmortemStatus, Reminder
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN, RESPONDER_TOKYO, SOME_BOT
from tests.handlers.test_reports import publish
from tests.support import notice_text, utc

MALFORMED = ("I couldn't read that. Use `/postmortem action @owner YYYY-MM-DD what to do`, for example "
             "`/postmortem action @ana 2026-12-15 Rotate VPN certificates`, or `/postmortem action` alone for the form.")
BERLIN_DUE = utc(2026, 11, 30, 8)  # Mon 30 Nov, 09:00 in Berlin


def assign(slack: SlackSim, channel: str, text: str = f"<@{RESPONDER_BERLIN}|ben> 2026-11-30 Rotate VPN certificates") -> str:
    return slack.ask(f"action {text}", user=LEAD, channel=channel).text


def the_action(in_transaction: Any) -> Action:
    with in_transaction() as session:
        return session.scalars(select(Action)).one()


def pending(runtime: Runtime) -> list[tuple[str, str, Any]]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Reminder).where(Reminder.kind.like("action_%"), Reminder.status == "pending")
                               .order_by(Reminder.due_at))
        return [(r.kind, r.recipient_id, r.due_at) for r in rows]


def test_one_line_command_assigns_dms_the_owner_and_tells_the_channel(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    assert assign(slack, channel) == f":white_check_mark: Assigned to <@{RESPONDER_BERLIN}>, due 2026-11-30: Rotate VPN certificates"
    dm = wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up:")
    assert [b["text"]["text"] for b in dm["blocks"][1]["elements"]] == ["Mark done", "Extend due date", "Reassign", "Cancel action", "Open post-mortem"]
    eventually(lambda: any(m["text"].startswith(":pushpin: New follow-up: *Rotate VPN certificates*")
                           for m in fake_slack.messages[channel]), what="the channel notice")
    assert pending(runtime) == [
        ("action_before", RESPONDER_BERLIN, utc(2026, 11, 27, 8)),
        ("action_due", RESPONDER_BERLIN, BERLIN_DUE),
        ("action_overdue", RESPONDER_BERLIN, utc(2026, 12, 1, 8)),
        ("action_escalation", LEAD, utc(2026, 12, 7, 14)),
    ]
    with in_transaction() as session:
        assert [(c.actor_id, c.field) for c in session.scalars(select(ActionChange))] == [(LEAD, "created")]


def test_malformed_and_past_one_liners_are_refused_with_the_form(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    assert slack.ask("action ben tomorrow fix it", user=LEAD, channel=channel).text == MALFORMED
    assert slack.ask(f"action <@{RESPONDER_BERLIN}> 2026-02-30 Fix", user=LEAD, channel=channel).text == MALFORMED
    assert assign(slack, channel, f"<@{RESPONDER_BERLIN}> 2026-11-01 Too late") == "That date has passed. Pick today or a later date."
    # Reminders are planned after the due date: the calendar's last day has no room for them.
    assert assign(slack, channel, f"<@{RESPONDER_BERLIN}> 9999-12-31 Someday") == "Pick a date within the next five years."
    with in_transaction() as session:
        assert session.scalars(select(Action)).all() == []


def test_an_owner_who_cannot_get_reminders_is_refused_with_the_reason(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    fake_slack.add_user("U0GONE0001", deleted=True)
    unknown = "I can't find that person in this workspace. Pick the owner again."
    not_a_person = "Pick a person with an active account: reminders can't reach a bot or a deactivated account."
    # Slack's user_not_found is a wrong pick: "send it again in a minute" would never help.
    assert assign(slack, channel, "<@U0NOSUCH01> 2026-11-30 Ghost") == unknown
    assert assign(slack, channel, f"<@{SOME_BOT}> 2026-11-30 Bot") == not_a_person
    assert assign(slack, channel, "<@U0GONE0001> 2026-11-30 Gone") == not_a_person
    with in_transaction() as session:
        assert session.scalars(select(Action)).all() == []
    assign(slack, channel)
    press_owner_button(slack, fake_slack, "Reassign")
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_reassign_form" and fake_slack.latest_view())
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values={"owner_id": SOME_BOT, "reason": "Automate it"}).json()
    assert reply == {"response_action": "errors", "errors": {"owner_id": not_a_person}}
    assert the_action(in_transaction).owner_id == RESPONDER_BERLIN


def test_modal_creation_from_the_kickoff_button(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, _ = started
    slack.press("kickoff_add_action", str(postmortem_id), user=LEAD)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_form" and fake_slack.latest_view())
    values = {"title": "Phishing drill for finance", "description": "Quarterly", "owner_id": RESPONDER_TOKYO,
              "due_on": "2026-12-10", "priority": "high", "category": "employee_awareness"}
    assert slack.submit_view(view, user=LEAD, values=values).json()["response_action"] == "update"
    assert notice_text(settled_view(fake_slack, view["id"])).startswith(f":white_check_mark: Assigned to <@{RESPONDER_TOKYO}>")
    slack.submit_view(view, user=LEAD, values=values)  # redelivered: still one action
    action = the_action(in_transaction)
    assert (action.owner_id, action.due_on, action.priority.value, action.category.value) == \
        (RESPONDER_TOKYO, date(2026, 12, 10), "high", "employee_awareness")
    past = slack.submit_view({**view, "id": "V0OTHER01"}, user=LEAD, values={**values, "due_on": "2026-11-19"}).json()
    assert past == {"response_action": "errors", "errors": {"due_on": "That date has passed. Pick today or a later date."}}


def test_reminders_overdue_repeats_and_escalation(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock
) -> None:
    _, channel = started
    escalations = fake_slack.add_channel("sec-leads", members=["UBOT000001"])
    runtime.settings.escalation_channel = escalations
    assign(slack, channel)
    wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up:")

    def tick(at: Any) -> dict[str, int]:
        clock.current = at
        return dispatch_due(runtime, worker_id="w").counts

    assert tick(utc(2026, 11, 27, 7, 59)) == {}
    assert tick(utc(2026, 11, 27, 8)) == {"sent": 1}
    assert "Coming up: due 2026-11-30" in fake_slack.dm_messages(RESPONDER_BERLIN)[-1]["blocks"][0]["text"]["text"]
    assert tick(BERLIN_DUE) == {"sent": 1}
    assert "Due today" in fake_slack.dm_messages(RESPONDER_BERLIN)[-1]["blocks"][0]["text"]["text"]
    assert tick(utc(2026, 12, 1, 8)) == {"sent": 1}
    overdue = fake_slack.dm_messages(RESPONDER_BERLIN)[-1]["blocks"][0]["text"]["text"]
    assert overdue.startswith(":red_circle: Overdue.") and "overdue since 2026-11-30" in overdue
    assert tick(utc(2026, 12, 3, 8)) == {"sent": 1}  # every 2 days
    assert tick(utc(2026, 12, 5, 8)) == {}  # Saturday: moved to Monday
    assert tick(utc(2026, 12, 7, 8)) == {"sent": 1}
    assert tick(utc(2026, 12, 7, 14)) == {"sent": 2}  # escalation, Monday 09:00 in New York: DM and channel post
    escalation = wait_for_dm(fake_slack, LEAD, "Overdue follow-up")
    assert "Rotate VPN certificates" in str(escalation["blocks"])
    assert fake_slack.messages[escalations][-1]["text"] == "Overdue follow-up: Rotate VPN certificates"


def press_owner_button(slack: SlackSim, fake: FakeSlack, label: str, *, user: str = RESPONDER_BERLIN) -> None:
    dm = wait_for_dm(fake, RESPONDER_BERLIN, "New follow-up:")
    button = next(b for b in dm["blocks"][1]["elements"] if b["text"]["text"] == label)
    slack.press(button["action_id"], button["value"], user=user)


def test_mark_done_stops_every_reminder_at_once(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock,
    in_transaction: Any,
) -> None:
    _, channel = started
    assign(slack, channel)
    press_owner_button(slack, fake_slack, "Mark done", user=RESPONDER_TOKYO)  # not the owner nor the facilitator
    eventually(lambda: fake_slack.responses[-1]["text"] == "Only the owner or the facilitator can mark this done.")
    press_owner_button(slack, fake_slack, "Mark done")
    eventually(lambda: fake_slack.responses[-1]["text"].startswith(":white_check_mark: Done: Rotate VPN certificates."))
    assert the_action(in_transaction).status is ActionStatus.DONE
    assert pending(runtime) == []
    sent = len(fake_slack.dm_messages(RESPONDER_BERLIN))
    for day in range(20):
        clock.current = utc(2026, 11, 21, 8) + timedelta(days=day)
        dispatch_due(runtime, worker_id="w")
    assert len(fake_slack.dm_messages(RESPONDER_BERLIN)) == sent
    press_owner_button(slack, fake_slack, "Mark done")
    assert eventually(lambda: fake_slack.responses[-1]["text"] == "This action is already done.")


def test_extend_and_reassign_replan_and_the_old_owner_hears_nothing_more(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock,
    in_transaction: Any,
) -> None:
    _, channel = started
    assign(slack, channel)
    press_owner_button(slack, fake_slack, "Extend due date")
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_extend_form" and fake_slack.latest_view())
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values={"due_on": "2026-12-14", "reason": "Vendor delay"}).json()
    assert reply["view"]["blocks"][0]["text"]["text"] == ":white_check_mark: New due date 2026-12-14 for Rotate VPN certificates."
    assert [kind for kind, _, at in pending(runtime) if at == utc(2026, 12, 14, 8)] == ["action_due"]

    press_owner_button(slack, fake_slack, "Reassign")
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_reassign_form" and fake_slack.latest_view())
    slack.submit_view(view, user=RESPONDER_BERLIN, values={"owner_id": RESPONDER_TOKYO, "reason": "On leave"})
    wait_for_dm(fake_slack, RESPONDER_TOKYO, "New follow-up:")
    assert {recipient for kind, recipient, _ in pending(runtime) if kind != "action_escalation"} == {RESPONDER_TOKYO}
    with in_transaction() as session:
        changes = [(c.field, c.old_value, c.new_value, c.reason) for c in session.scalars(select(ActionChange).order_by(ActionChange.id))]
    assert changes[1:] == [("due_on", "2026-11-30", "2026-12-14", "Vendor delay"),
                           ("owner_id", RESPONDER_BERLIN, RESPONDER_TOKYO, "On leave")]
    berlin_before = len(fake_slack.dm_messages(RESPONDER_BERLIN))
    for day in range(30):
        clock.current = utc(2026, 11, 21, 0) + timedelta(days=day, hours=8)
        dispatch_due(runtime, worker_id="w")
    assert len(fake_slack.dm_messages(RESPONDER_BERLIN)) == berlin_before
    assert any("Due today" in str(m["blocks"]) for m in fake_slack.dm_messages(RESPONDER_TOKYO))


def test_extend_into_the_past_and_reassign_to_the_same_owner_are_refused_inline(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    planned = pending(runtime)
    press_owner_button(slack, fake_slack, "Extend due date")
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_extend_form" and fake_slack.latest_view())
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values={"due_on": "2026-11-19", "reason": "Oops"}).json()
    assert reply == {"response_action": "errors", "errors": {"due_on": "That date has passed. Pick today or a later date."}}
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values={"due_on": "9999-12-30", "reason": "Never"}).json()
    assert reply == {"response_action": "errors", "errors": {"due_on": "Pick a date within the next five years."}}
    press_owner_button(slack, fake_slack, "Reassign")
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "action_reassign_form" and fake_slack.latest_view())
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values={"owner_id": RESPONDER_BERLIN, "reason": "Me"}).json()
    assert reply == {"response_action": "errors", "errors": {"owner_id": "That person already owns this action."}}
    action = the_action(in_transaction)
    assert (action.owner_id, action.due_on, action.version) == (RESPONDER_BERLIN, date(2026, 11, 30), 0)
    assert pending(runtime) == planned  # nothing replanned, nothing lost


def test_lists_put_overdue_first(slack: SlackSim, started: tuple[int, str], clock: FrozenClock) -> None:
    _, channel = started
    assign(slack, channel, f"<@{LEAD}> 2026-12-20 Later one")
    assign(slack, channel, f"<@{LEAD}> 2026-11-21 Sooner one")
    clock.current = utc(2026, 11, 23, 12)
    mine = slack.ask("actions", user=LEAD, channel="C0WARROOM").json()
    lines = [b["text"]["text"] for b in mine["blocks"][1:]]
    assert lines[0].startswith(":red_circle: *Sooner one*") and "overdue since 2026-11-21" in lines[0]
    assert lines[1].startswith("*Later one*")
    assert slack.ask("actions", user=RESPONDER_BERLIN, channel="C0WARROOM").text == \
        "Your open follow-ups, most urgent first: none. :tada:"
    everything = slack.ask("actions all", user=RESPONDER_BERLIN, channel=channel).json()
    assert len(everything["blocks"]) == 3 and "accessory" not in everything["blocks"][1]


def test_app_home_shows_follow_ups_questionnaires_and_postmortems(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    assign(slack, channel)
    assert slack.event({"type": "app_home_opened", "user": RESPONDER_BERLIN, "tab": "home"}).status == 200
    home = eventually(lambda: fake_slack.home_views.get(RESPONDER_BERLIN), what="published Home tab")
    text = str(home["blocks"])
    assert "Rotate VPN certificates" in text and "due 2026-11-30" in text
    assert "Answer the review questions" in text and "VPN credential phishing" in text
    done = next(e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"] if e["text"]["text"] == "Mark done")
    slack.interaction({"type": "block_actions", "user": {"id": RESPONDER_BERLIN}, "trigger_id": fake_slack.issue_trigger(),
                       "view": {"type": "home", "id": "VHOME"}, "actions": [{**done, "action_ts": "1", "block_id": "b"}]})
    eventually(lambda: "Nothing open" in str(fake_slack.home_views[RESPONDER_BERLIN]["blocks"]), what="refreshed Home tab")


def test_close_refuses_until_published_then_archives_and_keeps_tracking(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any,
    clock: FrozenClock,
) -> None:
    postmortem_id, channel = started
    assign(slack, channel)
    slack.ask("close", user=RESPONDER_BERLIN, channel=channel)
    eventually(lambda: fake_slack.responses[-1]["text"] == "Only the facilitator of this post-mortem can close it.")
    slack.ask("close", user=LEAD, channel=channel)
    assert eventually(lambda: fake_slack.responses[-1]["text"].startswith("The report isn't published yet."))
    assert not fake_slack.channels[channel].is_archived

    publish(slack, fake_slack, channel)
    slack.ask("close", user=LEAD, channel=channel)
    closing = eventually(lambda: "closed and read-only" in fake_slack.responses[-1]["text"] and fake_slack.responses[-1])
    assert f"Rotate VPN certificates — <@{RESPONDER_BERLIN}>, due 2026-11-30" in closing["text"]
    assert fake_slack.channels[channel].is_archived
    with in_transaction() as session:
        assert session.get(Postmortem, postmortem_id).status is PostmortemStatus.CLOSED
    assert slack.ask("note one more thing", user=LEAD, channel=channel).text.startswith("This post-mortem is closed")
    clock.current = BERLIN_DUE
    # The 3 d and due-day reminders keep going after closing; the 1 d and 7 d monitoring check-ins come too.
    assert dispatch_due(runtime, worker_id="w")["sent"] == 4
    assert OUTSIDER not in fake_slack.channels[channel].members
