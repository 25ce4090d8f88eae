"""What the report adds: classification, preventive-initiative figures, and published versions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.postmortem import str_enum


class Classification(enum.StrEnum):
    RANDOM = "random"
    TARGETED = "targeted"
    UNKNOWN = "unknown"


class AttackVector(enum.StrEnum):
    PHISHING = "phishing"
    WEB_APPLICATION = "web_application"
    CREDENTIAL_STUFFING = "credential_stuffing"
    MALWARE = "malware"
    INSIDER = "insider"
    SUPPLY_CHAIN = "supply_chain"
    OTHER = "other"


class Assessment(Base):
    """The facilitator's call on random vs targeted, and this incident's preventive-initiative figures."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), unique=True)
    classification: Mapped[Classification | None] = mapped_column(str_enum(Classification))
    attack_vector: Mapped[AttackVector | None] = mapped_column(str_enum(AttackVector, length=32))
    rationale: Mapped[str] = mapped_column(Text, default="")
    unpatched_vulnerabilities: Mapped[int | None]
    alert_volume: Mapped[int | None]
    false_alarms: Mapped[int | None]
    tickets_opened: Mapped[int | None]
    tickets_closed: Mapped[int | None]
    unauthorized_assets: Mapped[int | None]
    threats_blocked: Mapped[int | None]
    updated_at: Mapped[datetime]


class ReportVersion(Base):
    """One published rendering. `snapshot` (JSON) is what the next version's change list compares with."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("postmortem_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    snapshot: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(32))
    published_at: Mapped[datetime]
    # Set once the files and summary are in the channel; a version saved but not posted is posted on retry.
    summary_ts: Mapped[str | None] = mapped_column(String(32))
    # Publishing claims the version first (one click wins); set while its files and summary are being posted.
    claimed_at: Mapped[datetime | None]
    # What already reached Slack ("markdown html"), so a retry after a failure posts only the rest.
    posted_parts: Mapped[str] = mapped_column(String(64), default="")


class MispPush(Base):
    """The last push of a post-mortem's indicators to MISP: its event, and the failure if it failed (the
    next publish tries again)."""

    __tablename__ = "misp_pushes"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), unique=True)
    event_uuid: Mapped[str] = mapped_column(String(36))
    attempted_at: Mapped[datetime]
    pushed_at: Mapped[datetime | None]  # the last push that succeeded
    error: Mapped[str | None] = mapped_column(Text)  # why the last attempt failed; None when it succeeded
