"""Report summary, draft preview, classification and preventive-figures modals, redacted summary."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.monitoring import blocks as monitoring_blocks
from bot.reports.data import CLASSIFICATION_LABELS, SCORECARD_LABELS, VECTOR_LABELS, Attributed, format_duration
from bot.slack import safe_text
from bot.slack.blocks import Message, line_sections
from models import Assessment, Postmortem

SECTION_LIMIT = 3000
MESSAGE_BLOCK_LIMIT = 50
PUBLISH_ACTION = "report_publish"
ADD_ACTION = "kickoff_add_action"  # the same form as the kickoff's button
REDACTED_ACTION = "report_redacted"
CLASSIFY_CALLBACK = "classification"
SCORECARD_CALLBACK = "scorecard"
RATIONALE_MAX_CHARS = 2000
ANSWER_PREVIEW_CHARS = 250  # ten escaped answers and their authors fit one section


def _sections(texts: list[str]) -> list[dict[str, Any]]:
    """Every line is already within the limit: the summary template fits each piece of user text (see bot.reports.rendering)."""
    return [block for text in texts for block in line_sections(text)]


def summary(sections: list[str], *, title: str, version: int) -> Message:
    blocks = [HeaderBlock(text=f"Post-mortem report v{version}").to_dict(), *_sections(sections)]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text="The full report (timeline, every answer, indicators, actions) is in the Markdown and HTML files in this channel."
    )]).to_dict())
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT, "the summary template must stay within Slack's 50 blocks"
    return Message(text=f"Post-mortem report v{version}: {safe_text.mrkdwn_line(title)}", blocks=blocks)


def preview(sections: list[str], *, postmortem_id: int, version: int) -> Message:
    blocks = [
        SectionBlock(text=MarkdownTextObject(text=f":memo: *Draft report v{version}, not published yet.* This is the summary:")).to_dict(),
        *_sections(sections),
        ContextBlock(elements=[MarkdownTextObject(
            text="Publishing uploads the full report to the review channel as Markdown and HTML and posts this summary there."
        )]).to_dict(),
        ActionsBlock(elements=[ButtonElement(text="Add follow-up action", action_id=ADD_ACTION, value=str(postmortem_id)), ButtonElement(
            text="Publish", action_id=PUBLISH_ACTION, value=f"{postmortem_id}:{version}", style="primary",
            confirm={"title": {"type": "plain_text", "text": "Publish the report?"},
                     "text": {"type": "plain_text", "text": "Everyone in the review channel will see it."},
                     "confirm": {"type": "plain_text", "text": "Publish"}, "deny": {"type": "plain_text", "text": "Not yet"}},
        ), monitoring_blocks.window_choice(postmortem_id)]).to_dict(),
    ]
    return Message(text=f"Draft report v{version}", blocks=blocks[:MESSAGE_BLOCK_LIMIT])


def published(*, version: int, channel_id: str, summary_channel: str | None, postmortem_id: int,
              note: str | None = None) -> Message:
    text = f":white_check_mark: Report v{version} is published in <#{channel_id}>."
    blocks: list[dict[str, Any]] = [SectionBlock(text=MarkdownTextObject(text=text)).to_dict()]
    if note:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]).to_dict())
    if summary_channel:
        blocks.append(ActionsBlock(elements=[ButtonElement(
            text="Post redacted summary", action_id=REDACTED_ACTION, value=str(postmortem_id),
            confirm={"title": {"type": "plain_text", "text": "Post a redacted summary?"},
                     "text": {"type": "mrkdwn", "text": f"Only title, severity, classification, response times and the number of actions go to <#{summary_channel}>. No notes, answers, evidence or indicators."},
                     "confirm": {"type": "plain_text", "text": "Post it"}, "deny": {"type": "plain_text", "text": "Cancel"}},
        )]).to_dict())
    return Message(text=f"{text}\n{note}" if note else text, blocks=blocks)


def redacted_summary(*, postmortem: Postmortem, classification: str | None, durations: list[tuple[str, Any]],
                     action_count: int) -> Message:
    lines = [
        f"*Post-mortem completed: {safe_text.mrkdwn_line(postmortem.title)}*",
        f"*Severity:* {postmortem.severity.value}",
        f"*Random or targeted:* {classification or 'not recorded'}",
        *[f"*{label}:* {format_duration(value)}" for label, value in durations],
        f"*Follow-up actions:* {action_count}",
    ]
    text = "\n".join(lines)
    return Message(text=f"Post-mortem completed: {safe_text.mrkdwn_line(postmortem.title)}", blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def classification_form(*, postmortem_id: int, assessment: Assessment | None, said: list[Attributed]) -> dict[str, Any]:
    classification_options = [Option(value=c.value, text=label) for c, label in CLASSIFICATION_LABELS.items()]
    vector_options = [Option(value=v.value, text=label) for v, label in VECTOR_LABELS.items()]
    said_text = "\n".join(
        f"• <@{a.author_id}>: {safe_text.mrkdwn(a.text, limit=ANSWER_PREVIEW_CHARS, marker=safe_text.ELLIPSIS)}"
        for a in said[:10]
    ) or "_Nobody has answered “random or targeted?” yet._"
    current_class = assessment.classification.value if assessment and assessment.classification else None
    current_vector = assessment.attack_vector.value if assessment and assessment.attack_vector else None
    blocks: list[Any] = [
        SectionBlock(text=MarkdownTextObject(text=f"*What participants said*\n{said_text}"[:SECTION_LIMIT])),
        InputBlock(block_id="classification", label="Was the attack random or targeted?", element=StaticSelectElement(
            action_id="classification", options=classification_options,
            initial_option=next((o for o in classification_options if o.value == current_class), None))),
        InputBlock(block_id="attack_vector", label="Attack vector", element=StaticSelectElement(
            action_id="attack_vector", options=vector_options,
            initial_option=next((o for o in vector_options if o.value == current_vector), None))),
        InputBlock(block_id="rationale", label="Why?", optional=True, element=PlainTextInputElement(
            action_id="rationale", multiline=True, max_length=RATIONALE_MAX_CHARS,
            initial_value=(assessment.rationale if assessment else "") or None)),
    ]
    return View(type="modal", callback_id=CLASSIFY_CALLBACK, title="Random or targeted", submit="Save", close="Cancel",
                private_metadata=str(postmortem_id), blocks=blocks).to_dict()


def scorecard_form(*, postmortem_id: int, assessment: Assessment | None) -> dict[str, Any]:
    blocks: list[Any] = [ContextBlock(elements=[MarkdownTextObject(
        text="This incident's figures for the preventive-initiative scorecard. All optional; whole numbers, 0 or more.")])]
    for name, label in SCORECARD_LABELS:
        current = getattr(assessment, name) if assessment else None
        blocks.append(InputBlock(block_id=name, label=label, optional=True, element=NumberInputElement(
            action_id=name, is_decimal_allowed=False, min_value="0",
            initial_value=str(current) if current is not None else None)))
    return View(type="modal", callback_id=SCORECARD_CALLBACK, title="Preventive figures", submit="Save", close="Cancel",
                private_metadata=str(postmortem_id), blocks=blocks).to_dict()
