"""Follow-up actions: the form, the owner's DM and its buttons, reminders, lists, and the Home tab."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DatePickerElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.actions.service import DESCRIPTION_MAX_CHARS, REASON_MAX_CHARS, TITLE_MAX_CHARS
from bot.notes.questionnaire_blocks import answer_button
from bot.slack import safe_text
from bot.slack.blocks import Message
from models import Action, ActionCategory, ActionPriority, Postmortem

FORM_CALLBACK = "action_form"
EXTEND_CALLBACK = "action_extend_form"
REASSIGN_CALLBACK = "action_reassign_form"
CANCEL_CALLBACK = "action_cancel_form"
DONE_ACTION = "action_done"
EXTEND_ACTION = "action_extend"
REASSIGN_ACTION = "action_reassign"
CANCEL_ACTION = "action_cancel"
LIST_MENU_ACTION = "action_list_menu"  # a listed action's menu: "done:<id>" or "cancel:<id>"
OPEN_POSTMORTEM_ACTION = "action_open_postmortem"
MAX_LISTED = 40  # keeps a list message well inside Slack's 50 blocks
HOME_TITLE_CHARS = 80  # twenty escaped titles fit one 3,000-character section
REASON_SHOWN = 1500  # of mrkdwn after escaping, leaving room for the title and names in one section
PRIORITY_LABELS = {ActionPriority.HIGH: "High", ActionPriority.MEDIUM: "Medium", ActionPriority.LOW: "Low"}
CATEGORY_LABELS = {
    ActionCategory.TRAINING: "Training",
    ActionCategory.POLICY: "Policy and communication",
    ActionCategory.AWARENESS: "Employee awareness",
    ActionCategory.AUTOMATION: "Process automation",
    ActionCategory.HARDENING: "Tooling and hardening",
    ActionCategory.OTHER: "Other",
}


def _options(labels: dict[Any, str]) -> list[Option]:
    return [Option(value=key.value, text=label) for key, label in labels.items()]


def form(*, postmortem_id: int | None, choices: list[Postmortem], title: str = "", today: date) -> dict[str, Any]:
    blocks: list[Any] = []
    if choices:
        blocks.append(InputBlock(block_id="postmortem_id", label="Which post-mortem?", element=StaticSelectElement(
            action_id="postmortem_id", placeholder="Pick one",
            options=[Option(value=str(p.id), text=safe_text.plain_text(p.title, limit=safe_text.OPTION_TEXT)) for p in choices])))
    priorities, categories = _options(PRIORITY_LABELS), _options(CATEGORY_LABELS)
    blocks += [
        InputBlock(block_id="title", label="What needs doing?", element=PlainTextInputElement(
            action_id="title", max_length=TITLE_MAX_CHARS, initial_value=safe_text.normalise(title)[:TITLE_MAX_CHARS] or None)),
        InputBlock(block_id="description", label="Details", optional=True, element=PlainTextInputElement(
            action_id="description", multiline=True, max_length=DESCRIPTION_MAX_CHARS)),
        InputBlock(block_id="owner_id", label="Owner", element=UserSelectElement(action_id="owner_id", placeholder="Who owns it?")),
        InputBlock(block_id="due_on", label="Due date", element=DatePickerElement(action_id="due_on", initial_date=today.isoformat())),
        InputBlock(block_id="priority", label="Priority", element=StaticSelectElement(
            action_id="priority", options=priorities, initial_option=priorities[1])),
        InputBlock(block_id="category", label="Kind of action", element=StaticSelectElement(
            action_id="category", options=categories, initial_option=categories[-1])),
    ]
    return View(type="modal", callback_id=FORM_CALLBACK, title="Follow-up action", submit="Assign", close="Cancel",
                private_metadata=str(postmortem_id or ""), blocks=blocks).to_dict()


def _line(action: Action, *, today: date) -> str:
    """`today` is the reader's date: an open action due before it is overdue."""
    overdue = action.status.value == "open" and action.due_on < today
    due = f"*overdue since {action.due_on.isoformat()}*" if overdue else f"due {action.due_on.isoformat()}"
    flag = ":red_circle: " if overdue else ""
    return f"{flag}*{safe_text.mrkdwn_line(action.title)}* — <@{action.owner_id}>, {due}, {PRIORITY_LABELS[action.priority].lower()} priority"


def owner_buttons(action: Action, channel_id: str | None) -> dict[str, Any]:
    value = str(action.id)
    buttons = [
        ButtonElement(text="Mark done", action_id=DONE_ACTION, value=value, style="primary"),
        ButtonElement(text="Extend due date", action_id=EXTEND_ACTION, value=value),
        ButtonElement(text="Reassign", action_id=REASSIGN_ACTION, value=value),
        ButtonElement(text="Cancel action", action_id=CANCEL_ACTION, value=value),
    ]
    if channel_id:
        buttons.append(ButtonElement(text="Open post-mortem", action_id=OPEN_POSTMORTEM_ACTION,
                                     url=f"https://slack.com/app_redirect?channel={channel_id}"))
    return ActionsBlock(block_id=f"action_{action.id}", elements=buttons).to_dict()


def assignment(action: Action, postmortem: Postmortem, *, assigned_by: str, today: date) -> Message:
    text = (f":pushpin: <@{assigned_by}> assigned you a follow-up from the post-mortem of *{safe_text.mrkdwn_line(postmortem.title)}*:\n"
            f"{_line(action, today=today)}")
    if action.description:
        text += "\n" + safe_text.mrkdwn(action.description, limit=safe_text.SECTION_TEXT - len(text) - 1)
    return Message(text=f"New follow-up: {safe_text.mrkdwn_line(action.title)}", blocks=[
        SectionBlock(text=MarkdownTextObject(text=text)).to_dict(), owner_buttons(action, postmortem.channel_id)])


def channel_notice(action: Action, *, today: date) -> Message:
    text = f":pushpin: New follow-up: {_line(action, today=today)}"
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def reminder(action: Action, postmortem: Postmortem, *, kind: str) -> Message:
    lead = {
        "action_before": f":hourglass: Coming up: due {action.due_on.isoformat()}.",
        "action_due": ":hourglass: Due today.",
        "action_overdue": ":red_circle: Overdue. If the date no longer works, extend it or reassign it.",
    }[kind]
    # The kind says where the owner stands: only an overdue reminder comes after the due date.
    as_of = action.due_on + timedelta(days=1) if kind == "action_overdue" else action.due_on
    text = f"{lead}\n{_line(action, today=as_of)}\nFrom the post-mortem of *{safe_text.mrkdwn_line(postmortem.title)}*."
    return Message(text=f"Follow-up reminder: {safe_text.mrkdwn_line(action.title)}", blocks=[
        SectionBlock(text=MarkdownTextObject(text=text)).to_dict(), owner_buttons(action, postmortem.channel_id)])


def escalation(action: Action, postmortem: Postmortem) -> Message:
    text = (f":rotating_light: Overdue follow-up from the post-mortem of *{safe_text.mrkdwn_line(postmortem.title)}*:\n"
            f"{_line(action, today=action.due_on + timedelta(days=1))}\nThe owner has been reminded; maybe it needs help, a new date or a new owner.")
    return Message(text=f"Overdue follow-up: {safe_text.mrkdwn_line(action.title)}", blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def listing(actions: list[Action], *, heading: str, today: date, viewer_id: str, facilitator_ids: dict[int, str]) -> Message:
    """`heading` is mrkdwn already passed through `safe_text`."""
    if not actions:
        return Message(text=f"{heading}: none. :tada:")
    blocks: list[dict[str, Any]] = [SectionBlock(text=MarkdownTextObject(text=f"*{heading}*")).to_dict()]
    for action in actions[:MAX_LISTED]:
        # The number is what `/postmortem action cancel <number>` takes.
        status = ("" if action.status.value == "open" else f" ({action.status.value})") + f" · #{action.id}"
        section = SectionBlock(text=MarkdownTextObject(text=_line(action, today=today) + status)).to_dict()
        if action.status.value == "open" and viewer_id in {action.owner_id, facilitator_ids.get(action.postmortem_id)}:
            section["accessory"] = OverflowMenuElement(action_id=LIST_MENU_ACTION, options=[
                Option(label="Mark done", value=f"done:{action.id}"),
                Option(label="Cancel action", value=f"cancel:{action.id}"),
            ]).to_dict()
        blocks.append(section)
    if len(actions) > MAX_LISTED:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=f"…and {len(actions) - MAX_LISTED} more; the App Home tab and the report list them all.")]).to_dict())
    return Message(text=heading, blocks=blocks)


def extend_form(action: Action) -> dict[str, Any]:
    return View(type="modal", callback_id=EXTEND_CALLBACK, title="Extend due date", submit="Extend", close="Cancel",
                private_metadata=f"{action.id}:{action.version}", blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f"*{safe_text.mrkdwn_line(action.title)}*, due {action.due_on.isoformat()}")),
                    InputBlock(block_id="due_on", label="New due date", element=DatePickerElement(
                        action_id="due_on", initial_date=action.due_on.isoformat())),
                    InputBlock(block_id="reason", label="Why?", element=PlainTextInputElement(action_id="reason", max_length=500)),
                ]).to_dict()


def reassign_form(action: Action) -> dict[str, Any]:
    return View(type="modal", callback_id=REASSIGN_CALLBACK, title="Reassign", submit="Reassign", close="Cancel",
                private_metadata=f"{action.id}:{action.version}", blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f"*{safe_text.mrkdwn_line(action.title)}*, owned by <@{action.owner_id}>")),
                    InputBlock(block_id="owner_id", label="New owner", element=UserSelectElement(action_id="owner_id")),
                    InputBlock(block_id="reason", label="Why?", element=PlainTextInputElement(action_id="reason", max_length=500)),
                ]).to_dict()


def cancel_form(action: Action) -> dict[str, Any]:
    return View(type="modal", callback_id=CANCEL_CALLBACK, title="Cancel action", submit="Cancel action", close="Keep it",
                private_metadata=str(action.id), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f"*{safe_text.mrkdwn_line(action.title)}*, owned by <@{action.owner_id}>")),
                    InputBlock(block_id="reason", label="Why cancel it?", element=PlainTextInputElement(
                        action_id="reason", max_length=REASON_MAX_CHARS)),
                ]).to_dict()


def cancelled_notice(action: Action, *, cancelled_by: str, reason: str) -> Message:
    """One line for the review channel."""
    text = (f":no_entry_sign: Cancelled follow-up: *{safe_text.mrkdwn_line(action.title)}* (owner <@{action.owner_id}>), "
            f"by <@{cancelled_by}>: {safe_text.mrkdwn(reason, limit=REASON_SHOWN)}")
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def home(*, actions: list[Action], unanswered: list[Postmortem], postmortems: list[Postmortem], today: date,
         channels: dict[int, str | None]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [HeaderBlock(text="Your follow-ups").to_dict()]
    if not actions:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nothing open. :tada:")).to_dict())
    for action in actions[:MAX_LISTED // 2]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_line(action, today=today))).to_dict())
        blocks.append(owner_buttons(action, channels.get(action.postmortem_id)))
    blocks.append(DividerBlock().to_dict())
    blocks.append(HeaderBlock(text="Review questions waiting for you").to_dict())
    if not unanswered:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="None waiting.")).to_dict())
    for postmortem in unanswered[:10]:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*{safe_text.mrkdwn_line(postmortem.title)}*")).to_dict())
        blocks.append(answer_button(postmortem.id))
    blocks.append(DividerBlock().to_dict())
    blocks.append(HeaderBlock(text="Post-mortems you take part in").to_dict())
    lines = "\n".join(
        f"• *{safe_text.mrkdwn_line(p.title, limit=HOME_TITLE_CHARS)}* — {p.status.value}" + (f", <#{p.channel_id}>" if p.channel_id else "") for p in postmortems[:20]
    ) or "None yet."
    blocks.append(SectionBlock(text=MarkdownTextObject(text=lines)).to_dict())
    return {"type": "home", "blocks": blocks[:100]}
