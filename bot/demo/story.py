"""The post-mortem the demo plays: a phishing-led VPN credential theft at Northwind, reviewed by a security lead
in New York, a network engineer in Berlin and a SOC analyst in Bangalore.

Each step is what people do in Slack, sent as Slack sends it (signed requests to the real app), and waits
for what the app answers. Indicators are typed fanged, as people paste them; the app shows them defanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from bot.actions.service import BEFORE_DUE
from bot.clock import FrozenClock
from bot.demo.signed_requests import SlackSim, eventually, new_view, settled_view, wait_for_dm
from bot.demo.transcript import Transcript
from bot.runtime import Runtime
from bot.slack.double import BOT_USER_ID, FakeSlack
from models import Postmortem, Reminder, ReminderStatus
from models.db import transaction

MAYA = "U0MAYA0001"  # security lead, the facilitator
JONAS = "U0JONAS001"  # network engineer
PRIYA = "U0PRIYA001"  # SOC analyst
PEOPLE = (
    (MAYA, "Maya Chen", "America/New_York", "maya.chen@northwind.example"),
    (JONAS, "Jonas Weber", "Europe/Berlin", "jonas.weber@northwind.example"),
    (PRIYA, "Priya Raman", "Asia/Kolkata", "priya.raman@northwind.example"),
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


STORY_STARTS = utc(2026, 11, 17, 12, 30)  # Tuesday, the day after: resolved this morning
TITLE = "VPN credentials stolen via phishing"
INCIDENT_REPORT = {
    "title": TITLE,
    "severity": "high",
    "compromised_at": utc(2026, 11, 16, 13, 42),
    "detected_at": utc(2026, 11, 16, 15, 10),
    "contained_at": utc(2026, 11, 16, 17, 25),
    "resolved_at": utc(2026, 11, 17, 10, 0),
    "system_location": "Frankfurt data centre: the remote-access VPN concentrator (vpn-fra-01)",
    "system_function": "Remote access for 1,400 staff; SSO with push MFA",
    "identified_how": "SIEM impossible-travel alert: a finance analyst's VPN session from 203.0.113.77 "
                      "eleven minutes after a login from Bangalore",
    "containment_steps": "Killed the VPN sessions, reset the password, revoked MFA devices, blocked "
                         "northwind-vpn-support.com and 203.0.113.77 at the proxy and firewall",
    "impact": "One account used for 2 h 15 min; file-share browsing, no sign of data leaving",
    "evidence": "VPN and proxy logs, the phishing mail with headers, EDR timeline of the laptop",
    "responder_ids": [JONAS, PRIYA],
    "facilitator_id": MAYA,
}
WAR_ROOM_MESSAGES = (
    (PRIYA, utc(2026, 11, 16, 15, 14), "Impossible travel on d.okafor: VPN login from 203.0.113.77 (NL) while she "
                                       "is in Bangalore. Phish came from helpdesk@northwind-vpn-support.com, link "
                                       "https://northwind-vpn-support.com/vpn/auth.php"),
    (JONAS, utc(2026, 11, 16, 15, 31), "Session killed on vpn-fra-01, 203.0.113.77 and 198.51.100.23 blocked at the "
                                       "edge firewall"),
)
QUESTIONNAIRE = {
    JONAS: {
        "time_to_resolution": "About 19 hours, most of it waiting for the MFA device reset",
        "earlier_detection": "Yes: the mail gateway scored the lure as suspicious and delivered it anyway",
        "resources": "Yes, but only one person could revoke MFA devices at night",
        "better_response": "A runbook for VPN session kills; we lost 20 minutes finding the right console",
        "automation": "Kill VPN sessions and revoke MFA devices from the SIEM alert",
        "random_or_targeted": "Targeted: the page copied our VPN portal and the mail named our helpdesk",
    },
    PRIYA: {
        "time_to_resolution": "19 hours from the alert to the all-clear",
        "earlier_detection": "The lookalike domain was registered 3 days before; a new-domain feed would have flagged it",
        "resources": "The night shift had no access to the MFA admin console",
        "better_response": "Page the on-call network engineer with the alert, not after triage",
        "automation": "Block newly registered domains at the mail gateway",
        "random_or_targeted": "Targeted: the lookalike domain and the helpdesk signature were ours",
    },
}
FIGURES = {"unpatched_vulnerabilities": "3", "alert_volume": "1840", "false_alarms": "212", "tickets_opened": "14",
           "tickets_closed": "11", "unauthorized_assets": "2", "threats_blocked": "57"}
ACTIONS = (
    (PRIYA, "2026-11-27", "Block newly registered domains at the mail gateway"),
    (JONAS, "2026-12-04", "Require phishing-resistant MFA (FIDO2 keys) on the VPN"),
    (MAYA, "2026-12-11", "Run a phishing drill with a VPN-portal lure"),
)


@dataclass
class Stage:
    """Everything a step needs, and what the steps found out for the later ones."""

    double: FakeSlack
    slack: SlackSim
    clock: FrozenClock
    runtime: Runtime
    transcript: Transcript
    war_room: str = ""
    channel: str = ""
    postmortem_id: int = 0
    seen: dict[str, Any] = field(default_factory=dict)

    def new_view(self, callback_id: str, open_it: Callable[[], Any]) -> dict[str, Any]:
        """Open a modal and wait for it to be filled in (it opens at once with a loading notice)."""
        return new_view(self.double, callback_id, open_it)

    def submit(self, view: dict[str, Any], *, user: str, values: dict[str, Any]) -> dict[str, Any]:
        """Submit a form; returns what the modal ends on."""
        reply = self.slack.submit_view(view, user=user, values=values).json() or {}
        if reply.get("response_action") == "errors":
            raise AssertionError(f"the {view.get('callback_id')} form was refused: {reply['errors']}")
        if ":hourglass" in json.dumps(reply.get("view")):  # "Saving…": the outcome follows with views.update
            return settled_view(self.double, view["id"])
        return reply.get("view") or {}

    def jump_to(self, moment: datetime, why: str) -> None:
        """Move the story's clock: the app and its reminder dispatcher live at this moment from now on."""
        self.clock.current = moment
        self.transcript.say(f"  >> The clock jumps to {moment:%a %d %b %H:%M} UTC: {why}")

    def wait_for_response(self, fragment: str) -> dict[str, Any]:
        return eventually(lambda: next((r for r in reversed(self.double.responses) if fragment in r.get("text", "")), None),
                          what=f"an answer containing {fragment!r}")


def add_people(double: FakeSlack) -> None:
    for user_id, name, tz, email in PEOPLE:
        double.add_user(user_id, name=name, tz=tz, email=email)


# -- the steps ---------------------------------------------------------------------------------------------
def report_the_incident(stage: Stage) -> None:
    t = stage.transcript
    stage.war_room = stage.double.add_channel("inc-2211-vpn-phishing", members=[BOT_USER_ID, MAYA, JONAS, PRIYA])
    t.act(MAYA, f"/postmortem start {TITLE}   (in #inc-2211-vpn-phishing, the war room)")
    view = stage.new_view("incident_report", lambda: stage.slack.command(f"start {TITLE}", user=MAYA, channel=stage.war_room))
    t.modal(MAYA, view)
    t.say(f"  Maya fills in the report (times in UTC: compromise {INCIDENT_REPORT['compromised_at']:%d %b %H:%M}, "
          f"detection {INCIDENT_REPORT['detected_at']:%H:%M}, containment {INCIDENT_REPORT['contained_at']:%H:%M}, "
          f"resolved {INCIDENT_REPORT['resolved_at']:%d %b %H:%M}) and submits.")
    settled = stage.submit(view, user=MAYA, values=INCIDENT_REPORT)
    t.modal(MAYA, settled, caption="sees")
    wait_for_dm(stage.double, MAYA, "is ready")


def open_the_private_channel(stage: Stage) -> None:
    with transaction(stage.runtime.sessions) as session:
        postmortem = session.scalars(select(Postmortem)).one()
        stage.postmortem_id, stage.channel = postmortem.id, postmortem.channel_id or ""
    channel = stage.double.channels[stage.channel]
    eventually(lambda: stage.double.pins.get(stage.channel), what="the pinned kickoff")
    for user in (MAYA, JONAS, PRIYA):
        wait_for_dm(stage.double, user, "review questions")
    members = ", ".join(stage.transcript.person(m) for m in sorted(channel.members) if m != BOT_USER_ID)
    stage.transcript.say(f"  The bot created #{channel.name} (private), topic \"{channel.topic}\"; members: {members}.")
    stage.transcript.look()


def schedule_the_meeting(stage: Stage) -> None:
    t = stage.transcript
    t.act(MAYA, "/postmortem schedule   (in the review channel)")
    view = stage.new_view("meeting_form", lambda: stage.slack.command("schedule", user=MAYA, channel=stage.channel))
    t.modal(MAYA, view)
    suggested = next(b for b in view["blocks"] if b.get("block_id") == "starts_at")["element"]["initial_date_time"]
    stage.seen["meeting_at"] = datetime.fromtimestamp(suggested, timezone.utc)
    t.say("  Maya keeps the suggested start and submits.")
    settled = stage.submit(view, user=MAYA, values={"starts_at": stage.seen["meeting_at"], "duration": "60",
                                                    "location": "Zoom, meeting ID 884 1209 5533",
                                                    "agenda": _initial(view, "agenda")})
    t.modal(MAYA, settled, caption="sees")
    eventually(lambda: any(f["filename"] == "postmortem-review.ics" and f["channels"] for f in stage.double.files.values()),
               what="the .ics invite")
    for user in (MAYA, JONAS, PRIYA):
        wait_for_dm(stage.double, user, "You're invited")
    t.look()


def take_notes(stage: Stage) -> None:
    t = stage.transcript
    t.act(JONAS, "/postmortem note Proxy logs show 4 more staff opened the lure; none entered credentials")
    stage.slack.ask("note Proxy logs show 4 more staff opened the lure; none entered credentials", user=JONAS,
                    channel=stage.channel)
    t.look()
    t.act(PRIYA, "/postmortem note   (the form, for a timeline entry)")
    view = stage.new_view("note_form", lambda: stage.slack.command("note", user=PRIYA, channel=stage.channel))
    settled = stage.submit(view, user=PRIYA, values={
        "category": "timeline", "occurred_at": utc(2026, 11, 16, 13, 42),
        "text": "d.okafor entered her credentials on https://northwind-vpn-support.com/vpn/auth.php and approved "
                "the MFA push (EDR browser history)"})
    t.modal(PRIYA, settled, caption="sees")
    t.act(MAYA, "/postmortem note   (the form, for a lesson)")
    view = stage.new_view("note_form", lambda: stage.slack.command("note", user=MAYA, channel=stage.channel))
    t.modal(MAYA, view)
    t.modal(MAYA, stage.submit(view, user=MAYA, values={
        "category": "lesson", "text": "Push MFA is not enough against a real-time phishing proxy: move the VPN to FIDO2"}),
        caption="sees")
    t.act(MAYA, "/postmortem note   (the form, for what went well)")
    view = stage.new_view("note_form", lambda: stage.slack.command("note", user=MAYA, channel=stage.channel))
    t.modal(MAYA, stage.submit(view, user=MAYA, values={
        "category": "went_well", "text": "Impossible-travel alert fired within 90 minutes; session killed 21 minutes later"}),
        caption="sees")
    t.look()


def capture_the_war_room(stage: Stage) -> None:
    t = stage.transcript
    for author, when, text in WAR_ROOM_MESSAGES:
        message = stage.double.add_message(stage.war_room, user=author, text=text)
        t.look()
        t.act(MAYA, "Add to post-mortem   (the message shortcut on it)")
        view = stage.new_view("note_form", lambda: stage.slack.interaction({
            "type": "message_action", "callback_id": "add_to_postmortem", "user": {"id": MAYA},
            "channel": {"id": stage.war_room, "name": "inc-2211-vpn-phishing"}, "message": message,
            "message_ts": message["ts"], "trigger_id": stage.double.issue_trigger(),
            "response_url": stage.double.response_url()}))
        settled = stage.submit(view, user=MAYA, values={"postmortem_id": str(stage.postmortem_id), "category": "timeline",
                                                        "text": text, "occurred_at": when})
        t.modal(MAYA, settled, caption="sees")
    t.look()


def answer_the_questions(stage: Stage) -> None:
    t = stage.transcript
    for user, answers in QUESTIONNAIRE.items():
        invitation = wait_for_dm(stage.double, user, "review questions")
        button = invitation["blocks"][1]["elements"][0]
        t.act(user, f"presses [{button['text']['text']}] in the bot's DM")
        view = stage.new_view("questionnaire", lambda: stage.slack.press(button["action_id"], button["value"], user=user))
        settled = stage.submit(view, user=user, values=answers)
        t.modal(user, settled, caption="sees")
    t.look()


def meeting_reminder(stage: Stage) -> None:
    t = stage.transcript
    stage.jump_to(stage.seen["meeting_at"] - timedelta(minutes=15), "15 minutes before the meeting. The dispatcher wakes.")
    eventually(lambda: any("Reminder: the post-mortem review meeting" in m["text"] for m in stage.double.messages[stage.channel]),
               what="the meeting reminder in the channel")
    wait_for_dm(stage.double, MAYA, ":alarm_clock:")  # Maya has not answered the questions: she is nudged
    t.look()


def classify_and_count(stage: Stage) -> None:
    t = stage.transcript
    stage.jump_to(stage.seen["meeting_at"] + timedelta(hours=2), "the meeting is over.")
    t.act(MAYA, "/postmortem classify")
    view = stage.new_view("classification", lambda: stage.slack.command("classify", user=MAYA, channel=stage.channel))
    t.modal(MAYA, view)
    settled = stage.submit(view, user=MAYA, values={
        "classification": "targeted", "attack_vector": "phishing",
        "rationale": "Lookalike domain northwind-vpn-support.com registered 3 days before, cloned VPN portal, our "
                     "helpdesk signature"})
    t.modal(MAYA, settled, caption="sees")
    t.act(MAYA, "/postmortem scorecard-entry")
    view = stage.new_view("scorecard", lambda: stage.slack.command("scorecard-entry", user=MAYA, channel=stage.channel))
    settled = stage.submit(view, user=MAYA, values=FIGURES)
    t.say("  Figures this month: " + ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in FIGURES.items()))
    t.modal(MAYA, settled, caption="sees")
    t.look()


def assign_follow_ups(stage: Stage) -> None:
    t = stage.transcript
    for owner, due, task in ACTIONS:
        name = stage.double.users[owner]["name"]
        t.act(MAYA, f"/postmortem action @{name} {due} {task}")
        stage.slack.ask(f"action <@{owner}|{name}> {due} {task}", user=MAYA, channel=stage.channel)
        wait_for_dm(stage.double, owner, task)
        eventually(lambda: any(task in m["text"] for m in stage.double.messages[stage.channel]),
                   what=f"the new follow-up {task!r} in the review channel")  # else it shows under the next one
        t.look()


def follow_up_reminder(stage: Stage) -> None:
    t = stage.transcript
    with transaction(stage.runtime.sessions) as session:
        first = session.scalars(select(Reminder).where(Reminder.kind == BEFORE_DUE, Reminder.status == ReminderStatus.PENDING)
                                .order_by(Reminder.due_at).limit(1)).first()
        assert first is not None, "no follow-up reminder was planned"
        due_at, owner = first.due_at, first.recipient_id
    sent_before = len(stage.double.dm_messages(owner))
    stage.jump_to(due_at, f"the start of {t.person(owner)}'s working day, 3 days before the action is due. "
                          "The dispatcher wakes.")
    eventually(lambda: len(stage.double.dm_messages(owner)) > sent_before, what="the follow-up reminder")
    t.look()


def publish_the_report(stage: Stage) -> None:
    t = stage.transcript
    t.act(MAYA, "/postmortem report")
    stage.slack.command("report", user=MAYA, channel=stage.channel)
    draft = stage.wait_for_response("Draft report")
    t.look()
    button = next(b for b in draft["blocks"][-1]["elements"] if b["text"]["text"] == "Publish")
    t.act(MAYA, "presses [Publish]")
    stage.slack.press(button["action_id"], button["value"], user=MAYA)
    stage.wait_for_response("is published")
    stage.seen["summary"] = eventually(lambda: next(
        (m for m in stage.double.messages[stage.channel] if m["text"].startswith("Post-mortem report v")), None),
        what="the report summary")
    t.look()


def close_it(stage: Stage) -> None:
    t = stage.transcript
    t.act(MAYA, "/postmortem close")
    stage.slack.ask("close", user=MAYA, channel=stage.channel)
    stage.wait_for_response("closed and read-only")
    eventually(lambda: stage.double.channels[stage.channel].is_archived, what="the archived channel")
    t.look()
    t.say(f"  #{stage.double.channels[stage.channel].name} is archived; the follow-ups stay tracked.")


def look_at_the_scorecard(stage: Stage) -> None:
    t = stage.transcript
    t.act(MAYA, "/postmortem scorecard all")
    stage.slack.command("scorecard all", user=MAYA, channel=stage.channel)
    stage.wait_for_response("Security scorecard")
    eventually(lambda: any(f["filename"].endswith(".png") for f in stage.double.files.values()),
               what="the scorecard chart in Maya's DM")
    t.look()


STEPS: tuple[tuple[str, Callable[[Stage], None]], ...] = (
    ("Maya reports the incident", report_the_incident),
    ("The private review channel opens", open_the_private_channel),
    ("Maya schedules the review across New York, Berlin and Bangalore", schedule_the_meeting),
    ("Notes go in: a quick one, a timeline entry, a lesson, what went well", take_notes),
    ("War-room messages become timeline notes", capture_the_war_room),
    ("Jonas and Priya answer the review questions", answer_the_questions),
    ("Fast clock: the meeting reminder fires", meeting_reminder),
    ("Classification and preventive figures", classify_and_count),
    ("Follow-up actions with owners", assign_follow_ups),
    ("Fast clock: a follow-up reminder fires", follow_up_reminder),
    ("Maya publishes the report", publish_the_report),
    ("Maya looks at the security scorecard", look_at_the_scorecard),
    ("Maya closes the post-mortem", close_it),
)


def _initial(view: dict[str, Any], block_id: str) -> str:
    return str(next(b for b in view["blocks"] if b.get("block_id") == block_id)["element"].get("initial_value") or "")
