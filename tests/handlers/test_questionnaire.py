"""The review questionnaire: DM with a button, modal, stored answers, editing, refusals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.demo.signed_requests import SlackSim, eventually, wait_for_dm
from bot.notes.questionnaire import QUESTIONS
from bot.slack.double import FakeSlack
from models import Answer, Indicator
from tests.conftest import LEAD, OUTSIDER, RESPONDER_BERLIN, SOME_BOT
from tests.support import notice_text

ANSWERS = {
    "time_to_resolution": "About 23 hours",
    "earlier_detection": "Yes: the mail gateway flagged evil-login.com an hour earlier",
    "resources": "",
    "better_response": "Page the on-call sooner",
    "automation": "Session revocation",
    "random_or_targeted": "Targeted: the lure named our VPN vendor",
}


def open_questionnaire(slack: SlackSim, fake: FakeSlack, user: str) -> dict[str, Any]:
    invitation = wait_for_dm(fake, user, "review questions")
    button = invitation["blocks"][1]["elements"][0]
    assert button["text"]["text"] == "Answer the review questions"
    opened = len(fake.views)
    slack.press(button["action_id"], button["value"], user=user)
    # A new view: the latest may still be the one opened before, without the answers saved since.
    return eventually(lambda: len(fake.views) > opened and fake.latest_view().get("callback_id") == "questionnaire"
                      and fake.latest_view())


def answers_in_db(in_transaction: Any, user: str) -> dict[str, str]:
    with in_transaction() as session:
        return {a.question_key: a.text for a in session.scalars(select(Answer).where(Answer.user_id == user))}


def test_every_human_participant_gets_the_questionnaire_dm(fake_slack: FakeSlack, started: tuple[int, str]) -> None:
    for user in (LEAD, RESPONDER_BERLIN):
        assert wait_for_dm(fake_slack, user, "review questions")["blocks"][1]["elements"][0]["value"] == str(started[0])
    assert fake_slack.dm_messages(SOME_BOT) == []
    assert fake_slack.dm_messages(OUTSIDER) == []


def test_answers_are_saved_then_editable(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    view = open_questionnaire(slack, fake_slack, RESPONDER_BERLIN)
    assert [b["label"]["text"] for b in view["blocks"]] == [q.text for q in QUESTIONS]
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values=ANSWERS)
    assert reply.json()["view"]["blocks"][0]["text"]["text"].startswith(":white_check_mark: Your answers are saved.")
    assert answers_in_db(in_transaction, RESPONDER_BERLIN) == {k: v for k, v in ANSWERS.items() if v}
    with in_transaction() as session:
        assert ("domain", "evil-login.com") in set(session.execute(select(Indicator.kind, Indicator.value)).tuples())

    # Reopening shows the saved answers; changing one and clearing another updates them.
    again = open_questionnaire(slack, fake_slack, RESPONDER_BERLIN)
    prefilled = {b["block_id"]: b["element"].get("initial_value") for b in again["blocks"]}
    assert prefilled["time_to_resolution"] == "About 23 hours" and prefilled["resources"] is None
    slack.submit_view(again, user=RESPONDER_BERLIN, values={**ANSWERS, "time_to_resolution": "22 hours", "automation": ""})
    edited = answers_in_db(in_transaction, RESPONDER_BERLIN)
    assert edited["time_to_resolution"] == "22 hours" and "automation" not in edited

    status = slack.ask("status", user=LEAD, channel=started[1]).json()["text"]
    assert f"<@{RESPONDER_BERLIN}> — answered the review questions :white_check_mark:" in status


def test_over_long_answer_is_refused_inline(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    view = open_questionnaire(slack, fake_slack, LEAD)
    reply = slack.submit_view(view, user=LEAD, values={**ANSWERS, "resources": "y" * 3001})
    assert reply.json() == {"response_action": "errors", "errors": {"resources": "Keep this under 3,000 characters (it has 3,001)."}}
    assert answers_in_db(in_transaction, LEAD) == {}


def test_someone_outside_the_postmortem_cannot_open_it(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    postmortem_id, _ = started
    views_before = len(fake_slack.views)
    slack.press("questionnaire_open", str(postmortem_id), user=OUTSIDER)
    eventually(lambda: notice_text(fake_slack.latest_view()).startswith("I can't find a post-mortem you take part in here."),
               what="the refusal in the modal")
    assert [v.get("callback_id") for v in list(fake_slack.views.values())[views_before:]] == [None]
