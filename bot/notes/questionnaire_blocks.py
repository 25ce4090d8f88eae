"""The review-questions DM and modal."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.notes.questionnaire import ANSWER_MAX_CHARS, Question
from bot.slack import safe_text
from bot.slack.blocks import Message
from models import Postmortem

CALLBACK_ID = "questionnaire"
OPEN_ACTION = "questionnaire_open"


def invitation(postmortem: Postmortem) -> Message:
    text = (
        f"You took part in the response to *{safe_text.mrkdwn_line(postmortem.title)}*. When you've rested, please answer "
        "a few review questions: what happened, how long it took, what we could do better. "
        "Your answers stay editable until the report is published. :lock: Confidential."
    )
    return Message(
        text=text,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=text)).to_dict(),
            answer_button(postmortem.id),
        ],
    )


def answer_button(postmortem_id: int) -> dict[str, Any]:
    return ActionsBlock(
        elements=[ButtonElement(text="Answer the review questions", action_id=OPEN_ACTION, value=str(postmortem_id), style="primary")]
    ).to_dict()


def form(*, postmortem_id: int, questions: tuple[Question, ...], answers: dict[str, str]) -> dict[str, Any]:
    blocks = [
        InputBlock(
            block_id=q.key,
            label=q.text,
            optional=True,
            element=PlainTextInputElement(
                action_id=q.key, multiline=True, max_length=ANSWER_MAX_CHARS, initial_value=answers.get(q.key) or None
            ),
        )
        for q in questions
    ]
    return View(
        type="modal",
        callback_id=CALLBACK_ID,
        title="Review questions",
        submit="Save answers",
        close="Later",
        private_metadata=str(postmortem_id),
        blocks=blocks,
    ).to_dict()
