"""Follow-up actions, continued: cancelling (button, list menu, command), weekend due dates with the
frozen clock, and the App Home tab's query count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select

from bot.actions import flows as action_flows
from bot.clock import FrozenClock
from bot.demo.signed_requests import SlackSim, eventually, wait_for_dm
from bot.reminders.dispatcher import dispatch_due
from bot.runtime import Runtime
from bot.slack.double import FakeSlack
from models import (
    Action,
    ActionCategory,
    ActionChange,
    ActionPriority,
    ActionStatus,
    Answer,
    Participant,
    ParticipantRole,
    Postmortem,
    PostmortemStatus,
    Reminder,
    ReportVersion,
    Severity,
)
from tests.conftest import LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.handlers.test_access import new_view
from tests.handlers.test_actions import assign, pending
from tests.handlers.test_notes import select_option
from tests.handlers.test_reports import documents, publish
from tests.support import notice_text, utc

REASON_NEEDED = "Say why it's being cancelled, so the others know."
CANCEL_FORMAT = "Use `/postmortem action cancel &lt;number&gt; &lt;why&gt;`; `/postmortem actions` lists the numbers."


def actions_by_title(in_transaction: Any) -> dict[str, Action]:
    with in_transaction() as session:
        return {a.title: a for a in session.scalars(select(Action))}


def cancel_button(fake: FakeSlack, title: str) -> dict[str, Any]:
    dm = wait_for_dm(fake, RESPONDER_BERLIN, title)
    return next(b for b in dm["blocks"][1]["elements"] if b["text"]["text"] == "Cancel action")


# -- cancelling ------------------------------------------------------------------------------------

def test_owner_cancels_from_the_dm_with_a_reason_reminders_stop_and_everyone_sees_it(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock,
    in_transaction: Any,
) -> None:
    _, channel = started
    assign(slack, channel)
    assign(slack, channel, f"<@{RESPONDER_BERLIN}|ben> 2026-12-02 Block the lure domain")
    button = cancel_button(fake_slack, "Rotate VPN certificates")

    # Someone who neither owns it nor facilitates is told so in the modal that opened at once, with no form.
    views = len(fake_slack.views)
    slack.press(button["action_id"], button["value"], user=RESPONDER_TOKYO)
    eventually(lambda: notice_text(fake_slack.latest_view()) == "Only the owner or the facilitator can change this action.",
               what="the refusal")
    assert [v.get("callback_id") for v in list(fake_slack.views.values())[views:]] == [None]

    view = new_view(fake_slack, "action_cancel_form", lambda: slack.press(button["action_id"], button["value"],
                                                                          user=RESPONDER_BERLIN))
    empty = slack.submit_view(view, user=RESPONDER_BERLIN, values={"reason": "   "}).json()
    assert empty == {"response_action": "errors", "errors": {"reason": REASON_NEEDED}}
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values={"reason": "Vendor\nretired the VPN <!channel>"}).json()
    assert reply["view"]["blocks"][0]["text"]["text"] == \
        ":no_entry_sign: Cancelled: Rotate VPN certificates. No more reminders for it."

    by_title = actions_by_title(in_transaction)
    cancelled = by_title["Rotate VPN certificates"]
    assert cancelled.status is ActionStatus.CANCELLED
    with in_transaction() as session:
        planned_for = set(session.scalars(select(Reminder.subject_id).where(Reminder.kind.like("action_%"),
                                                                            Reminder.status == "pending")))
    assert planned_for == {by_title["Block the lure domain"].id}
    with in_transaction() as session:
        change = session.scalars(select(ActionChange).where(ActionChange.action_id == cancelled.id)
                                 .order_by(ActionChange.id.desc())).first()
        assert (change.actor_id, change.field, change.new_value, change.reason) == \
            (RESPONDER_BERLIN, "status", "cancelled", "Vendor retired the VPN <!channel>")

    notice = eventually(lambda: next((m for m in fake_slack.messages[channel] if "Cancelled follow-up" in m["text"]), None),
                        what="the channel notice")
    assert notice["text"] == (f":no_entry_sign: Cancelled follow-up: *Rotate VPN certificates* (owner <@{RESPONDER_BERLIN}>), "
                              f"by <@{RESPONDER_BERLIN}>: Vendor retired the VPN &lt;!channel&gt;")
    assert "\n" not in notice["text"]

    # No reminder for it ever again; the other action's still come.
    sent = {m["text"] for m in fake_slack.dm_messages(RESPONDER_BERLIN)}
    for day in range(20):
        clock.current = utc(2026, 11, 21, 8) + timedelta(days=day)
        dispatch_due(runtime, worker_id="w")
    reminded = {m["text"] for m in fake_slack.dm_messages(RESPONDER_BERLIN)} - sent
    assert reminded and all("Block the lure domain" in text for text in reminded)

    # Gone from the open lists; the report keeps it, marked cancelled.
    mine = slack.ask("actions", user=RESPONDER_BERLIN, channel="C0WARROOM").json()
    everything = slack.ask("actions all", user=LEAD, channel=channel).json()
    assert "Rotate VPN" not in str(mine) and "Rotate VPN" not in str(everything) and "Block the lure" in str(everything)
    assert "Rotate VPN" not in str(fake_slack.home_views[RESPONDER_BERLIN])  # refreshed after the cancel
    publish(slack, fake_slack, channel)
    markdown, _ = documents(fake_slack, 1)
    line = next(line for line in markdown.splitlines() if "Rotate VPN certificates" in line)
    assert line.endswith("cancelled")


def test_cancel_by_command_takes_the_rest_as_reason_and_asks_for_one(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    action = actions_by_title(in_transaction)["Rotate VPN certificates"]
    listed = slack.ask("actions all", user=LEAD, channel=channel).json()
    assert f"#{action.id}" in listed["blocks"][1]["text"]["text"]  # the number the command takes

    assert slack.ask(f"action cancel {action.id}", user=LEAD, channel=channel).text == f"{REASON_NEEDED} {CANCEL_FORMAT}"
    assert slack.ask("action cancel soon", user=LEAD, channel=channel).text == CANCEL_FORMAT
    assert slack.ask("action cancel ² typo", user=LEAD, channel=channel).text == CANCEL_FORMAT
    for beyond_any_id in ("2147483648", "99999999999999999999999", "9" * 5000):
        assert slack.ask(f"action cancel {beyond_any_id} why", user=LEAD, channel=channel).text == \
            "That action no longer exists."
    assert slack.ask(f"action cancel {action.id} not mine", user=RESPONDER_TOKYO, channel=channel).text == \
        "Only the owner or the facilitator can cancel this."
    assert actions_by_title(in_transaction)["Rotate VPN certificates"].status is ActionStatus.OPEN

    reply = slack.ask(f"action cancel #{action.id} Replaced by the SSO rollout", user=LEAD, channel=channel)
    assert reply.text == ":no_entry_sign: Cancelled: Rotate VPN certificates. No more reminders for it."
    assert actions_by_title(in_transaction)["Rotate VPN certificates"].status is ActionStatus.CANCELLED
    assert pending(runtime) == []
    eventually(lambda: any(m["text"].endswith(f"by <@{LEAD}>: Replaced by the SSO rollout") for m in fake_slack.messages[channel]),
               what="the channel notice")
    assert slack.ask(f"action cancel {action.id} again", user=LEAD, channel=channel).text == \
        "This action is already cancelled."


def test_cancel_from_the_list_menu_opens_the_reason_modal(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    assign(slack, channel)
    listed = slack.ask("actions", user=RESPONDER_BERLIN, channel="C0WARROOM").json()
    menu = listed["blocks"][1]["accessory"]
    assert [o["text"]["text"] for o in menu["options"]] == ["Mark done", "Cancel action"]
    view = new_view(fake_slack, "action_cancel_form",
                    lambda: select_option(slack, menu, menu["options"][1]["value"], user=RESPONDER_BERLIN))
    slack.submit_view(view, user=RESPONDER_BERLIN, values={"reason": "Duplicate of another follow-up"})
    assert actions_by_title(in_transaction)["Rotate VPN certificates"].status is ActionStatus.CANCELLED
    select_option(slack, menu, menu["options"][0]["value"], user=RESPONDER_BERLIN)  # an old menu: Mark done
    eventually(lambda: fake_slack.responses[-1]["text"] == "This action is already cancelled.", what="the refusal")


# -- weekend due dates -----------------------------------------------------------------------------

def test_a_saturday_due_date_is_due_on_monday_and_overdue_on_tuesday_never_both_at_once(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], runtime: Runtime, clock: FrozenClock
) -> None:
    _, channel = started
    assign(slack, channel, f"<@{RESPONDER_BERLIN}|ben> 2026-12-05 Rotate VPN certificates")  # Saturday
    wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up:")  # announced after the answer
    owner_kinds = [(kind, at) for kind, recipient, at in pending(runtime) if recipient == RESPONDER_BERLIN]
    assert owner_kinds == [
        ("action_before", utc(2026, 12, 4, 8)),   # 3 d before Monday 09:00 is Friday 09:00 in Berlin
        ("action_due", utc(2026, 12, 7, 8)),      # Monday 09:00 in Berlin
        ("action_overdue", utc(2026, 12, 8, 8)),  # Tuesday 09:00, a working day later
    ]

    def texts_at(at: Any) -> list[str]:
        before = len(fake_slack.dm_messages(RESPONDER_BERLIN))
        clock.current = at
        dispatch_due(runtime, worker_id="w")
        return [m["blocks"][0]["text"]["text"] for m in fake_slack.dm_messages(RESPONDER_BERLIN)[before:]]

    assert [text.split("\n")[0] for text in texts_at(utc(2026, 12, 4, 8))] == [":hourglass: Coming up: due 2026-12-05."]
    assert texts_at(utc(2026, 12, 5, 12)) == []  # Saturday itself: nothing
    monday = texts_at(utc(2026, 12, 7, 8))
    assert len(monday) == 1 and monday[0].startswith(":hourglass: Due today.")
    tuesday = texts_at(utc(2026, 12, 8, 8))
    assert len(tuesday) == 1 and tuesday[0].startswith(":red_circle: Overdue.")


# -- App Home in a constant number of queries ------------------------------------------------------

@contextmanager
def counting_queries(runtime: Runtime) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


def add_postmortems(runtime: Runtime, *, how_many: int, user_id: str, now: Any) -> None:
    """Post-mortems of every kind the Home tab tells apart: open and unanswered, answered, published, closed."""
    with runtime.sessions.begin() as session:
        start = session.scalar(select(func.count()).select_from(Postmortem)) or 0
        for number in range(start + 1, start + 1 + how_many):
            postmortem = Postmortem(
                team_id="T", title=f"Incident {number}", severity=Severity.LOW, detected_at=now, created_by=LEAD,
                facilitator_id=LEAD, source_view_id=f"VHOME{number}", created_at=now + timedelta(seconds=number),
                channel_id=f"CHOME{number:05d}",
                status=PostmortemStatus.CLOSED if number % 4 == 0 else PostmortemStatus.OPEN,
            )
            postmortem.participants = [Participant(user_id=LEAD, role=ParticipantRole.FACILITATOR),
                                       Participant(user_id=user_id, role=ParticipantRole.RESPONDER)]
            session.add(postmortem)
            session.flush()
            if number % 4 == 1:
                session.add(Answer(postmortem_id=postmortem.id, user_id=user_id, question_key="automation", text="x",
                                   updated_at=now))
            if number % 4 == 2:
                session.add(ReportVersion(postmortem_id=postmortem.id, version=1, markdown="", html="", snapshot="",
                                          published_by=LEAD, published_at=now, summary_ts="1.0"))
            session.add(Action(postmortem_id=postmortem.id, title=f"Follow-up {number}", owner_id=user_id,
                               due_on=now.date() + timedelta(days=number), priority=ActionPriority.LOW,
                               category=ActionCategory.OTHER, created_by=LEAD, dedupe_key=f"home:{number}",
                               created_at=now, updated_at=now))


def test_app_home_costs_the_same_queries_for_one_and_for_ten_postmortems(runtime: Runtime, clock: FrozenClock) -> None:
    user_id = RESPONDER_TOKYO
    add_postmortems(runtime, how_many=1, user_id=user_id, now=clock.now())
    with counting_queries(runtime) as for_one:
        one = action_flows.home(runtime, user_id=user_id)
    add_postmortems(runtime, how_many=9, user_id=user_id, now=clock.now())
    with counting_queries(runtime) as for_ten:
        ten = action_flows.home(runtime, user_id=user_id)
    assert str(one).count("Incident ") < str(ten).count("Incident ")  # the ten are really there
    # Of post-mortems 1..10: 4 and 8 are closed, 1, 5, 9 answered, 2, 6, 10 published: 3 and 7 wait.
    waiting = [b["text"]["text"] for b in ten["blocks"] if b["type"] == "section" and b["text"]["text"].startswith("*Incident")]
    assert waiting == ["*Incident 7*", "*Incident 3*"]
    assert len(for_one) == len(for_ten), (for_one, for_ten)
