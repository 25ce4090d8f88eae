"""The kickoff message pinned in a review channel, and the channel's topic and purpose."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack import safe_text
from bot.slack.blocks import Message, slack_date
from models import Postmortem

CONFIDENTIALITY_NOTICE = (
    ":lock: *Confidential.* This channel, its files and the meeting documents are for the review team only. "
    "Do not forward them or paste indicators into public tools."
)

REPORT_FIELDS = (
    ("Where is the affected system or device", "system_location"),
    ("What does it do", "system_function"),
    ("How we found out", "identified_how"),
    ("What we did to contain it", "containment_steps"),
    ("Impact", "impact"),
    ("Evidence collected", "evidence"),
)

# action_id -> button label; answered by handlers.meetings, .notes, .questionnaire and .actions.
NEXT_STEPS = (
    ("kickoff_schedule", "Schedule meeting"),
    ("kickoff_add_note", "Add note"),
    ("kickoff_questionnaire", "Answer review questions"),
    ("kickoff_add_action", "Add follow-up action"),
)


def topic(postmortem: Postmortem) -> str:
    rest = f" · severity {postmortem.severity.value} · confidential"
    return "Post-mortem: " + safe_text.topic(postmortem.title, limit=safe_text.TOPIC - len("Post-mortem: ") - len(rest)) + rest


def purpose(postmortem: Postmortem) -> str:
    return f"Confidential review of incident #{postmortem.id}. Facilitator: <@{postmortem.facilitator_id}>."


def kickoff_message(postmortem: Postmortem) -> Message:
    timeline = "\n".join(
        f"*{label}:* {slack_date(moment)}"
        for label, moment in (
            ("Compromise began", postmortem.compromised_at),
            ("Detected", postmortem.detected_at),
            ("Contained", postmortem.contained_at),
            ("Resolved", postmortem.resolved_at),
        )
    )
    people = ", ".join(f"<@{user_id}>" for user_id in postmortem.responder_ids) or "none listed"
    blocks = [
        HeaderBlock(text=safe_text.plain_text(f"Post-mortem: {postmortem.title}")),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*Severity:* {postmortem.severity.value}\n*Facilitator:* <@{postmortem.facilitator_id}>\n"
                f"*Responders:* {people}"
            )
        ),
        SectionBlock(text=MarkdownTextObject(text=timeline)),
        DividerBlock(),
    ]
    for label, name in REPORT_FIELDS:
        heading = f"*{label}*\n"
        value = safe_text.mrkdwn(getattr(postmortem, name).strip(), limit=safe_text.SECTION_TEXT - len(heading))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=heading + (value or "_not recorded_"))))
    blocks += [
        DividerBlock(),
        ContextBlock(elements=[MarkdownTextObject(text=CONFIDENTIALITY_NOTICE)]),
        ActionsBlock(
            block_id="kickoff_next_steps",
            elements=[
                ButtonElement(text=label, action_id=action_id, value=str(postmortem.id))
                for action_id, label in NEXT_STEPS
            ],
        ),
    ]
    return Message(
        text=f"Post-mortem kickoff: {safe_text.mrkdwn_line(postmortem.title)}",
        blocks=[block.to_dict() for block in blocks],
    )
