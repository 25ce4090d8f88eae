"""The incident report modal opened by `/postmortem start`. Block and action ids are the field names."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.postmortems.service import TEXT_MAX_CHARS, TITLE_MAX_CHARS
from models import Severity

CALLBACK_ID = "incident_report"

SEVERITY_LABELS = {
    Severity.CRITICAL: "Critical: business stopped or data stolen",
    Severity.HIGH: "High: serious, contained quickly",
    Severity.MEDIUM: "Medium: limited impact",
    Severity.LOW: "Low: minor, no data touched",
}

# (field, label, hint, multiline)
TEXT_FIELDS = (
    ("system_location", "Where is the affected system or device?", "Site, network segment, cloud account, or owner.", False),
    ("system_function", "What does that system do?", "For example: web server, employee laptop, mail gateway.", False),
    ("identified_how", "How did we find out?", "Alert, user report, third party, threat hunt...", True),
    ("containment_steps", "What did we do to contain it?", "The steps taken to neutralize and contain the threat.", True),
    ("impact", "What was the impact?", "Systems, data and people affected; downtime.", True),
    ("evidence", "What evidence did we collect?", "Logs, images, ticket links. Links are not opened by the bot.", True),
)

MOMENTS = (
    ("compromised_at", "When did the compromise begin?", True),
    ("detected_at", "When was it detected?", False),
    ("contained_at", "When was it contained?", True),
    ("resolved_at", "When was it resolved?", True),
)


def incident_form(*, title: str, facilitator_id: str) -> dict[str, Any]:
    severity_options = [Option(value=severity.value, text=label) for severity, label in SEVERITY_LABELS.items()]
    blocks: list[Any] = [
        ContextBlock(
            elements=[MarkdownTextObject(text="Fill in what you know now; the review will fill in the rest. :lock: Confidential.")]
        ),
        InputBlock(
            block_id="title",
            label="Incident title",
            element=PlainTextInputElement(
                action_id="title", initial_value=title[:TITLE_MAX_CHARS] or None, max_length=TITLE_MAX_CHARS
            ),
        ),
        InputBlock(
            block_id="severity",
            label="Severity",
            element=StaticSelectElement(action_id="severity", options=severity_options, placeholder="Pick one"),
        ),
    ]
    for name, label, optional in MOMENTS:
        blocks.append(
            InputBlock(block_id=name, label=label, optional=optional, element=DateTimePickerElement(action_id=name))
        )
    for name, label, hint, multiline in TEXT_FIELDS:
        blocks.append(
            InputBlock(
                block_id=name,
                label=label,
                hint=hint,
                optional=True,
                element=PlainTextInputElement(action_id=name, multiline=multiline, max_length=TEXT_MAX_CHARS),
            )
        )
    blocks += [
        InputBlock(
            block_id="responder_ids",
            label="Who responded?",
            hint="They are invited to the private review channel.",
            element=UserMultiSelectElement(action_id="responder_ids", placeholder="Pick the responders"),
        ),
        InputBlock(
            block_id="facilitator_id",
            label="Who facilitates the review?",
            element=UserSelectElement(action_id="facilitator_id", initial_user=facilitator_id),
        ),
    ]
    view = View(type="modal", callback_id=CALLBACK_ID, title="Incident report", submit="Start post-mortem", close="Cancel", blocks=blocks)
    return view.to_dict()
