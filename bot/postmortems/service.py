"""Post-mortem records: the incident report's rules, creation, and lookups."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from bot.indicators import extraction as indicators
from bot.runtime import Runtime
from models import Participant, ParticipantRole, Postmortem, ReportVersion, Severity
from models.db import insert_ignoring_conflicts, transaction

log = logging.getLogger(__name__)

TITLE_MAX_CHARS = 150
# Long fields stay under Slack's 3000-character section limit once labelled in the kickoff.
TEXT_MAX_CHARS = 2500


@dataclass(frozen=True)
class IncidentReport:
    """The incident report as typed into the modal, before validation."""

    title: str
    severity: str | None
    detected_at: datetime | None
    compromised_at: datetime | None = None
    contained_at: datetime | None = None
    resolved_at: datetime | None = None
    system_location: str = ""
    system_function: str = ""
    identified_how: str = ""
    containment_steps: str = ""
    impact: str = ""
    evidence: str = ""
    responder_ids: list[str] = field(default_factory=list)
    facilitator_id: str | None = None


LONG_TEXT_FIELDS = (
    "system_location",
    "system_function",
    "identified_how",
    "containment_steps",
    "impact",
    "evidence",
)


def validate(report: IncidentReport, *, now: datetime) -> dict[str, str]:
    """Field name -> what to fix, in words a tired responder understands. Empty when valid."""
    errors: dict[str, str] = {}
    title = report.title.strip()
    if not title:
        errors["title"] = "Give the incident a short title, e.g. “VPN credential phishing”."
    elif len(title) > TITLE_MAX_CHARS:
        errors["title"] = f"Keep the title under {TITLE_MAX_CHARS} characters (it has {len(title)})."
    if report.severity not in {s.value for s in Severity}:
        errors["severity"] = "Pick a severity."
    for name in LONG_TEXT_FIELDS:
        length = len(getattr(report, name))
        if length > TEXT_MAX_CHARS:
            errors[name] = f"Keep this under {TEXT_MAX_CHARS} characters (it has {length}); attach the rest as evidence files."

    moments = {
        "compromised_at": report.compromised_at,
        "detected_at": report.detected_at,
        "contained_at": report.contained_at,
        "resolved_at": report.resolved_at,
    }
    for name, moment in moments.items():
        if moment is not None and moment > now:
            errors[name] = "This is in the future. Enter when it actually happened."
    if report.detected_at is None:
        errors["detected_at"] = "Enter when the incident was detected."
        return errors
    order_rules = (
        ("detected_at", report.compromised_at, report.detected_at, "Detection can't come before the compromise began."),
        ("contained_at", report.detected_at, report.contained_at, "Containment can't come before detection."),
        ("resolved_at", report.detected_at, report.resolved_at, "Resolution can't come before detection."),
        ("resolved_at", report.contained_at, report.resolved_at, "Resolution can't come before containment."),
    )
    for name, earlier, later, message in order_rules:
        if earlier is not None and later is not None and later < earlier and name not in errors:
            errors[name] = message
    return errors


def create(
    session: Session, *, report: IncidentReport, team_id: str, created_by: str, view_id: str, now: datetime
) -> tuple[Postmortem, bool]:
    """Save a validated report. Returns (post-mortem, created); a redelivered submission returns the first one."""
    facilitator_id = report.facilitator_id or created_by
    # The view id decides in the database: a redelivery arriving at the same moment finds the first one.
    created = insert_ignoring_conflicts(session, Postmortem, [dict(
        team_id=team_id,
        title=report.title.strip(),
        severity=Severity(report.severity),
        compromised_at=report.compromised_at,
        detected_at=report.detected_at,
        contained_at=report.contained_at,
        resolved_at=report.resolved_at,
        **{name: getattr(report, name).strip() for name in LONG_TEXT_FIELDS},
        created_by=created_by,
        facilitator_id=facilitator_id,
        source_view_id=view_id,
        created_at=now,
    )]) == 1
    postmortem = session.scalars(select(Postmortem).where(Postmortem.source_view_id == view_id)).one()
    if not created:
        return postmortem, False
    postmortem.participants.append(Participant(user_id=facilitator_id, role=ParticipantRole.FACILITATOR))
    for user_id in dict.fromkeys(report.responder_ids):
        if user_id != facilitator_id:
            postmortem.participants.append(Participant(user_id=user_id, role=ParticipantRole.RESPONDER))
    session.flush()
    report_text = "\n".join([postmortem.title, *(getattr(postmortem, name) for name in LONG_TEXT_FIELDS)])
    indicators.record(session, postmortem_id=postmortem.id, text=report_text, now=now)
    return postmortem, True


def get(session: Session, *, postmortem_id: int) -> Postmortem | None:
    return session.get(Postmortem, postmortem_id, options=[selectinload(Postmortem.participants)])


def latest_unprovisioned(session: Session, *, user_id: str) -> Postmortem | None:
    """The newest post-mortem this user started or facilitates whose Slack set-up did not finish."""
    return session.scalars(
        select(Postmortem)
        .where(
            Postmortem.kickoff_pinned.is_(False),
            or_(Postmortem.created_by == user_id, Postmortem.facilitator_id == user_id),
        )
        .order_by(Postmortem.created_at.desc(), Postmortem.id.desc())
        .limit(1)
    ).one_or_none()


def may_retry_provisioning(postmortem: Postmortem, *, user_id: str) -> bool:
    return user_id in {postmortem.created_by, postmortem.facilitator_id}


@dataclass(frozen=True)
class Submission:
    errors: dict[str, str]
    postmortem_id: int | None = None
    created: bool = False


SAVE_FAILED = "I could not save the report just now. Your answers are still here: press the button again in a minute."


def submit(runtime: Runtime, *, report: IncidentReport, team_id: str, user_id: str, view_id: str) -> Submission:
    """Validate and save the incident report in one transaction."""
    errors = validate(report, now=runtime.clock.now())
    if errors:
        return Submission(errors=errors)
    try:
        with transaction(runtime.sessions) as session:
            postmortem, created = create(
                session, report=report, team_id=team_id, created_by=user_id, view_id=view_id, now=runtime.clock.now()
            )
            return Submission(errors={}, postmortem_id=postmortem.id, created=created)
    except SQLAlchemyError:
        log.exception("saving the incident report from %s failed", user_id)
        return Submission(errors={"title": SAVE_FAILED})


def retryable_for(runtime: Runtime, *, user_id: str) -> int | None:
    with transaction(runtime.sessions) as session:
        postmortem = latest_unprovisioned(session, user_id=user_id)
        return postmortem.id if postmortem else None


def is_published(session: Session, *, postmortem_id: int) -> bool:
    posted = select(func.count()).select_from(ReportVersion).where(
        ReportVersion.postmortem_id == postmortem_id, ReportVersion.summary_ts.is_not(None))
    return (session.scalar(posted) or 0) > 0


def published_among(session: Session, *, postmortem_ids: list[int]) -> set[int]:
    """Which of these post-mortems have a published report, in one query."""
    return set(session.scalars(select(ReportVersion.postmortem_id).distinct().where(
        ReportVersion.postmortem_id.in_(postmortem_ids), ReportVersion.summary_ts.is_not(None))))
