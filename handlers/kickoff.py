"""Buttons on the pinned kickoff message whose features have not landed yet answer kindly, never with an error."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App

from bot.blocks.kickoff import NEXT_STEPS
from bot.runtime import Runtime
from handlers.guard import telling_user_of_failures
from handlers.replies import tell

# The kickoff's other buttons are answered by handlers.meetings, handlers.notes and handlers.questionnaire.
NOT_YET_AVAILABLE = ("kickoff_add_action",)
COMING_SOON = "“{label}” is coming soon. Meanwhile, `/postmortem note` keeps what matters; nothing will be lost."


def register(app: App, runtime: Runtime) -> None:
    labels = dict(NEXT_STEPS)

    @app.action(re.compile(f"^({'|'.join(NOT_YET_AVAILABLE)})$"))
    def next_step_pressed(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        user_id = body["user"]["id"]
        response_url = body.get("response_url")
        with telling_user_of_failures(runtime, ack=ack, user_id=user_id, response_url=response_url):
            tell(runtime, COMING_SOON.format(label=labels[action["action_id"]]), user_id=user_id, response_url=response_url)
