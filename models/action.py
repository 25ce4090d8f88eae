"""Follow-up actions with an owner and a due date, and the record of every change to them."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.postmortem import str_enum


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class ActionPriority(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ActionCategory(enum.StrEnum):
    TRAINING = "training"
    POLICY = "policy_communication"
    AWARENESS = "employee_awareness"
    AUTOMATION = "process_automation"
    HARDENING = "tooling_hardening"
    OTHER = "other"


class Action(Base):
    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[str] = mapped_column(String(32), index=True)
    due_on: Mapped[date]
    priority: Mapped[ActionPriority] = mapped_column(str_enum(ActionPriority))
    category: Mapped[ActionCategory] = mapped_column(str_enum(ActionCategory, length=32))
    status: Mapped[ActionStatus] = mapped_column(str_enum(ActionStatus), default=ActionStatus.OPEN, index=True)
    # Bumped by every change that affects reminders: a reminder planned for an older version is stale.
    version: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # Optimistic locking: every UPDATE carries `WHERE version = <the version read>`; a row changed
    # meanwhile raises StaleDataError instead of being overwritten. The code bumps it (`version_id_generator`
    # off), only for changes that matter to reminders.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class ActionChange(Base):
    """Who changed what on an action, when, from what to what."""

    __tablename__ = "action_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[str] = mapped_column(String(32))
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
