"""RFC 5545 invitations for the review meeting, built with icalendar.

Summary and description are defanged and their line breaks made LF (icalendar escapes them and folds
long lines); the location stays as typed so a calendar app can open the call link.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText

from bot.slack import safe_text

PRODUCT_ID = "-//postmortem-bot//Security incident post-mortem//EN"


def meeting_uid(meeting_id: int) -> str:
    """Stable across reschedules, so calendar apps update the same event."""
    return f"postmortem-meeting-{meeting_id}@postmortem-bot"


def build_invite(
    *,
    meeting_id: int,
    sequence: int,
    cancelled: bool,
    title: str,
    starts_at: datetime,
    duration: timedelta,
    location: str,
    description: str,
    organizer_email: str | None,
    attendee_emails: list[str],
    stamp: datetime,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", meeting_uid(meeting_id))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", starts_at)
    event.add("dtend", starts_at + duration)
    event.add("summary", safe_text.ical(f"Post-mortem review: {title}"))
    event.add("description", safe_text.ical(description))
    event.add("class", "CONFIDENTIAL")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if location:
        event.add("location", safe_text.normalise(location))
    if organizer_email:
        event["organizer"] = vCalAddress(f"mailto:{organizer_email}")
    for email in attendee_emails:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["rsvp"] = vText("TRUE")
        event.add("attendee", attendee, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
