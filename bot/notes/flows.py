"""What happens when someone adds, lists, edits or deletes notes: each function returns what to show them."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session

from bot.notes import blocks as note_blocks
from bot.notes import questionnaire
from bot.notes import service as notes
from bot.notes.blocks import CapturedMessage
from bot.postmortems import access
from bot.runtime import Runtime
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed
from models import Note, NoteCategory, Postmortem, PostmortemStatus
from models.db import single_statements, transaction

log = logging.getLogger(__name__)

NO_OPEN_POSTMORTEM = "You don't take part in any open post-mortem, so there is nowhere to add this note."
NOTE_GONE = "That note no longer exists; it may have been deleted."
ONLY_FACILITATOR = "Only the facilitator of this post-mortem can see its participation status."


def _text(message: str) -> Message:
    return Message(text=message)


@dataclass(frozen=True)
class FormInput:
    """A submitted note modal, as parsed by the handler."""

    view_id: str
    metadata: dict[str, Any]
    chosen_postmortem_id: int | None
    category: NoteCategory
    occurred_at: datetime | None
    text: str


def quick(runtime: Runtime, *, channel_id: str, user_id: str, text: str) -> Message:
    """`/postmortem note <text>` in a review channel."""
    # Slack is asked who is in the channel before the note is written, never while the database is held
    # (SQLite's one write lock, the post-mortem's row lock): a slow Slack then slows this note alone.
    members = runtime.slack.remembered_channel_members(channel=channel_id)
    if members is None:
        with single_statements(runtime.engine) as connection:
            if not access.is_review_channel(connection, channel_id=channel_id):
                return _text(access.NOT_FOUND)
        members = runtime.slack.channel_members(channel=channel_id)
    if user_id not in members:
        return _text(access.NOT_FOUND)
    try:
        if notes.fits_one_statement(text):
            with single_statements(runtime.engine) as connection:
                added = notes.add_in_channel_at_once(connection, channel_id=channel_id, author_id=user_id, text=text,
                                                     now=runtime.clock.now())
        else:
            with transaction(runtime.sessions) as session:
                added = notes.add_in_channel(session, channel_id=channel_id, author_id=user_id, text=text,
                                             now=runtime.clock.now())
    except notes.NoteRefused as refusal:
        return _text(str(refusal))
    if added is None:
        return _text(access.NOT_FOUND)
    postmortem, note, created = added
    outcome = "added" if created else "already"
    return _text(note_blocks.note_saved(note_text=note.text, outcome=outcome, postmortem_title=postmortem.title))


def new_form(
    runtime: Runtime, *, channel_id: str, user_id: str, postmortem_id: int | None = None,
    capture: CapturedMessage | None = None,
) -> dict[str, Any] | Message:
    """The note modal; outside a review channel it first asks which post-mortem."""
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id,
                           their_open_postmortems=True)
    with transaction(runtime.sessions) as session:
        postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
        choices = [] if postmortem else access.open_postmortems_of(session, runtime, user_id=user_id)
        if postmortem is None and not choices:
            return _text(NO_OPEN_POSTMORTEM if capture else access.NOT_FOUND)
        if postmortem is not None and postmortem.status is PostmortemStatus.CLOSED:
            return _text(access.CLOSED)
        metadata: dict[str, Any] = {"postmortem_id": postmortem.id if postmortem else None}
    if capture is None:
        return note_blocks.note_form(choices=choices, metadata=metadata)
    # The link is fetched now, after the shortcut's ack, so that saving needs nothing from Slack.
    metadata["capture"] = {"channel": capture.channel_id, "ts": capture.ts, "author": capture.author_id,
                           "permalink": _permalink(runtime, capture.channel_id, capture.ts)}
    return note_blocks.note_form(
        choices=choices,
        metadata=metadata,
        category=NoteCategory.TIMELINE,
        occurred_at=datetime.fromtimestamp(float(capture.ts), tz=timezone.utc),
        text=capture.text,
        source_author_id=capture.author_id,
    )


def submit_new(runtime: Runtime, *, user_id: str, form: FormInput) -> dict[str, str] | str:
    """Save a note from the modal. Returns inline errors (block id -> text) or the confirmation text."""
    capture = form.metadata.get("capture")
    postmortem_id = form.metadata.get("postmortem_id") or form.chosen_postmortem_id
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=int(postmortem_id or 0))
    with transaction(runtime.sessions) as session:
        postmortem = access.by_id(session, runtime, postmortem_id=int(postmortem_id or 0), user_id=user_id)
        if postmortem is None:
            return {"postmortem_id" if form.chosen_postmortem_id else "text": access.NOT_FOUND}
        # A captured message is one note per post-mortem, however often it is captured.
        key = f"capture:{postmortem.id}:{capture['channel']}:{capture['ts']}" if capture else f"view:{form.view_id}"
        draft = notes.NoteDraft(
            text=form.text,
            category=form.category,
            occurred_at=form.occurred_at,
            source_author_id=capture.get("author") if capture else None,
            source_permalink=capture.get("permalink") if capture else None,
        )
        try:
            note, created = notes.add(session, postmortem=postmortem, author_id=user_id, draft=draft, dedupe_key=key,
                                      now=runtime.clock.now())
        except notes.NoteRefused as refusal:
            return {"text": str(refusal)}
        outcome = "added" if created else "already"
        return note_blocks.note_saved(note_text=note.text, outcome=outcome, postmortem_title=postmortem.title)


def _permalink(runtime: Runtime, channel_id: str, ts: str) -> str | None:
    try:
        return runtime.slack.permalink(channel=channel_id, ts=ts)
    except SlackCallFailed as failure:
        # The note matters more than its link: keep it without one.
        log.warning("no permalink for a captured message: %s", failure)
        return None


def listing(runtime: Runtime, *, user_id: str, channel_id: str | None = None, postmortem_id: int | None = None,
            page_number: int = 0) -> Message:
    """A page of notes, newest first, for a participant."""
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id or "", postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id or "", postmortem_id=postmortem_id)
        if postmortem is None:
            return _text(access.NOT_FOUND)
        notes_page = notes.page(session, postmortem_id=postmortem.id, page_number=page_number)
        return note_blocks.notes_list(postmortem=postmortem, notes_page=notes_page, viewer_id=user_id)


def edit_form(runtime: Runtime, *, user_id: str, note_id: int) -> dict[str, Any] | Message:
    access.ask_slack_first(runtime, user_id=user_id, note_id=note_id)
    with transaction(runtime.sessions) as session:
        found = _note_for(session, runtime, user_id=user_id, note_id=note_id)
        if isinstance(found, Message):
            return found
        note, postmortem = found
        if note.author_id != user_id:
            return _text("You can edit only your own notes.")
        if postmortem.status is PostmortemStatus.CLOSED:
            return _text(access.CLOSED)
        return note_blocks.note_form(
            choices=[], metadata={"note_id": note.id}, category=note.category, occurred_at=note.occurred_at,
            text=note.text, editing=True,
        )


@dataclass(frozen=True)
class ActionSeed:
    """What a follow-up action made from a note starts with."""

    postmortem_id: int
    title: str


def action_seed(runtime: Runtime, *, user_id: str, note_id: int) -> ActionSeed | Message:
    """The post-mortem and title for "Make action item" (handlers compose it with the actions form)."""
    access.ask_slack_first(runtime, user_id=user_id, note_id=note_id)
    with transaction(runtime.sessions) as session:
        found = _note_for(session, runtime, user_id=user_id, note_id=note_id)
        if isinstance(found, Message):
            return found
        note, postmortem = found
        return ActionSeed(postmortem_id=postmortem.id, title=note.text.splitlines()[0])


def submit_edit(runtime: Runtime, *, user_id: str, form: FormInput) -> dict[str, str] | str:
    access.ask_slack_first(runtime, user_id=user_id, note_id=int(form.metadata["note_id"]))
    with transaction(runtime.sessions) as session:
        found = _note_for(session, runtime, user_id=user_id, note_id=int(form.metadata["note_id"]))
        if isinstance(found, Message):
            return {"text": found.text}
        note, postmortem = found
        draft = notes.NoteDraft(text=form.text, category=form.category, occurred_at=form.occurred_at)
        try:
            notes.edit(session, note=note, postmortem=postmortem, user_id=user_id, draft=draft, now=runtime.clock.now())
        except notes.NoteRefused as refusal:
            return {"text": str(refusal)}
        return note_blocks.note_saved(note_text=note.text, outcome="updated", postmortem_title=postmortem.title)


def delete(runtime: Runtime, *, user_id: str, note_id: int) -> Message:
    """Delete a note, then show the list again."""
    access.ask_slack_first(runtime, user_id=user_id, note_id=note_id)
    with transaction(runtime.sessions) as session:
        found = _note_for(session, runtime, user_id=user_id, note_id=note_id)
        if isinstance(found, Message):
            return found
        note, postmortem = found
        try:
            notes.delete(session, note=note, postmortem=postmortem, user_id=user_id, now=runtime.clock.now())
        except notes.NoteRefused as refusal:
            return _text(str(refusal))
        postmortem_id = postmortem.id
    return listing(runtime, user_id=user_id, postmortem_id=postmortem_id)


def status(runtime: Runtime, *, channel_id: str, user_id: str) -> Message:
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.in_channel(session, runtime, channel_id=channel_id, user_id=user_id)
        if postmortem is None:
            return _text(access.NOT_FOUND)
        if postmortem.facilitator_id != user_id:
            return _text(ONLY_FACILITATOR)
        return note_blocks.status(
            postmortem=postmortem,
            answered=questionnaire.respondents(session, postmortem_id=postmortem.id),
            note_counts=notes.counts_by_author(session, postmortem_id=postmortem.id),
        )


def _note_for(session: Session, runtime: Runtime, *, user_id: str, note_id: int) -> tuple[Note, Postmortem] | Message:
    note = session.get(Note, note_id)
    if note is None:
        return _text(NOTE_GONE)
    postmortem = access.by_id(session, runtime, postmortem_id=note.postmortem_id, user_id=user_id)
    if postmortem is None:
        return _text(access.NOT_FOUND)
    return note, postmortem


def decode_metadata(private_metadata: str) -> dict[str, Any]:
    return json.loads(private_metadata or "{}")
