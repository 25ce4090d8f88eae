"""A post-mortem's indicators as a STIX 2.1 bundle: an Indicator each, a Sighting per recorded hit, and
the post-mortem as a Report referencing them, all by the workspace's Identity.

Patterns hold the real (fanged) values: they are for machines, and a defanged value would never match.
Everything a person typed (the title) goes out normalised and defanged like every other export, and so
do the Indicators' names, which tools show to people. Ids are uuid5 of workspace, post-mortem and
indicator (or hit), so a re-export, or the next report version, names the same objects the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import stix2
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.indicators import extraction as indicators
from bot.slack import safe_text
from models import Assessment, Classification, Indicator, Postmortem

# A fixed namespace: the same post-mortem and indicator give the same ids in every installation's exports.
NAMESPACE = uuid.UUID("5b0b3c1e-8f0e-4f43-9a59-2f5d1c0e7a11")
# The workspace's Identity is one object in every bundle, and an object's `created` never changes.
IDENTITY_CREATED = datetime(2026, 1, 1, tzinfo=UTC)

# Where each kind of indicator sits in a STIX pattern (hash names with a hyphen are quoted).
_PATTERN_PATHS = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
}
KINDS = frozenset(_PATTERN_PATHS)
_KIND_NAMES = {"ipv4": "IPv4 address", "ipv6": "IPv6 address", "domain": "Domain", "url": "URL",
               "email": "Email address", "md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}


@dataclass(frozen=True)
class IndicatorRecord:
    kind: str  # as extraction names it: ipv4, ipv6, domain, url, email, md5, sha1, sha256
    value: str  # fanged, as stored
    first_seen_at: datetime


@dataclass(frozen=True)
class SightingRecord:
    """One hit of an indicator in an alert channel, as monitoring records it."""

    indicator_kind: str
    indicator_value: str  # fanged, as stored
    seen_at: datetime
    channel_id: str
    message_ts: str


@dataclass(frozen=True)
class PostmortemFacts:
    """What the bundle says about the post-mortem itself."""

    team_id: str
    postmortem_id: int
    title: str
    severity: str
    created_at: datetime
    detected_at: datetime
    classification: Classification | None
    attack_vector: str | None


def pattern_literal(value: str) -> str:
    """A STIX pattern string literal: quotes and backslashes escaped, nothing else changed."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pattern(kind: str, value: str) -> str:
    return f"[{_PATTERN_PATHS[kind]} = {pattern_literal(value)}]"


def object_uuid(*parts: object) -> uuid.UUID:
    """Stable for the same parts: the export's ids, and the MISP event's and attributes' uuids."""
    return uuid.uuid5(NAMESPACE, "/".join(str(part) for part in parts))


def indicator_uuid(*, team_id: str, postmortem_id: int, kind: str, value: str) -> uuid.UUID:
    return object_uuid(team_id, postmortem_id, "indicator", kind, value)


def _utc(moment: datetime) -> datetime:
    """Stored times are UTC, naive on SQLite."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _labels(facts: PostmortemFacts) -> list[str]:
    labels = [f"classification:{(facts.classification or Classification.UNKNOWN).value}"]
    if facts.attack_vector:
        labels.append(f"attack-vector:{facts.attack_vector}")
    return labels


def _indicator_types(classification: Classification | None) -> list[str]:
    # STIX's vocabulary has no "targeted": an attack aimed at us says something about who is behind it.
    return ["malicious-activity", "attribution"] if classification is Classification.TARGETED else ["malicious-activity"]


def build_bundle(*, facts: PostmortemFacts, indicator_records: Iterable[IndicatorRecord],
                 sightings: Sequence[SightingRecord], published_at: datetime) -> stix2.Bundle:
    """The bundle for one post-mortem. Indicators of kinds STIX has no pattern for, and sightings of
    indicators not in `indicator_records`, are left out."""
    identity = stix2.Identity(
        id=f"identity--{object_uuid(facts.team_id, 'identity')}", name=f"Slack workspace {facts.team_id}",
        identity_class="organization", created=IDENTITY_CREATED, modified=IDENTITY_CREATED,
    )
    detected_at, published = _utc(facts.detected_at), _utc(published_at)
    incident = f"the post-mortem of a {facts.severity} security incident detected {detected_at:%Y-%m-%d %H:%M} UTC"
    by_value: dict[tuple[str, str], stix2.Indicator] = {}
    for record in sorted(indicator_records, key=lambda r: (r.kind, r.value)):
        if record.kind not in KINDS:
            continue
        first_seen = _utc(record.first_seen_at)
        by_value[(record.kind, record.value)] = stix2.Indicator(
            id=f"indicator--{indicator_uuid(team_id=facts.team_id, postmortem_id=facts.postmortem_id, kind=record.kind, value=record.value)}",
            # Labels, types and description follow the assessment: each export is the newest version.
            created_by_ref=identity.id, created=first_seen, modified=max(first_seen, published),
            name=f"{_KIND_NAMES[record.kind]} {indicators.defanged(record.kind, record.value)}",
            description=f"Indicator of compromise from {incident}.", pattern=pattern(record.kind, record.value), pattern_type="stix",
            # In use since the incident at the latest, though a note may have named it only later.
            valid_from=min(first_seen, detected_at),
            indicator_types=_indicator_types(facts.classification), labels=_labels(facts),
        )
    hits = [
        stix2.Sighting(
            id=f"sighting--{object_uuid(facts.team_id, facts.postmortem_id, 'sighting', hit.indicator_kind, hit.indicator_value, hit.channel_id, hit.message_ts)}",
            created_by_ref=identity.id, created=_utc(hit.seen_at), modified=_utc(hit.seen_at),
            sighting_of_ref=by_value[(hit.indicator_kind, hit.indicator_value)].id,
            first_seen=_utc(hit.seen_at), last_seen=_utc(hit.seen_at), count=1, where_sighted_refs=[identity.id],
            external_references=[{"source_name": "slack", "external_id": f"{hit.channel_id}/{hit.message_ts}",
                                  "description": "The alert message (channel/ts) the indicator was seen in."}],
        )
        for hit in sightings if (hit.indicator_kind, hit.indicator_value) in by_value
    ]
    report = stix2.Report(
        id=f"report--{object_uuid(facts.team_id, facts.postmortem_id, 'report')}",
        created_by_ref=identity.id, created=_utc(facts.created_at), modified=max(published, _utc(facts.created_at)),
        name=safe_text.data_line(facts.title) or f"Post-mortem {facts.postmortem_id}",
        description=f"Indicators of compromise from {incident}.",
        published=published, report_types=["threat-report"], labels=_labels(facts),
        # A Report must reference something: with no indicator yet, the workspace that wrote it.
        object_refs=[obj.id for obj in (*by_value.values(), *hits)] or [identity.id],
    )
    return stix2.Bundle(identity, *by_value.values(), *hits, report,
                        id=f"bundle--{object_uuid(facts.team_id, facts.postmortem_id, 'bundle', published.isoformat())}")


def serialize(bundle: stix2.Bundle) -> bytes:
    return bundle.serialize(pretty=True, ensure_ascii=False).encode()


def load(session: Session, *, postmortem_id: int) -> tuple[PostmortemFacts, list[IndicatorRecord]]:
    """A stored post-mortem and its indicators, as this transaction sees them."""
    postmortem = session.get(Postmortem, postmortem_id)
    assert postmortem is not None
    assessment = session.scalars(select(Assessment).where(Assessment.postmortem_id == postmortem_id)).one_or_none()
    facts = PostmortemFacts(
        team_id=postmortem.team_id, postmortem_id=postmortem.id, title=postmortem.title,
        severity=postmortem.severity.value, created_at=postmortem.created_at, detected_at=postmortem.detected_at,
        classification=assessment.classification if assessment else None,
        attack_vector=assessment.attack_vector.value if assessment and assessment.attack_vector else None,
    )
    records = [IndicatorRecord(kind, value, first_seen_at) for kind, value, first_seen_at in session.execute(
        select(Indicator.kind, Indicator.value, Indicator.first_seen_at).where(Indicator.postmortem_id == postmortem_id))]
    return facts, records
