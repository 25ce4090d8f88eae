"""The response-evaluation questionnaire: the questions (from review_questions.toml) and the answers."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.indicators import extraction as indicators
from bot.notes.service import NOTE_MAX_CHARS, clean
from bot.postmortems import access
from models import Answer, Postmortem
from models.db import upsert

# Read as package data, so it works from a wheel or a zip as well as from the source tree.
QUESTIONS_FILE = resources.files("bot.notes") / "review_questions.toml"
ANSWER_MAX_CHARS = NOTE_MAX_CHARS


@dataclass(frozen=True)
class Question:
    key: str
    text: str


def load_questions(path: Traversable = QUESTIONS_FILE) -> tuple[Question, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(Question(key=entry["key"], text=entry["text"]) for entry in data["question"])


QUESTIONS = load_questions()


class AnswersRefused(Exception):
    pass


def answers_of(session: Session, *, postmortem_id: int, user_id: str) -> dict[str, str]:
    rows = session.scalars(select(Answer).where(Answer.postmortem_id == postmortem_id, Answer.user_id == user_id))
    return {answer.question_key: answer.text for answer in rows}


def respondents(session: Session, *, postmortem_id: int) -> set[str]:
    return set(session.scalars(select(Answer.user_id).where(Answer.postmortem_id == postmortem_id).distinct()))


def answered_by(session: Session, *, user_id: str, postmortem_ids: list[int]) -> set[int]:
    """Which of these post-mortems `user_id` has answered, in one query."""
    return set(session.scalars(select(Answer.postmortem_id).distinct().where(
        Answer.user_id == user_id, Answer.postmortem_id.in_(postmortem_ids))))


def validate(answers: dict[str, str]) -> dict[str, str]:
    return {
        key: f"Keep this under {ANSWER_MAX_CHARS:,} characters (it has {len(text):,})."
        for key, text in answers.items()
        if len(clean(text)) > ANSWER_MAX_CHARS
    }


def save(session: Session, *, postmortem: Postmortem, user_id: str, answers: dict[str, str], now: datetime) -> None:
    """Create or replace this participant's answers; a blank answer removes the earlier one."""
    access.require_open(session, postmortem, refusal=AnswersRefused)
    known = {q.key for q in QUESTIONS}
    kept = []
    for key, raw in answers.items():
        if key not in known:
            continue
        text = clean(raw)
        if not text:
            session.execute(delete(Answer).where(Answer.postmortem_id == postmortem.id, Answer.user_id == user_id,
                                                 Answer.question_key == key))
            continue
        # An upsert: a double submission (or two open forms) never fails on the unique key.
        upsert(session, Answer, dict(postmortem_id=postmortem.id, user_id=user_id, question_key=key, text=text,
                                     updated_at=now),
               key=["postmortem_id", "user_id", "question_key"], update=["text", "updated_at"])
        kept.append(text)
    # One sorted insert for all answers: concurrent submissions take the indicators' locks in one order.
    indicators.record(session, postmortem_id=postmortem.id, text="\n".join(kept), now=now)
