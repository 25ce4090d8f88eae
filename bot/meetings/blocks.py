"""Meeting modal, announcement, invitation DM and reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DateTimePickerElement,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.meetings.service import AGENDA_MAX_CHARS, LOCATION_MAX_CHARS, MAX_DURATION_MINUTES
from bot.notes.questionnaire_blocks import answer_button
from bot.slack import safe_text
from bot.slack.blocks import Message, slack_date
from bot.working_time import SlotSuggestion
from models import Meeting, MeetingStatus, Postmortem

CALLBACK_ID = "meeting_form"
RESCHEDULE_ACTION = "meeting_reschedule"
CANCEL_ACTION = "meeting_cancel"
# Even a video link is shown defanged: the invite in the channel carries it for calendars.
LOCATION_SHOWN = 600
CONFIDENTIAL = ":lock: Documents shared in this meeting are confidential: don't forward them."


def loading() -> dict[str, Any]:
    return View(
        type="modal",
        title="Review meeting",
        close="Cancel",
        blocks=[SectionBlock(text=MarkdownTextObject(text=":hourglass_flowing_sand: Finding a time that suits everyone's time zone…"))],
    ).to_dict()


def form(
    *,
    postmortem: Postmortem,
    suggestion: SlotSuggestion,
    starts_at: datetime,
    duration_minutes: int,
    location: str,
    agenda: str,
    rescheduling: bool,
) -> dict[str, Any]:
    total = len(suggestion.fits) + len(suggestion.outside)
    advice = f"Suggested: {slack_date(suggestion.starts_at)}, inside working hours for {len(suggestion.fits)} of {total} participants."
    if suggestion.outside:
        advice += " Outside their working hours then: " + ", ".join(f"<@{u}>" for u in suggestion.outside) + "."
    blocks: list[Any] = [
        ContextBlock(elements=[MarkdownTextObject(text=advice)]),
        InputBlock(
            block_id="starts_at",
            label="Start",
            element=DateTimePickerElement(action_id="starts_at", initial_date_time=int(starts_at.timestamp())),
        ),
        InputBlock(
            block_id="duration",
            label="Length in minutes",
            element=NumberInputElement(
                action_id="duration", is_decimal_allowed=False, initial_value=str(duration_minutes),
                min_value="1", max_value=str(MAX_DURATION_MINUTES),
            ),
        ),
        InputBlock(
            block_id="location",
            label="Where",
            hint="A room or a video link.",
            optional=True,
            element=PlainTextInputElement(action_id="location", max_length=LOCATION_MAX_CHARS, initial_value=location or None),
        ),
        InputBlock(
            block_id="agenda",
            label="Agenda",
            element=PlainTextInputElement(action_id="agenda", multiline=True, max_length=AGENDA_MAX_CHARS, initial_value=agenda),
        ),
        ContextBlock(elements=[MarkdownTextObject(text=CONFIDENTIAL)]),
    ]
    return View(
        type="modal",
        callback_id=CALLBACK_ID,
        title="Reschedule meeting" if rescheduling else "Review meeting",
        submit="Reschedule" if rescheduling else "Schedule",
        close="Cancel",
        private_metadata=str(postmortem.id),
        blocks=blocks,
    ).to_dict()


def _when(meeting: Meeting) -> str:
    return f"{slack_date(meeting.starts_at)} ({meeting.duration_minutes} min)"


def announcement(meeting: Meeting, postmortem: Postmortem) -> Message:
    if meeting.status is MeetingStatus.CANCELLED:
        text = f"The post-mortem review meeting for *{safe_text.mrkdwn_line(postmortem.title)}* is cancelled."
        return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=f":no_entry_sign: {text}")).to_dict()])
    details = f"*When:* {_when(meeting)}\n*Where:* {safe_text.mrkdwn_line(meeting.location, limit=LOCATION_SHOWN) or 'not set yet'}"
    agenda_heading = "*Agenda*\n"
    blocks = [
        HeaderBlock(text="Post-mortem review meeting"),
        SectionBlock(text=MarkdownTextObject(text=details)),
        SectionBlock(text=MarkdownTextObject(
            text=agenda_heading + safe_text.mrkdwn(meeting.agenda, limit=safe_text.SECTION_TEXT - len(agenda_heading)))),
        ContextBlock(elements=[MarkdownTextObject(text="Bring your notes and timelines. " + CONFIDENTIAL)]),
        ActionsBlock(elements=[
            ButtonElement(text="Reschedule", action_id=RESCHEDULE_ACTION, value=str(postmortem.id)),
            ButtonElement(text="Cancel meeting", action_id=CANCEL_ACTION, value=str(postmortem.id), style="danger",
                          confirm={"title": {"type": "plain_text", "text": "Cancel the meeting?"},
                                   "text": {"type": "plain_text", "text": "Everyone gets a cancellation."},
                                   "confirm": {"type": "plain_text", "text": "Cancel it"},
                                   "deny": {"type": "plain_text", "text": "Keep it"}}),
        ]),
    ]
    return Message(text=f"Post-mortem review meeting: {_fallback(meeting)}", blocks=[b.to_dict() for b in blocks])


def _fallback(meeting: Meeting) -> str:
    return meeting.starts_at.strftime("%Y-%m-%d %H:%M UTC")


def change_notice(meeting: Meeting, postmortem: Postmortem, *, rescheduled: bool) -> Message:
    title = safe_text.mrkdwn_line(postmortem.title)
    if meeting.status is MeetingStatus.CANCELLED:
        text = f"The post-mortem review of *{title}* is cancelled. A cancellation for your calendar is in the review channel."
    elif rescheduled:
        text = (f"The post-mortem review of *{title}* moved to {_when(meeting)}. "
                "The updated invite is in the review channel. Please bring your notes and timelines. " + CONFIDENTIAL)
    else:
        text = (f"You're invited to the post-mortem review of *{title}*: {_when(meeting)}, "
                f"{safe_text.mrkdwn_line(meeting.location, limit=LOCATION_SHOWN) or 'place to be announced'}. The calendar invite is in the review channel. "
                "Please bring your notes and timelines. " + CONFIDENTIAL)
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def channel_reminder(meeting: Meeting) -> Message:
    text = (f":alarm_clock: Reminder: the post-mortem review meeting starts {slack_date(meeting.starts_at)}. "
            "Bring your notes and timelines. " + CONFIDENTIAL)
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def questionnaire_nudge(meeting: Meeting, postmortem: Postmortem) -> Message:
    text = (f":alarm_clock: The post-mortem review of *{safe_text.mrkdwn_line(postmortem.title)}* starts {slack_date(meeting.starts_at)}. "
            "You haven't answered the review questions yet; it takes about ten minutes and makes the meeting shorter.")
    return Message(text=text, blocks=[
        SectionBlock(text=MarkdownTextObject(text=text)).to_dict(),
        answer_button(postmortem.id),
    ])
