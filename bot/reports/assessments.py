"""The facilitator's classification (random or targeted) and the preventive-initiative figures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.indicators import extraction as indicators
from bot.postmortems import access
from bot.reports.data import SCORECARD_LABELS
from models import Assessment, AttackVector, Classification, Postmortem
from models.db import insert_ignoring_conflicts

NOT_A_NUMBER = "Enter a whole number, 0 or more, or leave it empty."
FIGURE_MAX = 10**9


class AssessmentRefused(Exception):
    """The assessment cannot change; the message says why."""


def current(session: Session, *, postmortem_id: int) -> Assessment | None:
    return session.scalars(select(Assessment).where(Assessment.postmortem_id == postmortem_id)).one_or_none()


def _current_or_new(session: Session, *, postmortem_id: int, now: datetime) -> Assessment:
    insert_ignoring_conflicts(session, Assessment, [dict(postmortem_id=postmortem_id, rationale="", updated_at=now)])
    assessment = current(session, postmortem_id=postmortem_id)
    assert assessment is not None
    return assessment


def classify(session: Session, *, postmortem: Postmortem, classification: Classification, attack_vector: AttackVector,
             rationale: str, now: datetime) -> None:
    access.require_open(session, postmortem, refusal=AssessmentRefused)
    postmortem_id = postmortem.id
    assessment = _current_or_new(session, postmortem_id=postmortem_id, now=now)
    assessment.classification, assessment.attack_vector = classification, attack_vector
    assessment.rationale, assessment.updated_at = rationale.strip(), now
    indicators.record(session, postmortem_id=postmortem_id, text=rationale, now=now)


def parse_figures(raw: dict[str, str]) -> tuple[dict[str, int | None], dict[str, str]]:
    """Field -> whole number or None (left empty); errors for anything negative or not a whole number."""
    figures: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name, _ in SCORECARD_LABELS:
        text = (raw.get(name) or "").strip()
        if not text:
            figures[name] = None
        elif text.isdigit() and int(text) <= FIGURE_MAX:
            figures[name] = int(text)
        else:
            errors[name] = NOT_A_NUMBER
    return figures, errors


def record_figures(session: Session, *, postmortem: Postmortem, figures: dict[str, int | None], now: datetime) -> None:
    access.require_open(session, postmortem, refusal=AssessmentRefused)
    assessment = _current_or_new(session, postmortem_id=postmortem.id, now=now)
    for name, value in figures.items():
        setattr(assessment, name, value)
    assessment.updated_at = now
