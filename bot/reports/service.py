"""Publishing the report: versions, what changed since the last one, and the data behind it."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.reports import data as report_data
from bot.reports.rendering import NameOf, render_html, render_markdown, render_summary_sections
from models import Postmortem, ReportVersion
from models.db import insert_ignoring_conflicts

# A publish claim this old belongs to a process that died while posting: the next Publish may take it over.
PUBLISH_CLAIM_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Published:
    version: int
    markdown: str
    html: str
    summary_sections: list[str]
    changes: list[str]


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()[:16]


def snapshot(data: report_data.ReportData) -> dict[str, object]:
    """What a later version compares with: ids of notes and actions, fingerprints of everything else."""
    return {
        "notes": data.note_ids,
        "actions": [action.title for action in data.actions],
        "action statuses": _digest([(a.title, a.owner_id, a.due, a.status) for a in data.actions]),
        "incident report": _digest([data.facts, data.milestones]),
        "review answers": _digest(data.questions),
        "classification": _digest([data.classification, data.attack_vector, data.rationale]),
        "preventive figures": _digest(data.scorecard),
        "participants": _digest(data.participants),
    }


def changes_between(before: dict[str, object], after: dict[str, object]) -> list[str]:
    changes = []
    old_notes, new_notes = set(before.get("notes", [])), set(after["notes"])  # type: ignore[arg-type]
    if new_notes - old_notes:
        changes.append(_count(len(new_notes - old_notes), "new note"))
    if old_notes - new_notes:
        changes.append(_count(len(old_notes - new_notes), "note removed", plural="notes removed"))
    old_actions, new_actions = before.get("actions", []), after["actions"]
    if len(new_actions) > len(old_actions):  # type: ignore[arg-type]
        changes.append(_count(len(new_actions) - len(old_actions), "new action"))  # type: ignore[arg-type]
    changes += [f"{name} changed" for name in after if name not in {"notes", "actions"} and before.get(name) != after[name]]
    return changes or ["no changes"]


def _count(number: int, singular: str, *, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _versions(session: Session, *, postmortem_id: int) -> list[ReportVersion]:
    """Newest first; only the two newest matter."""
    return list(session.scalars(
        select(ReportVersion).where(ReportVersion.postmortem_id == postmortem_id).order_by(ReportVersion.version.desc()).limit(2)
    ))


def render(session: Session, *, postmortem_id: int, name_of: NameOf, now: datetime,
           monitor_period: timedelta | None = None) -> tuple[report_data.ReportData, Published]:
    """The report as publishing would make it now. A version saved but never posted (Slack failed) is
    made again under its own number rather than skipped."""
    data = report_data.gather(session, postmortem_id=postmortem_id, monitor_period=monitor_period)
    versions = _versions(session, postmortem_id=postmortem_id)
    if versions and versions[0].summary_ts is None:
        number, previous = versions[0].version, versions[1] if len(versions) > 1 else None
    else:
        number, previous = (versions[0].version + 1 if versions else 1), versions[0] if versions else None
    changes = changes_between(json.loads(previous.snapshot), snapshot(data)) if previous else []
    return data, Published(
        version=number,
        markdown=render_markdown(data, version=number, published_at=now, name_of=name_of),
        html=render_html(data, version=number, published_at=now, name_of=name_of),
        summary_sections=render_summary_sections(data, version=number, changes=changes, published_at=now),
        changes=changes,
    )


class Refusal(enum.Enum):
    BEING_PUBLISHED = "being published"  # another click holds the claim on this version
    ALREADY_PUBLISHED = "already published"  # the version previewed is out already: a late second click


def claim(session: Session, *, postmortem: Postmortem, user_id: str, name_of: NameOf, now: datetime,
          previewed: int | None = None, monitor_period: timedelta | None = None) -> Published | Refusal:
    """Claim version N for publishing and store its rendering, before anything is posted. The database
    decides between clicks at once: a conditional insert of (post-mortem, N), or for a version whose
    posting failed, a conditional update. `previewed`: the version the clicked preview showed."""
    data, published = render(session, postmortem_id=postmortem.id, name_of=name_of, now=now, monitor_period=monitor_period)
    if previewed is not None and previewed < published.version:
        return Refusal.ALREADY_PUBLISHED
    rendering = dict(markdown=published.markdown, html=published.html, snapshot=json.dumps(snapshot(data)),
                     published_by=user_id, published_at=now, claimed_at=now)
    if insert_ignoring_conflicts(session, ReportVersion, [dict(postmortem_id=postmortem.id, version=published.version,
                                                               posted_parts="", **rendering)]):
        return published
    taken_over = session.execute(update(ReportVersion).where(
        ReportVersion.postmortem_id == postmortem.id, ReportVersion.version == published.version,
        ReportVersion.summary_ts.is_(None),
        or_(ReportVersion.claimed_at.is_(None), ReportVersion.claimed_at < now - PUBLISH_CLAIM_TIMEOUT),
    ).values(**rendering)).rowcount
    return published if taken_over else Refusal.BEING_PUBLISHED


def posted_parts(session: Session, *, postmortem_id: int, version: int) -> set[str]:
    parts = session.scalar(select(ReportVersion.posted_parts).where(
        ReportVersion.postmortem_id == postmortem_id, ReportVersion.version == version))
    return set((parts or "").split())


def mark_part_posted(session: Session, *, postmortem_id: int, version: int, part: str) -> None:
    done = posted_parts(session, postmortem_id=postmortem_id, version=version) | {part}
    session.execute(update(ReportVersion).where(
        ReportVersion.postmortem_id == postmortem_id, ReportVersion.version == version).values(posted_parts=" ".join(sorted(done))))


def release(session: Session, *, postmortem_id: int, version: int) -> None:
    """Posting failed: the next Publish retries this version, posting only the parts still missing."""
    session.execute(update(ReportVersion).where(
        ReportVersion.postmortem_id == postmortem_id, ReportVersion.version == version).values(claimed_at=None))


def mark_posted(session: Session, *, postmortem_id: int, version: int, summary_ts: str) -> None:
    session.execute(update(ReportVersion).where(
        ReportVersion.postmortem_id == postmortem_id, ReportVersion.version == version).values(summary_ts=summary_ts,
                                                                                              claimed_at=None))
