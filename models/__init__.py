"""SQLAlchemy 2.0 typed models, the engine and session factory, and the Alembic migrations."""

from models.action import Action, ActionCategory, ActionChange, ActionPriority, ActionStatus
from models.base import Base
from models.meeting import Meeting, MeetingStatus, Reminder, ReminderStatus
from models.monitoring import CheckIn, CheckInAnswer, MonitoringWindow, Sighting, Verdict
from models.note import Answer, AuditEntry, Indicator, Note, NoteCategory
from models.postmortem import Participant, ParticipantRole, Postmortem, PostmortemStatus, Severity
from models.report import Assessment, AttackVector, Classification, MispPush, ReportVersion

__all__ = [
    "Action",
    "ActionCategory",
    "ActionChange",
    "ActionPriority",
    "ActionStatus",
    "Answer",
    "Assessment",
    "CheckIn",
    "CheckInAnswer",
    "MonitoringWindow",
    "Sighting",
    "Verdict",
    "AttackVector",
    "Classification",
    "MispPush",
    "ReportVersion",
    "AuditEntry",
    "Indicator",
    "Note",
    "NoteCategory",
    "Base",
    "Meeting",
    "MeetingStatus",
    "Reminder",
    "ReminderStatus",
    "Participant",
    "ParticipantRole",
    "Postmortem",
    "PostmortemStatus",
    "Severity",
]
