"""Note modal, notes list, and participation status."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DateTimePickerElement,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.notes.service import NOTE_MAX_CHARS, NotesPage
from bot.slack import safe_text
from bot.slack.blocks import Message, line_sections, slack_date
from models import Note, NoteCategory, Postmortem

NEW_NOTE_CALLBACK = "note_form"
EDIT_NOTE_CALLBACK = "note_edit"
PAGE_ACTION = "notes_page"
MENU_ACTION = "note_menu"
PREVIEW_CHARS = 600  # of mrkdwn, counted after escaping (`&` is five)

CATEGORY_LABELS = {
    NoteCategory.TIMELINE: "Timeline event",
    NoteCategory.OBSERVATION: "Observation",
    NoteCategory.WENT_WELL: "What went well",
    NoteCategory.WENT_WRONG: "What went wrong",
    NoteCategory.EVIDENCE: "Evidence",
    NoteCategory.LESSON: "Lesson learned",
    NoteCategory.OPEN_QUESTION: "Open question",
}


@dataclass(frozen=True)
class CapturedMessage:
    channel_id: str
    ts: str
    author_id: str | None
    text: str


def note_form(
    *,
    choices: list[Postmortem],
    metadata: dict[str, Any],
    category: NoteCategory = NoteCategory.OBSERVATION,
    occurred_at: datetime | None = None,
    text: str = "",
    source_author_id: str | None = None,
    editing: bool = False,
) -> dict[str, Any]:
    """The note modal. `choices` non-empty means "ask which post-mortem first"."""
    blocks: list[Any] = []
    if choices:
        blocks.append(
            InputBlock(
                block_id="postmortem_id",
                label="Which post-mortem?",
                element=StaticSelectElement(
                    action_id="postmortem_id",
                    placeholder="Pick one",
                    options=[Option(value=str(p.id), text=safe_text.plain_text(p.title, limit=safe_text.OPTION_TEXT)) for p in choices],
                ),
            )
        )
    category_options = [Option(value=c.value, text=label) for c, label in CATEGORY_LABELS.items()]
    blocks += [
        InputBlock(
            block_id="category",
            label="Kind of note",
            element=StaticSelectElement(
                action_id="category",
                options=category_options,
                initial_option=next(o for o in category_options if o.value == category.value),
            ),
        ),
        InputBlock(
            block_id="occurred_at",
            label="When did it happen?",
            hint="For timeline events. Leave empty if it doesn't apply.",
            optional=True,
            element=DateTimePickerElement(
                action_id="occurred_at", initial_date_time=int(occurred_at.timestamp()) if occurred_at else None
            ),
        ),
        InputBlock(
            block_id="text",
            label="Note",
            element=PlainTextInputElement(
                action_id="text", multiline=True, max_length=NOTE_MAX_CHARS, initial_value=safe_text.normalise(text)[:NOTE_MAX_CHARS] or None
            ),
        ),
    ]
    context = [":lock: Notes are confidential to the review team. Links and addresses are shown defanged."]
    if source_author_id:
        context.insert(0, f"From a message by <@{source_author_id}>; a link to it is kept with the note.")
    if len(text) > NOTE_MAX_CHARS:
        context.insert(0, f"The message was longer than {NOTE_MAX_CHARS:,} characters; the rest is in the linked message.")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=line) for line in context]))
    view = View(
        type="modal",
        callback_id=EDIT_NOTE_CALLBACK if editing else NEW_NOTE_CALLBACK,
        title="Edit note" if editing else "Add a note",
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps(metadata),
        blocks=blocks,
    )
    return view.to_dict()


def notes_list(*, postmortem: Postmortem, notes_page: NotesPage, viewer_id: str) -> Message:
    heading = (
        f"*Notes for {safe_text.mrkdwn_line(postmortem.title)}* — {notes_page.total} in all, newest first "
        f"(page {notes_page.page + 1} of {notes_page.pages})"
        if notes_page.total
        else f"*Notes for {safe_text.mrkdwn_line(postmortem.title)}*: none yet. Add one with `/postmortem note &lt;text&gt;`."
    )
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(text=heading))]
    for note in notes_page.notes:
        blocks.append(_note_section(note, postmortem=postmortem, viewer_id=viewer_id))
        if note.source_permalink:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"<{note.source_permalink}|Original message>")]))
    buttons = []
    if notes_page.has_newer:
        buttons.append(ButtonElement(text="Newer", action_id=f"{PAGE_ACTION}_newer", value=f"{postmortem.id}:{notes_page.page - 1}"))
    if notes_page.has_older:
        buttons.append(ButtonElement(text="Older", action_id=f"{PAGE_ACTION}_older", value=f"{postmortem.id}:{notes_page.page + 1}"))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return Message(text=f"Notes for {safe_text.mrkdwn_line(postmortem.title)}", blocks=[b.to_dict() for b in blocks])


def _note_section(note: Note, *, postmortem: Postmortem, viewer_id: str) -> SectionBlock:
    when = f" · happened {slack_date(note.occurred_at)}" if note.occurred_at else ""
    heading = f"*{CATEGORY_LABELS[note.category]}* · <@{note.author_id}> · {slack_date(note.created_at)}{when}\n"
    text = heading + safe_text.mrkdwn(note.text, limit=min(PREVIEW_CHARS, safe_text.SECTION_TEXT - len(heading)), marker=safe_text.SHORTENED)
    options = []
    if note.author_id == viewer_id:
        options.append(Option(text="Edit", value=f"edit:{note.id}"))
    if viewer_id in {note.author_id, postmortem.facilitator_id}:
        options.append(Option(text="Delete", value=f"delete:{note.id}"))
    options.append(Option(text="Make action item", value=f"action:{note.id}"))
    return SectionBlock(text=MarkdownTextObject(text=text), accessory=OverflowMenuElement(action_id=MENU_ACTION, options=options))


def note_saved(*, note_text: str, outcome: str, postmortem_title: str) -> str:
    """`outcome` is "added", "already" (a repeated delivery) or "updated"."""
    verb = {"added": "Added to", "already": "Already in", "updated": "Updated in"}[outcome]
    return (f":memo: {verb} *{safe_text.mrkdwn_line(postmortem_title)}*: "
            f"{safe_text.mrkdwn(note_text, limit=PREVIEW_CHARS, marker=safe_text.SHORTENED)}")


def status(*, postmortem: Postmortem, answered: set[str], note_counts: dict[str, int]) -> Message:
    lines = [
        f"• <@{user_id}> — {'answered the review questions :white_check_mark:' if user_id in answered else 'review questions not answered yet'}"
        f" — {note_counts.get(user_id, 0)} note{'s' if note_counts.get(user_id, 0) != 1 else ''}"
        for user_id in dict.fromkeys(postmortem.member_ids + sorted(note_counts))
    ]
    text = f"*Participation in {safe_text.mrkdwn_line(postmortem.title)}*\n" + "\n".join(lines)
    # One line per person: a large response team passes one section's 3,000 characters.
    return Message(text=text, blocks=line_sections(text))

