"""Twelve post-mortems over 2026-Q2, Q3 and Q4 (up to the test clock, 2026-11-20 15:00 UTC), with the
figures worked out by hand in the comments of tests/bot/test_scorecard.py.

Facilitators: U0BERLIN01 ran #4, #9 and #12; U0TOKYO001 the others. Hours after each moment are noted
next to every post-mortem: detect (compromise -> detection), contain, resolve, dwell.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from bot.scorecard.service import PREVENTIVE_FIELDS
from models import (
    Action,
    ActionCategory,
    ActionChange,
    ActionPriority,
    ActionStatus,
    Assessment,
    AttackVector,
    Classification,
    Indicator,
    Participant,
    ParticipantRole,
    Postmortem,
    ReportVersion,
    Severity,
)
from tests.support import utc

BERLIN = "U0BERLIN01"
TOKYO = "U0TOKYO001"
HOSTILE_TITLE = '=HYPERLINK("http://evil.example/x","click")'

# number: (title, severity, compromised, detected, contained, resolved, facilitator)
POSTMORTEMS: dict[int, tuple[str, Severity, datetime | None, datetime, datetime | None, datetime | None, str]] = {
    # 2026-Q2 (three)
    1: ("Phishing wave", Severity.HIGH, utc(2026, 4, 1, 8), utc(2026, 4, 1, 20), utc(2026, 4, 2, 2), utc(2026, 4, 3, 20), TOKYO),  # 12 6 48 18
    2: ("Web app SQL injection", Severity.CRITICAL, None, utc(2026, 5, 10, 10), utc(2026, 5, 10, 14), utc(2026, 5, 11, 10), TOKYO),  # - 4 24 -
    3: ("Stolen laptop", Severity.LOW, utc(2026, 6, 20), utc(2026, 6, 22), None, utc(2026, 6, 25), TOKYO),  # 48 - 72 -
    # 2026-Q3 (five)
    4: ("Invoice phishing", Severity.HIGH, utc(2026, 7, 1), utc(2026, 7, 1, 6), utc(2026, 7, 1, 8), utc(2026, 7, 2, 6), BERLIN),  # 6 2 24 8
    5: (HOSTILE_TITLE, Severity.MEDIUM, utc(2026, 7, 15), utc(2026, 7, 16), utc(2026, 7, 16, 3), utc(2026, 7, 17), TOKYO),  # 24 3 24 27
    6: ("Password spraying", Severity.CRITICAL, None, utc(2026, 8, 5, 12), utc(2026, 8, 5, 13), utc(2026, 8, 6), TOKYO),  # - 1 12 -
    7: ("Fake login page", Severity.LOW, utc(2026, 8, 20), utc(2026, 8, 20, 2), utc(2026, 8, 20, 6), None, TOKYO),  # 2 4 - 6
    8: ("Ransomware on a file server", Severity.HIGH, utc(2026, 9, 10), utc(2026, 9, 11), utc(2026, 9, 11, 12), utc(2026, 9, 12), TOKYO),  # 24 12 24 36
    # 2026-Q4 (four, up to 20 November)
    9: ("Phishing again", Severity.HIGH, utc(2026, 10, 1), utc(2026, 10, 1, 4), utc(2026, 10, 1, 5), utc(2026, 10, 1, 16), BERLIN),  # 4 1 12 5
    10: ("API abuse", Severity.MEDIUM, None, utc(2026, 10, 15), utc(2026, 10, 15, 2), utc(2026, 10, 16), TOKYO),  # - 2 24 -
    11: ("Payroll phishing", Severity.CRITICAL, utc(2026, 11, 1), utc(2026, 11, 1, 1), utc(2026, 11, 1, 3), utc(2026, 11, 2, 1), TOKYO),  # 1 2 24 3
    12: ("Suspicious VPN login", Severity.LOW, None, utc(2026, 11, 10), None, None, BERLIN),  # - - - -
}

# number: (classification, vector, preventive figures in SCORECARD_LABELS order, None = not recorded)
ASSESSMENTS: dict[int, tuple[Classification, AttackVector, tuple[int | None, ...]]] = {
    1: (Classification.RANDOM, AttackVector.PHISHING, (None,) * 7),
    2: (Classification.TARGETED, AttackVector.WEB_APPLICATION, (None,) * 7),
    4: (Classification.RANDOM, AttackVector.PHISHING, (5, 100, 10, 4, 3, 1, 50)),
    5: (Classification.TARGETED, AttackVector.MALWARE, (3, 200, 20, 6, 6, 0, 80)),
    6: (Classification.RANDOM, AttackVector.CREDENTIAL_STUFFING, (2, None, None, None, None, None, None)),
    7: (Classification.UNKNOWN, AttackVector.PHISHING, (None,) * 7),
    9: (Classification.RANDOM, AttackVector.PHISHING, (1, 150, 30, 5, 5, 2, 90)),
    10: (Classification.TARGETED, AttackVector.WEB_APPLICATION, (None,) * 7),
    11: (Classification.RANDOM, AttackVector.PHISHING, (None,) * 7),
}

# (post-mortem, created, due, status, done at)
ACTIONS: list[tuple[int, datetime, date, ActionStatus, datetime | None]] = [
    (1, utc(2026, 4, 4), date(2026, 4, 30), ActionStatus.DONE, utc(2026, 4, 14)),  # on time, 10 d
    (4, utc(2026, 7, 2, 10), date(2026, 7, 10), ActionStatus.DONE, utc(2026, 7, 8, 10)),  # on time, 6 d
    (4, utc(2026, 7, 2, 10), date(2026, 7, 10), ActionStatus.DONE, utc(2026, 7, 15, 10)),  # late, 13 d
    (5, utc(2026, 7, 17), date(2026, 8, 1), ActionStatus.OPEN, None),  # overdue 111 d
    (6, utc(2026, 8, 6), date(2026, 8, 20), ActionStatus.CANCELLED, None),
    (8, utc(2026, 9, 12), date(2026, 12, 31), ActionStatus.OPEN, None),  # open, not due yet
    (8, utc(2026, 9, 12), date(2026, 9, 20), ActionStatus.DONE, utc(2026, 9, 20, 23)),  # on time (same day), 8 d 23 h
    (9, utc(2026, 10, 2), date(2026, 10, 9), ActionStatus.DONE, utc(2026, 10, 5)),  # on time, 3 d
    (10, utc(2026, 10, 16), date(2026, 11, 1), ActionStatus.OPEN, None),  # overdue 19 d
    (11, utc(2026, 11, 2), date(2026, 11, 10), ActionStatus.OPEN, None),  # overdue 10 d
    (11, utc(2026, 11, 2), date(2026, 11, 15), ActionStatus.DONE, utc(2026, 11, 18)),  # late, 16 d
]

# number: (published at, posted): an unposted version is not a published report.
REPORTS: dict[int, tuple[datetime, bool]] = {
    4: (utc(2026, 7, 3, 6), True),  # 24 h after resolution
    5: (utc(2026, 7, 19), True),  # 48 h
    7: (utc(2026, 8, 25), True),  # never resolved: published, no delay
    9: (utc(2026, 10, 2, 16), True),  # 24 h
    10: (utc(2026, 10, 20), False),
}

# Shared indicators: #4 repeats #1's domain; #9 repeats it too; #11 repeats #9's address.
INDICATORS: dict[int, list[tuple[str, str]]] = {
    1: [("domain", "evil-login.com")],
    4: [("domain", "evil-login.com")],
    9: [("domain", "evil-login.com"), ("ipv4", "203.0.113.7")],
    11: [("ipv4", "203.0.113.7")],
    12: [("ipv4", "198.51.100.1")],
}


def seed(session: Session) -> dict[int, int]:
    """Stores the twelve; returns number -> post-mortem id."""
    ids: dict[int, int] = {}
    for number, (title, severity, compromised, detected, contained, resolved, facilitator) in POSTMORTEMS.items():
        postmortem = Postmortem(team_id="T0000FAKE", title=title, severity=severity, compromised_at=compromised,
                                detected_at=detected, contained_at=contained, resolved_at=resolved, created_by=facilitator,
                                facilitator_id=facilitator, source_view_id=f"scorecard-{number}", created_at=detected)
        postmortem.participants.append(Participant(user_id=facilitator, role=ParticipantRole.FACILITATOR))
        session.add(postmortem)
        session.flush()
        ids[number] = postmortem.id
    for number, (classification, vector, figures) in ASSESSMENTS.items():
        session.add(Assessment(postmortem_id=ids[number], classification=classification, attack_vector=vector,
                               rationale="", updated_at=utc(2026, 11, 1), **dict(zip(PREVENTIVE_FIELDS, figures))))
    for index, (number, created, due, status, done_at) in enumerate(ACTIONS):
        action = Action(postmortem_id=ids[number], title=f"Follow-up {index}", owner_id=TOKYO, due_on=due,
                        priority=ActionPriority.MEDIUM, category=ActionCategory.OTHER, status=status, created_by=TOKYO,
                        dedupe_key=f"scorecard-action-{index}", created_at=created, updated_at=done_at or created)
        session.add(action)
        session.flush()
        if done_at is not None:
            session.add(ActionChange(action_id=action.id, actor_id=TOKYO, field="status", old_value="open",
                                     new_value="done", at=done_at))
    for number, (published_at, posted) in REPORTS.items():
        session.add(ReportVersion(postmortem_id=ids[number], version=1, markdown="", html="", snapshot="{}",
                                  published_by=TOKYO, published_at=published_at,
                                  summary_ts="1.000001" if posted else None))
    for number, found in INDICATORS.items():
        for kind, value in found:
            session.add(Indicator(postmortem_id=ids[number], kind=kind, value=value,
                                  first_seen_at=POSTMORTEMS[number][3] + timedelta(hours=1)))
    return ids


def hours(value: float) -> float:
    return value * 3600

