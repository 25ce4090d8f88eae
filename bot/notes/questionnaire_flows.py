"""Sending the review questions to participants, and taking their answers."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update

from bot.notes import questionnaire, questionnaire_blocks
from bot.postmortems import access, provisioning
from bot.postmortems import service as postmortems
from bot.runtime import Runtime
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed
from models import Participant, PostmortemStatus
from models.db import transaction

log = logging.getLogger(__name__)

PUBLISHED = "The report is published, so answers can no longer change. Ask the facilitator to add a note instead."
SAVED = ":white_check_mark: Your answers are saved. You can change them until the report is published: press the button in my message again."


@provisioning.once_ready
def invite_participants(runtime: Runtime, *, postmortem_id: int) -> None:
    """DM each human participant not yet invited. A failure for one person does not stop the others."""
    with transaction(runtime.sessions) as session:
        postmortem = postmortems.get(session, postmortem_id=postmortem_id)
        if postmortem is None:
            return
        pending = session.scalars(
            select(Participant).where(Participant.postmortem_id == postmortem_id, Participant.questionnaire_sent_at.is_(None))
        ).all()
        message = questionnaire_blocks.invitation(postmortem)
    for participant in pending:
        try:
            if runtime.slack.user(participant.user_id).is_bot:
                continue
            runtime.slack.post_message(channel=participant.user_id, text=message.text, blocks=message.blocks)
        except SlackCallFailed as failure:
            log.warning("questionnaire DM to %s failed: %s", participant.user_id, failure)
            continue
        with transaction(runtime.sessions) as session:
            session.execute(
                update(Participant).where(Participant.id == participant.id).values(questionnaire_sent_at=runtime.clock.now())
            )


def form(runtime: Runtime, *, postmortem_id: int, user_id: str) -> dict[str, Any] | Message:
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.by_id(session, runtime, postmortem_id=postmortem_id, user_id=user_id)
        if postmortem is None:
            return Message(text=access.NOT_FOUND)
        if postmortem.status is PostmortemStatus.CLOSED:
            return Message(text=access.CLOSED)
        answers = questionnaire.answers_of(session, postmortem_id=postmortem.id, user_id=user_id)
        return questionnaire_blocks.form(postmortem_id=postmortem.id, questions=questionnaire.QUESTIONS, answers=answers)


def submit(runtime: Runtime, *, postmortem_id: int, user_id: str, answers: dict[str, str]) -> dict[str, str] | str:
    """Save answers. Returns inline errors keyed by question, or the confirmation text."""
    errors = questionnaire.validate(answers)
    if errors:
        return errors
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.by_id(session, runtime, postmortem_id=postmortem_id, user_id=user_id)
        if postmortem is None:
            return {questionnaire.QUESTIONS[0].key: access.NOT_FOUND}
        # Closing follows publishing: say the stronger reason.
        if postmortem.status is PostmortemStatus.CLOSED:
            return {questionnaire.QUESTIONS[0].key: access.CLOSED}
        if postmortems.is_published(session, postmortem_id=postmortem.id):
            return {questionnaire.QUESTIONS[0].key: PUBLISHED}
        try:
            questionnaire.save(session, postmortem=postmortem, user_id=user_id, answers=answers, now=runtime.clock.now())
        except questionnaire.AnswersRefused as refusal:
            return {questionnaire.QUESTIONS[0].key: str(refusal)}
    return SAVED
