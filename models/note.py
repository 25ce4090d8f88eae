"""What participants contribute: notes (typed, or captured from a message), answers, indicators, audit trail."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.postmortem import str_enum


class NoteCategory(enum.StrEnum):
    TIMELINE = "timeline"
    OBSERVATION = "observation"
    WENT_WELL = "went_well"
    WENT_WRONG = "went_wrong"
    EVIDENCE = "evidence"
    LESSON = "lesson"
    OPEN_QUESTION = "open_question"


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[NoteCategory] = mapped_column(str_enum(NoteCategory))
    text: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime | None]  # when the event happened, for the timeline
    source_author_id: Mapped[str | None] = mapped_column(String(32))  # who wrote a captured message
    source_permalink: Mapped[str | None] = mapped_column(Text)
    # Stable per delivery (view id, message ts, command hash): a redelivery finds the note already there.
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Answer(Base):
    """One participant's answer to one review question."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("postmortem_id", "user_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    question_key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class Indicator(Base):
    """An indicator of compromise found in a note or answer, stored fanged; always shown defanged."""

    __tablename__ = "indicators"
    __table_args__ = (UniqueConstraint("postmortem_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]


class AuditEntry(Base):
    """Who did what to whose contribution, and when (deletions and edits of notes). A deleted note's
    entries keep no words of it."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    # No foreign key: the entry outlives the note it is about.
    note_id: Mapped[int | None] = mapped_column(index=True)
    actor_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
