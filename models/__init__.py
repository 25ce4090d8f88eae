"""SQLAlchemy 2.0 typed models, the engine and session factory, and the Alembic migrations."""

from models.base import Base
from models.postmortem import Participant, ParticipantRole, Postmortem, PostmortemStatus, Severity

__all__ = [
    "Base",
    "Participant",
    "ParticipantRole",
    "Postmortem",
    "PostmortemStatus",
    "Severity",
]
