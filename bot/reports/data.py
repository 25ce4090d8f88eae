"""Everything the report shows, computed in Python (templates only lay it out).

`gather` reads a post-mortem with a fixed number of queries, however many notes it has.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.monitoring import service as monitoring
from bot.notes.questionnaire import QUESTIONS
from models import (
    Action,
    Answer,
    Assessment,
    AttackVector,
    CheckInAnswer,
    Classification,
    Indicator,
    Note,
    NoteCategory,
    Postmortem,
    Verdict,
)

CLASSIFICATION_LABELS = {
    Classification.RANDOM: "Random (opportunistic)",
    Classification.TARGETED: "Targeted at us",
    Classification.UNKNOWN: "Unknown",
}
VECTOR_LABELS = {
    AttackVector.PHISHING: "Phishing",
    AttackVector.WEB_APPLICATION: "Web application",
    AttackVector.CREDENTIAL_STUFFING: "Credential stuffing",
    AttackVector.MALWARE: "Malware",
    AttackVector.INSIDER: "Insider",
    AttackVector.SUPPLY_CHAIN: "Supply chain",
    AttackVector.OTHER: "Other",
}
SCORECARD_LABELS = (
    ("unpatched_vulnerabilities", "Unpatched vulnerabilities"),
    ("alert_volume", "Alert volume"),
    ("false_alarms", "False alarms"),
    ("tickets_opened", "Incident tickets opened"),
    ("tickets_closed", "Incident tickets closed"),
    ("unauthorized_assets", "Unauthorized devices or software found"),
    ("threats_blocked", "Threats detected or blocked by deployed tools"),
)
VERDICT_LABELS = {Verdict.PENDING: "not judged yet", Verdict.RECURRENCE: "recurrence", Verdict.NOT_RELATED: "not related"}
CHECKIN_LABELS = {CheckInAnswer.ALL_QUIET: "All quiet", CheckInAnswer.SOMETHING_BACK: "Something's back"}
DISCUSSION_CATEGORIES = (
    (NoteCategory.WENT_WELL, "What went well"),
    (NoteCategory.WENT_WRONG, "What went wrong"),
    (NoteCategory.OBSERVATION, "Observations"),
    (NoteCategory.EVIDENCE, "Evidence"),
    (NoteCategory.OPEN_QUESTION, "Open questions"),
)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    text: str
    author_id: str | None
    source: str | None  # permalink of a captured message
    milestone: bool = False


@dataclass(frozen=True)
class Attributed:
    author_id: str
    text: str


@dataclass(frozen=True)
class ActionLine:
    title: str
    owner_id: str
    due: str
    status: str


@dataclass(frozen=True)
class SightingLine:
    seen_at: datetime
    kind: str
    value: str
    channel_id: str
    verdict: str


@dataclass(frozen=True)
class CheckInLine:
    answered_at: datetime
    answer: str
    details: str


@dataclass(frozen=True)
class MonitoringSection:
    watched_until: datetime
    stopped_by: str | None
    sightings: list[SightingLine]
    checkins: list[CheckInLine]


@dataclass
class ReportData:
    postmortem: Postmortem
    facts: list[tuple[str, str]]
    milestones: list[tuple[str, datetime | None]]
    timeline: list[TimelineEntry]
    durations: list[tuple[str, timedelta | None]]
    questions: list[tuple[str, list[Attributed]]]
    discussion: list[tuple[str, list[Attributed]]]
    classification: str | None
    attack_vector: str | None
    rationale: str
    random_or_targeted_answers: list[Attributed]
    indicators: list[tuple[str, str]]
    scorecard: list[tuple[str, int | None]]
    actions: list[ActionLine]
    lessons: list[Attributed]
    participants: list[tuple[str, str]]  # (user id, role)
    note_ids: list[int] = field(default_factory=list)
    monitoring: MonitoringSection | None = None


def span(start: datetime | None, end: datetime | None) -> timedelta | None:
    if start is None or end is None:
        return None
    return end - start


def gather(session: Session, *, postmortem_id: int, monitor_period: timedelta | None = None) -> ReportData:
    """`monitor_period` (MONITOR_DAYS) adds the Monitoring section; forms that need no report leave it out."""
    postmortem = session.scalars(
        select(Postmortem).where(Postmortem.id == postmortem_id).options(selectinload(Postmortem.participants))
    ).one()
    notes = session.scalars(select(Note).where(Note.postmortem_id == postmortem_id).order_by(Note.created_at, Note.id)).all()
    answers = session.scalars(
        select(Answer).where(Answer.postmortem_id == postmortem_id).order_by(Answer.user_id, Answer.id)
    ).all()
    indicators = session.execute(
        select(Indicator.kind, Indicator.value).where(Indicator.postmortem_id == postmortem_id).order_by(Indicator.kind, Indicator.value)
    ).tuples().all()
    assessment = session.scalars(select(Assessment).where(Assessment.postmortem_id == postmortem_id)).one_or_none()
    actions = session.scalars(select(Action).where(Action.postmortem_id == postmortem_id).order_by(Action.due_on, Action.id)).all()

    by_question: dict[str, list[Attributed]] = defaultdict(list)
    for answer in answers:
        by_question[answer.question_key].append(Attributed(answer.user_id, answer.text))
    by_category: dict[NoteCategory, list[Attributed]] = defaultdict(list)
    for note in notes:
        by_category[note.category].append(Attributed(note.author_id, note.text))

    milestones = [
        ("Compromise began", postmortem.compromised_at),
        ("Detected", postmortem.detected_at),
        ("Contained", postmortem.contained_at),
        ("Resolved", postmortem.resolved_at),
    ]
    timeline = [TimelineEntry(at, label, None, None, milestone=True) for label, at in milestones if at is not None]
    timeline += [
        TimelineEntry(note.occurred_at or note.created_at, note.text, note.source_author_id or note.author_id,
                      note.source_permalink)
        for note in notes
        if note.category is NoteCategory.TIMELINE or note.source_permalink
    ]
    timeline.sort(key=lambda entry: entry.at)
    began = postmortem.compromised_at or postmortem.detected_at
    return ReportData(
        postmortem=postmortem,
        facts=[
            ("Severity", postmortem.severity.value),
            ("Location of the affected system", postmortem.system_location),
            ("Function of the affected system", postmortem.system_function),
            ("How it was identified", postmortem.identified_how),
            ("Containment steps", postmortem.containment_steps),
            ("Impact", postmortem.impact),
            ("Evidence collected", postmortem.evidence),
        ],
        milestones=milestones,
        timeline=timeline,
        durations=[
            ("Compromise to detection", span(postmortem.compromised_at, postmortem.detected_at)),
            ("Detection to containment", span(postmortem.detected_at, postmortem.contained_at)),
            ("Detection to resolution", span(postmortem.detected_at, postmortem.resolved_at)),
            ("Whole incident", span(began, postmortem.resolved_at)),
        ],
        questions=[(q.text, by_question.get(q.key, [])) for q in QUESTIONS],
        discussion=[(label, by_category.get(category, [])) for category, label in DISCUSSION_CATEGORIES],
        classification=CLASSIFICATION_LABELS[assessment.classification] if assessment and assessment.classification else None,
        attack_vector=VECTOR_LABELS[assessment.attack_vector] if assessment and assessment.attack_vector else None,
        rationale=assessment.rationale if assessment else "",
        random_or_targeted_answers=by_question.get("random_or_targeted", []),
        indicators=list(indicators),
        scorecard=[(label, getattr(assessment, name) if assessment else None) for name, label in SCORECARD_LABELS],
        actions=[ActionLine(a.title, a.owner_id, a.due_on.isoformat(), a.status.value) for a in actions],
        lessons=by_category.get(NoteCategory.LESSON, []),
        participants=[(p.user_id, p.role.value) for p in postmortem.participants],
        note_ids=[note.id for note in notes],
        monitoring=_monitoring(session, postmortem_id=postmortem_id, period=monitor_period) if monitor_period else None,
    )


def _monitoring(session: Session, *, postmortem_id: int, period: timedelta) -> MonitoringSection:
    watched = monitoring.summary(session, postmortem_id=postmortem_id, period=period)
    return MonitoringSection(
        watched_until=watched.window.ends_at,
        stopped_by=watched.window.stopped_by,
        sightings=[SightingLine(s.seen_at, s.kind, s.value, s.channel_id, VERDICT_LABELS[s.verdict]) for s in watched.sightings],
        checkins=[CheckInLine(c.answered_at, CHECKIN_LABELS[c.answer], c.details) for c in watched.checkins],
    )


def format_duration(value: timedelta | None) -> str:
    """`1 d 3 h 20 min`; a negative span (bad data) or none is 'not recorded'."""
    if value is None or value < timedelta(0):
        return "not recorded"
    minutes = int(value.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes or not (days or hours) else ""]
    return " ".join(part for part in parts if part)
