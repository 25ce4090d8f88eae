"""After the incident: how long its indicators are watched, what was seen in alert channels, and check-in answers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.postmortem import str_enum


class MonitoringWindow(Base):
    """A post-mortem's own monitoring settings; without a row the window is the default one
    (MONITOR_DAYS after resolution). `version` grows with every change, so every process notices."""

    __tablename__ = "monitoring_windows"

    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), primary_key=True)
    ends_at: Mapped[datetime | None]  # None: the default end
    stopped_by: Mapped[str | None] = mapped_column(String(32))  # who turned monitoring off, if anyone did
    changed_by: Mapped[str | None] = mapped_column(String(32))
    # Set once, by the close that plans the check-ins: a second close plans nothing.
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime]


class Verdict(enum.StrEnum):
    PENDING = "pending"
    RECURRENCE = "recurrence"
    NOT_RELATED = "not_related"


class Sighting(Base):
    """One indicator seen in one alert message. The message (channel + ts) and the indicator make the key:
    a redelivered event, or the same message read twice, stores nothing more."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("indicator_id", "channel_id", "message_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    # No foreign key: the sighting stays part of the record if the note that held the indicator is deleted.
    indicator_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    seen_at: Mapped[datetime]
    verdict: Mapped[Verdict] = mapped_column(str_enum(Verdict), default=Verdict.PENDING)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None]


class CheckInAnswer(enum.StrEnum):
    ALL_QUIET = "all_quiet"
    SOMETHING_BACK = "something_back"


class CheckIn(Base):
    """The facilitator's answer to one check-in ("Any signs of it coming back?"): the first answer counts."""

    __tablename__ = "monitoring_checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    reminder_id: Mapped[int] = mapped_column(unique=True)  # the check-in it answers
    answer: Mapped[CheckInAnswer] = mapped_column(str_enum(CheckInAnswer))
    details: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(32))
    answered_at: Mapped[datetime]
