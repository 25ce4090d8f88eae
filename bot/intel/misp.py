"""The optional push to MISP (MISP_URL and MISP_KEY set): one event per post-mortem, its indicators as
attributes, and monitoring's hits as sightings.

The event's uuid, and each attribute's, is derived from workspace, post-mortem and indicator (the
attribute's is the STIX Indicator's), so a retried or repeated push finds the event it made before and
adds to it: MISP itself refuses a second event with the same uuid, so two pushes racing cannot make two.
Once the event exists it belongs to the analysts: a later push only adds the attributes it lacks (even
ones an analyst deleted count as there), and never rewrites the event's fields or an attribute, so a
cleared IDS flag or a wider distribution stands. An indicator dropped from the post-mortem stays in
MISP for an analyst to judge. The title goes out normalised and defanged, like every export; values as
they are (MISP needs the real ones).

A push failing never fails the publish: the caller records it and the next publish tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import requests
from pymisp import MISPEvent, PyMISP
from sqlalchemy.orm import Session

from bot.intel import stix
from bot.settings import Settings
from bot.slack import safe_text
from models import MispPush
from models.db import upsert

log = logging.getLogger(__name__)

MISP_TYPES = {"ipv4": "ip-dst", "ipv6": "ip-dst", "domain": "domain", "url": "url", "email": "email-src",
              "md5": "md5", "sha1": "sha1", "sha256": "sha256"}
_CATEGORIES = {"ip-dst": "Network activity", "domain": "Network activity", "url": "Network activity",
               "email-src": "Payload delivery", "md5": "Payload delivery", "sha1": "Payload delivery",
               "sha256": "Payload delivery"}
_THREAT_LEVELS = {"critical": 1, "high": 1, "medium": 2, "low": 3}  # MISP: 1 high, 2 medium, 3 low, 4 undefined
_YOUR_ORGANISATION_ONLY = 0
_ANALYSIS_COMPLETED = 2
# (connect, read) seconds for each call: publishing waits for them after the ack.
TIMEOUT = (5.0, 20.0)


# The recipient of the reminder rows that carry a push or a sighting to MISP (retried like any reminder).
REMINDER_RECIPIENT = "misp"


class MispFailed(Exception):
    """MISP could not be reached, refused, or answered something PyMISP could not read: every failure
    of a call to MISP ends as this, whose message is one short line for the facilitator."""


def configured(settings: Settings) -> bool:
    return settings.misp_url is not None and settings.misp_key is not None


def event_uuid(*, team_id: str, postmortem_id: int) -> str:
    return str(stix.object_uuid(team_id, postmortem_id, "misp-event"))


def _attribute_uuid(team_id: str, postmortem_id: int, kind: str, value: str) -> str:
    return str(stix.indicator_uuid(team_id=team_id, postmortem_id=postmortem_id, kind=kind, value=value))


@contextmanager
def _one_line_failures() -> Iterator[None]:
    """Whatever goes wrong talking to MISP (PyMISP raises its own errors, requests', and others on
    answers it cannot read) ends as MispFailed: the caller goes on with publishing or monitoring."""
    try:
        yield
    except MispFailed:
        raise
    except Exception as error:
        raise MispFailed(_reason(error)) from error


def _connect(settings: Settings) -> PyMISP:
    """PyMISP asks MISP for its version, the key's user and the attribute types as it starts."""
    assert settings.misp_url is not None and settings.misp_key is not None
    with _one_line_failures():
        return PyMISP(settings.misp_url, settings.misp_key.get_secret_value(), ssl=settings.misp_verify_tls,
                      timeout=TIMEOUT, tool="postmortem-bot")


def _reason(error: BaseException) -> str:
    """A short reason, never a response body (it may echo the key) or a stack trace. PyMISP wraps what
    went wrong while connecting in an error of its own: the cause decides."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, requests.RequestException):
        cause = cause.__cause__ or cause.__context__
    log.warning("MISP call failed: %s", type(cause or error).__name__)
    if isinstance(cause, requests.Timeout):
        return "MISP did not answer in time"
    if isinstance(cause, requests.ConnectionError):
        return "MISP could not be reached"
    return "MISP refused the request"


def _checked(response: object, what: str) -> dict[str, object]:
    """PyMISP returns errors as `{"errors": (status, body)}` rather than raising."""
    if not isinstance(response, dict) or "errors" in response:
        status = response["errors"][0] if isinstance(response, dict) and isinstance(response["errors"], tuple) else "?"
        log.warning("MISP refused to %s (status %s)", what, status)
        raise MispFailed(f"MISP refused to {what} (HTTP {status})")
    return response


def _event(facts: stix.PostmortemFacts, records: Sequence[stix.IndicatorRecord], *,
           present: frozenset[str] | None = None) -> MISPEvent:
    """The whole new event; or, given the attribute uuids an existing one holds, only what it lacks."""
    event = MISPEvent()
    event.uuid = event_uuid(team_id=facts.team_id, postmortem_id=facts.postmortem_id)
    if present is None:
        event.info = f"Post-mortem: {safe_text.data_line(facts.title)}"
        event.distribution = _YOUR_ORGANISATION_ONLY
        event.threat_level_id = _THREAT_LEVELS.get(facts.severity, 4)
        event.analysis = _ANALYSIS_COMPLETED
        event.set_date(facts.detected_at.date())
    for record in sorted(records, key=lambda r: (r.kind, r.value)):
        uuid = _attribute_uuid(facts.team_id, facts.postmortem_id, record.kind, record.value)
        if record.kind not in MISP_TYPES or uuid in (present or ()):
            continue
        misp_type = MISP_TYPES[record.kind]
        event.add_attribute(misp_type, record.value, category=_CATEGORIES[misp_type], to_ids=True, uuid=uuid,
                            first_seen=record.first_seen_at)
    return event


def _add_missing_attributes(misp: PyMISP, facts: stix.PostmortemFacts, records: Sequence[stix.IndicatorRecord]) -> None:
    uuid = event_uuid(team_id=facts.team_id, postmortem_id=facts.postmortem_id)
    # Deleted attributes too: an analyst's deletion is a verdict, not a gap to fill.
    existing = _checked(misp.get_event(uuid, deleted=True), "read the event").get("Event")
    present = frozenset(str(a.get("uuid")) for a in (existing or {}).get("Attribute", []) if isinstance(a, dict))
    additions = _event(facts, records, present=present)
    if additions.attributes:
        _checked(misp.update_event(additions, event_id=uuid), "update the event")


def push(settings: Settings, *, facts: stix.PostmortemFacts, records: Sequence[stix.IndicatorRecord]) -> str:
    """Create the post-mortem's MISP event, or add the indicators it lacks; returns its uuid. Raises MispFailed."""
    misp = _connect(settings)
    event = _event(facts, records)
    with _one_line_failures():
        if not misp.event_exists(event.uuid):
            created = misp.add_event(event)
            # Lost a race with another publish, or a retry after an answer that never came: it is there now.
            if not (isinstance(created, dict) and "errors" in created and misp.event_exists(event.uuid)):
                _checked(created, "create the event")
                return event.uuid
        _add_missing_attributes(misp, facts, records)
    return event.uuid


def add_sightings(settings: Settings, *, team_id: str, postmortem_id: int,
                  sightings: Sequence[stix.SightingRecord]) -> None:
    """Report monitoring's hits as MISP sightings on the attributes publishing pushed. Call it once per
    new hit: MISP counts every sighting it is sent. Does nothing when MISP is not configured. Raises
    MispFailed, also when the post-mortem was never pushed (no attribute to sight)."""
    if not sightings or not configured(settings):
        return
    misp = _connect(settings)
    with _one_line_failures():
        for hit in sightings:
            _checked(misp.add_sighting(
                {"source": f"postmortem-bot: Slack {hit.channel_id}/{hit.message_ts}",
                 "timestamp": int(hit.seen_at.timestamp()), "type": "0"},
                attribute=_attribute_uuid(team_id, postmortem_id, hit.indicator_kind, hit.indicator_value),
            ), "add a sighting")


def record(session: Session, *, postmortem_id: int, event: str, now: datetime, failure: str | None) -> None:
    """Remember the last attempt: when it worked, or why it did not."""
    row: dict[str, object] = {"postmortem_id": postmortem_id, "event_uuid": event, "attempted_at": now, "error": failure}
    if failure is None:
        row["pushed_at"] = now
    upsert(session, MispPush, row, key=["postmortem_id"], update=[name for name in row if name != "postmortem_id"])
