"""Monitoring's messages and form: a sighting with its verdict buttons, a check-in, the "Something's back" form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.indicators.extraction import defanged
from bot.monitoring.service import Window
from bot.slack import safe_text
from bot.slack.blocks import Message, slack_date

RECURRENCE_ACTION = "monitor_recurrence"
NOT_RELATED_ACTION = "monitor_not_related"
ALL_QUIET_ACTION = "checkin_all_quiet"
SOMETHING_BACK_ACTION = "checkin_something_back"
SOMETHING_BACK_CALLBACK = "checkin_something_back_form"
WINDOW_CHOICE_ACTION = "monitor_window_choice"
WINDOW_CHOICES = (("30d", "Watch for 30 days from now"), ("60d", "Watch for 60 days from now"),
                  ("90d", "Watch for 90 days from now"), ("off", "Stop monitoring"))
DETAILS_MAX_CHARS = 2000


def sighting(*, title: str, kind: str, value: str, channel_id: str, permalink: str | None, seen_at: datetime,
             sighting_id: int) -> Message:
    alert = f"<{permalink}|this alert>" if permalink else "an alert (since deleted)"
    text = (f":rotating_light: An indicator of *{safe_text.mrkdwn_line(title)}* showed up again: "
            f"{safe_text.mrkdwn_line(kind)} `{safe_text.mrkdwn_line(defanged(kind, value), limit=500)}` in {alert} in <#{channel_id}>, "
            f"{slack_date(seen_at)}. Is the attacker back?")
    buttons = ActionsBlock(elements=[
        ButtonElement(text="Recurrence: reopen", action_id=RECURRENCE_ACTION, value=str(sighting_id), style="danger"),
        ButtonElement(text="Not related", action_id=NOT_RELATED_ACTION, value=str(sighting_id)),
    ])
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict(), buttons.to_dict()])


def checkin(*, title: str, reminder_id: int) -> Message:
    text = f"Any signs of *{safe_text.mrkdwn_line(title)}* coming back?"
    buttons = ActionsBlock(elements=[
        ButtonElement(text="All quiet", action_id=ALL_QUIET_ACTION, value=str(reminder_id), style="primary"),
        ButtonElement(text="Something's back", action_id=SOMETHING_BACK_ACTION, value=str(reminder_id)),
    ])
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict(), buttons.to_dict()])


def something_back_form(*, title: str, reminder_id: int) -> dict[str, Any]:
    return View(
        type="modal",
        callback_id=SOMETHING_BACK_CALLBACK,
        title="Something's back",
        submit="Save",
        close="Cancel",
        private_metadata=str(reminder_id),
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=f"What did you see of *{safe_text.mrkdwn_line(title)}*?")),
            InputBlock(block_id="details", label="What you saw, where and when", optional=True,
                       element=PlainTextInputElement(action_id="details", multiline=True, max_length=DETAILS_MAX_CHARS)),
        ],
    ).to_dict()


def window_choice(postmortem_id: int) -> dict[str, Any]:
    """For the report draft: the facilitator changes or stops the monitoring window there too."""
    return StaticSelectElement(
        action_id=WINDOW_CHOICE_ACTION, placeholder="Monitoring…",
        options=[Option(value=f"{postmortem_id}:{word}", text=label) for word, label in WINDOW_CHOICES],
    ).to_dict()


def window_line(window: Window, *, now: datetime) -> str:
    if window.stopped_by:
        return f"Monitoring was stopped by <@{window.stopped_by}> {slack_date(window.ends_at)}."
    if window.covers(now):
        return f"Alert channels are watched for this post-mortem's indicators until {slack_date(window.ends_at)}."
    return f"Monitoring ended {slack_date(window.ends_at)}."
