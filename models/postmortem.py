"""The post-mortem of one incident, its participants, and its Slack provisioning progress."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base


def str_enum(enum_class: type[enum.StrEnum], *, length: int = 16) -> Enum:
    """Store an enum by its value (`"high"`), readable in SQL and stable if member names change."""
    return Enum(enum_class, native_enum=False, length=length, values_callable=lambda members: [m.value for m in members])


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class PostmortemStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ParticipantRole(enum.StrEnum):
    FACILITATOR = "facilitator"
    RESPONDER = "responder"


class Postmortem(Base):
    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(150))
    severity: Mapped[Severity] = mapped_column(str_enum(Severity))
    status: Mapped[PostmortemStatus] = mapped_column(str_enum(PostmortemStatus), default=PostmortemStatus.OPEN)
    compromised_at: Mapped[datetime | None]
    detected_at: Mapped[datetime]
    contained_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    system_location: Mapped[str] = mapped_column(Text, default="")
    system_function: Mapped[str] = mapped_column(Text, default="")
    identified_how: Mapped[str] = mapped_column(Text, default="")
    containment_steps: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(32))
    facilitator_id: Mapped[str] = mapped_column(String(32))
    # The modal view id: Slack may deliver one view_submission twice; it must make one post-mortem.
    source_view_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]

    # Slack provisioning progress: each step records its result so a retry resumes where it stopped.
    channel_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel_name: Mapped[str | None] = mapped_column(String(80))
    members_invited: Mapped[bool] = mapped_column(default=False)
    channel_described: Mapped[bool] = mapped_column(default=False)
    kickoff_ts: Mapped[str | None] = mapped_column(String(32))
    kickoff_pinned: Mapped[bool] = mapped_column(default=False)
    provisioning_error: Mapped[str | None] = mapped_column(Text)
    # Set while one worker provisions, so a retry pressed meanwhile cannot create a second channel.
    provisioning_claimed_at: Mapped[datetime | None]

    participants: Mapped[list[Participant]] = relationship(
        back_populates="postmortem", cascade="all, delete-orphan", order_by="Participant.id"
    )

    @property
    def is_provisioned(self) -> bool:
        return self.kickoff_pinned

    @property
    def responder_ids(self) -> list[str]:
        return [p.user_id for p in self.participants if p.role is ParticipantRole.RESPONDER]

    @property
    def member_ids(self) -> list[str]:
        return [p.user_id for p in self.participants]


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("postmortem_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    role: Mapped[ParticipantRole] = mapped_column(str_enum(ParticipantRole))
    questionnaire_sent_at: Mapped[datetime | None]

    postmortem: Mapped[Postmortem] = relationship(back_populates="participants")
