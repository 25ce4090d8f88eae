"""The review questions: the DM's button, the kickoff's button, and the modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.notes import questionnaire, questionnaire_blocks, questionnaire_flows
from bot.runtime import Runtime
from handlers.guard import keeping_the_modal_open, telling_user_of_failures
from handlers.replies import answer_submission, open_form
from handlers.view_state import ViewValues

TITLE = "Review questions"


def register(app: App, runtime: Runtime) -> None:
    @app.action(questionnaire_blocks.OPEN_ACTION)
    @app.action("kickoff_questionnaire")
    def open_questionnaire(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        response_url = body.get("response_url")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            open_form(runtime, lambda: questionnaire_flows.form(runtime, postmortem_id=int(action["value"]), user_id=user_id),
                      trigger_id=body["trigger_id"], title=TITLE)

    @app.view(questionnaire_blocks.CALLBACK_ID)
    def answers_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = ViewValues(view)
        answers = {q.key: values.text(q.key) for q in questionnaire.QUESTIONS}
        with keeping_the_modal_open(ack, view):
            outcome = questionnaire_flows.submit(
                runtime, postmortem_id=int(view["private_metadata"]), user_id=body["user"]["id"], answers=answers
            )
            answer_submission(ack, outcome)
