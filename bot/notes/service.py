"""Participants' notes: quick notes, structured notes, messages captured from the war room.

Every note is saved before anything is sent back, and carries a dedupe key so a delivery that
Slack repeats (a retried event, a double click, a resubmitted view) stores one note.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, String, bindparam, cast, func, literal, select, true, update
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from bot.indicators import extraction as indicators
from bot.indicators import sources as indicator_sources
from bot.postmortems import access
from models import AuditEntry, Note, NoteCategory, Postmortem, PostmortemStatus
from models.db import insert_doing_nothing_on_conflict, insert_if_absent

NOTE_MAX_CHARS = 3000
PAGE_SIZE = 5

# Unicode's Cc category (C0, DEL, C1) less tab and newline: one regex pass, not a lookup per character.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")

EMPTY = "Your note is empty. Write what you saw or did, then send it again."


class NoteRefused(Exception):
    """A note that cannot be stored; the message says why and what to do."""


@dataclass(frozen=True)
class NoteDraft:
    text: str
    category: NoteCategory = NoteCategory.OBSERVATION
    occurred_at: datetime | None = None
    source_author_id: str | None = None
    source_permalink: str | None = None


@dataclass(frozen=True)
class SavedNote:
    """What was stored, as written: building an ORM object for it costs more than the insert's own Python."""

    id: int
    text: str


@dataclass(frozen=True)
class NotesPage:
    notes: list[Note]
    page: int
    total: int

    @property
    def has_newer(self) -> bool:
        return self.page > 0

    @property
    def has_older(self) -> bool:
        return self.page + 1 < self.pages

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def clean(text: str) -> str:
    """Drop control characters (keeping newlines and tabs) and surrounding blanks."""
    return _CONTROL_CHARACTERS.sub("", text).strip()


def too_long(text: str) -> str | None:
    if len(text) > NOTE_MAX_CHARS:
        return f"Your note is {len(text):,} characters; the limit is {NOTE_MAX_CHARS:,}. Shorten it or split it into two notes."
    return None


def quick_note_key_suffix(*, author_id: str, text: str, now: datetime) -> str:
    """Slash commands carry no message id: the same text from the same person in the same minute is one
    note. The key is "command:<post-mortem id>" and this."""
    digest = hashlib.sha256(f"{author_id}\n{text}".encode()).hexdigest()[:32]
    return f":{digest}:{now:%Y%m%d%H%M}"


def _storable(text: str) -> str:
    """The text as stored, or NoteRefused saying what to change."""
    text = clean(text)
    if not text:
        raise NoteRefused(EMPTY)
    problem = too_long(text)
    if problem:
        raise NoteRefused(problem)
    return text


def _stored_first(executor: Session | Connection, *, dedupe_key: str) -> SavedNote:
    """The note a repeated delivery's first delivery stored (its commit came before this insert returned)."""
    first = executor.execute(select(Note.id, Note.text).where(Note.dedupe_key == dedupe_key)).one()
    return SavedNote(id=first.id, text=first.text)


def add(
    session: Session, *, postmortem: Postmortem, author_id: str, draft: NoteDraft, dedupe_key: str, now: datetime
) -> tuple[SavedNote, bool]:
    """Store a note; returns (note, created). A repeated delivery returns the note stored the first time."""
    access.require_open(session, postmortem, refusal=NoteRefused)
    text = _storable(draft.text)
    # The dedupe key decides in the database: a repeated delivery arriving at the same moment waits for
    # the first one's commit and then finds its note, instead of failing (and losing) anything.
    row = dict(
        postmortem_id=postmortem.id,
        author_id=author_id,
        category=draft.category,
        text=text,
        occurred_at=draft.occurred_at,
        source_author_id=draft.source_author_id,
        source_permalink=draft.source_permalink,
        dedupe_key=dedupe_key,
        created_at=now,
        updated_at=now,
    )
    note_id = insert_if_absent(session, Note, row)
    if note_id is None:
        return _stored_first(session, dedupe_key=dedupe_key), False
    indicators.record(session, postmortem_id=postmortem.id, text=text, now=now)
    return SavedNote(id=note_id, text=text), True


def add_in_channel(
    session: Session, *, channel_id: str, author_id: str, text: str, now: datetime
) -> tuple[access.LockedForChange, SavedNote, bool] | None:
    """`/postmortem note <text>` in a review channel, by an author known to take part (asked of Slack
    before the transaction): store it in that channel's post-mortem with the indicators it holds; returns
    (post-mortem, note, created), or None when no post-mortem has this review channel."""
    text = _storable(text)
    key_suffix = quick_note_key_suffix(author_id=author_id, text=text, now=now)
    insert = _insert_for(session.get_bind().dialect.name)
    found = insert(session, channel_id=channel_id, author_id=author_id, text=text, key_suffix=key_suffix, now=now)
    if found is None:
        return None
    postmortem, note_id = found
    saved, created = _outcome(session, postmortem, note_id=note_id, text=text, key_suffix=key_suffix)
    if created:
        indicators.record(session, postmortem_id=postmortem.id, text=text, now=now)
    return postmortem, saved, created


def fits_one_statement(text: str) -> bool:
    """Whether add_in_channel_at_once can store this note: a text in which no indicator can be (the
    note is then all there is to store)."""
    return not indicators.might_hold_indicators(clean(text))


def add_in_channel_at_once(
    connection: Connection, *, channel_id: str, author_id: str, text: str, now: datetime
) -> tuple[access.LockedForChange, SavedNote, bool] | None:
    """add_in_channel for a text that fits_one_statement, on a connection of single_statements: the one
    statement that finds, locks and inserts is the whole transaction, so a note costs one round trip
    instead of three (BEGIN, the statement, COMMIT). On SQLite the write lock is held for that statement alone, not across the Python between statements
    (where a thread may wait for the GIL while every other writer waits for it)."""
    text = _storable(text)
    key_suffix = quick_note_key_suffix(author_id=author_id, text=text, now=now)
    insert = _insert_for(connection.dialect.name)
    found = insert(connection, channel_id=channel_id, author_id=author_id, text=text, key_suffix=key_suffix, now=now)
    if found is None:
        return None
    postmortem, note_id = found
    saved, created = _outcome(connection, postmortem, note_id=note_id, text=text, key_suffix=key_suffix)
    return postmortem, saved, created


def _insert_in_channel(
    executor: Session | Connection, *, channel_id: str, author_id: str, text: str, key_suffix: str, now: datetime
) -> tuple[access.LockedForChange, int | None] | None:
    """PostgreSQL: one round trip finds the post-mortem, locks it and inserts the note unless it is closed."""
    found = executor.execute(_add_in_channel_statement(), {
        "channel_id": channel_id, "author_id": author_id, "category": NoteCategory.OBSERVATION, "text": text,
        "key_suffix": key_suffix, "now": now,
    }).one_or_none()
    if found is None:
        return None
    return access.LockedForChange(id=found.id, title=found.title, status=found.status), found.note_id


def _insert_in_open_channel_then_read(
    connection: Session | Connection, *, channel_id: str, author_id: str, text: str, key_suffix: str,
    now: datetime,
) -> tuple[access.LockedForChange, int | None] | None:
    """SQLite (one writer at a time, so the insert alone decides against a close): the note inserted if
    the channel's post-mortem is open, then what the answer needs read."""
    inserted = connection.execute(_insert_if_open_statement(), {
        "channel_id": channel_id, "author_id": author_id, "category": NoteCategory.OBSERVATION, "text": text,
        "key_suffix": key_suffix, "now": now,
    }).one_or_none()
    if inserted is None:  # no such post-mortem, closed, or stored before: the read says which
        postmortem = access.lock_in_channel(connection, channel_id=channel_id)
        return None if postmortem is None else (postmortem, None)
    title = connection.execute(select(access.POSTMORTEMS.c.title).where(
        access.POSTMORTEMS.c.id == inserted.postmortem_id)).scalar_one()
    return access.LockedForChange(id=inserted.postmortem_id, title=title, status=PostmortemStatus.OPEN), inserted.id


def _insert_for(dialect_name: str) -> Callable[..., tuple[access.LockedForChange, int | None] | None]:
    return _insert_in_channel if dialect_name == "postgresql" else _insert_in_open_channel_then_read


def _outcome(executor: Session | Connection, postmortem: access.LockedForChange, *, note_id: int | None, text: str,
             key_suffix: str) -> tuple[SavedNote, bool]:
    """(note, created) for a quick note's insert that returned `note_id` (None: closed, or stored before)."""
    if postmortem.status is PostmortemStatus.CLOSED:
        raise NoteRefused(access.CLOSED)
    if note_id is None:  # a repeated delivery
        return _stored_first(executor, dedupe_key=f"command:{postmortem.id}{key_suffix}"), False
    return SavedNote(id=note_id, text=text), True


def _note_values_from(postmortems: Any) -> Any:
    """SELECT of a quick note's columns for the post-mortem rows of `postmortems` that are not closed."""
    notes = Note.__table__
    return select(
        postmortems.c.id,
        bindparam("author_id", type_=notes.c.author_id.type),
        bindparam("category", type_=notes.c.category.type),
        bindparam("text", type_=notes.c.text.type),
        literal("command:") + cast(postmortems.c.id, String) + bindparam("key_suffix", type_=String),
        bindparam("now", type_=notes.c.created_at.type),
        bindparam("now", type_=notes.c.updated_at.type),
    ).where(postmortems.c.status != PostmortemStatus.CLOSED)


_NOTE_COLUMNS = ["postmortem_id", "author_id", "category", "text", "dedupe_key", "created_at", "updated_at"]


@cache
def _add_in_channel_statement() -> Any:
    """PostgreSQL: the review channel's post-mortem under require_open's shared row lock, and the note
    inserted (ON CONFLICT DO NOTHING) unless it is closed. A row per post-mortem found: its id, title
    and status, and the new note's id (NULL when closed or already stored). Built once, so its cache
    key is computed once."""
    notes = Note.__table__
    target = access.LOCK_IN_CHANNEL.cte("target")
    inserted = (
        insert_doing_nothing_on_conflict("postgresql", notes)
        .from_select(_NOTE_COLUMNS, _note_values_from(target))
        .returning(notes.c.id)
        .cte("inserted")
    )
    return select(target.c.id, target.c.title, target.c.status, inserted.c.id.label("note_id")).select_from(
        target.outerjoin(inserted, true()))


@cache
def _insert_if_open_statement() -> Any:
    """SQLite: INSERT ... SELECT from the channel's post-mortem unless closed, ON CONFLICT DO NOTHING,
    returning the note's id and post-mortem."""
    notes, postmortems = Note.__table__, access.POSTMORTEMS
    values = _note_values_from(postmortems).where(postmortems.c.channel_id == bindparam("channel_id"))
    return (insert_doing_nothing_on_conflict("sqlite", notes).from_select(_NOTE_COLUMNS, values)
            .returning(notes.c.id, notes.c.postmortem_id))


def edit(session: Session, *, note: Note, postmortem: Postmortem, user_id: str, draft: NoteDraft, now: datetime) -> None:
    if note.author_id != user_id:
        raise NoteRefused("You can edit only your own notes.")
    access.require_open(session, postmortem, refusal=NoteRefused)
    text = clean(draft.text)
    problem = too_long(text) or (None if text else "A note can't be empty. To remove it, use Delete instead.")
    if problem:
        raise NoteRefused(problem)
    session.add(AuditEntry(postmortem_id=postmortem.id, note_id=note.id, actor_id=user_id, action="note_edited",
                           detail=f"note {note.id} before: {note.text}", at=now))
    note.text, note.category, note.occurred_at, note.updated_at = text, draft.category, draft.occurred_at, now
    indicators.record(session, postmortem_id=postmortem.id, text=text, now=now)


def delete(session: Session, *, note: Note, postmortem: Postmortem, user_id: str, now: datetime) -> None:
    """Authors delete their own notes; the facilitator may delete any. Deleting purges: the text, the
    indicators no other field holds, and earlier wordings kept by edits all go; the audit keeps only
    who deleted which note and when."""
    if user_id not in {note.author_id, postmortem.facilitator_id}:
        raise NoteRefused("You can delete only your own notes.")
    access.require_open(session, postmortem, refusal=NoteRefused, exclusive=True)
    removed_text = note.text
    session.execute(
        update(AuditEntry)
        .where(AuditEntry.note_id == note.id, AuditEntry.action == "note_edited")
        .values(detail=f"note {note.id} edited; earlier text removed when the note was deleted")
        .execution_options(synchronize_session=False)
    )
    session.add(AuditEntry(postmortem_id=postmortem.id, note_id=note.id, actor_id=user_id, action="note_deleted",
                           detail=f"note {note.id} by {note.author_id}", at=now))
    session.execute(sql_delete(Note).where(Note.id == note.id))
    indicator_sources.release(session, postmortem_id=postmortem.id, removed_text=removed_text)


def page(session: Session, *, postmortem_id: int, page_number: int) -> NotesPage:
    total = session.scalar(select(func.count()).select_from(Note).where(Note.postmortem_id == postmortem_id)) or 0
    last_page = max(0, (total - 1) // PAGE_SIZE)
    page_number = min(max(page_number, 0), last_page)
    notes = session.scalars(
        select(Note)
        .where(Note.postmortem_id == postmortem_id)
        .order_by(Note.created_at.desc(), Note.id.desc())
        .offset(page_number * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return NotesPage(notes=list(notes), page=page_number, total=total)


def counts_by_author(session: Session, *, postmortem_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Note.author_id, func.count()).where(Note.postmortem_id == postmortem_id).group_by(Note.author_id)
    )
    return {author: count for author, count in rows.tuples()}
