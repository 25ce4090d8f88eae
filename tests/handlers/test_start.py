"""`/postmortem start` end to end: signed requests in, the fake Slack out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from models import Participant, Postmortem, ParticipantRole
from tests.conftest import LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO, SOME_BOT
from tests.fake_slack import FakeSlack
from tests.support import SlackSim, eventually, utc

REPORT = {
    "title": "VPN credential phishing",
    "severity": "high",
    "compromised_at": utc(2026, 11, 17, 8, 30),
    "detected_at": utc(2026, 11, 17, 10, 0),
    "contained_at": utc(2026, 11, 17, 13, 0),
    "resolved_at": utc(2026, 11, 18, 9, 0),
    "system_location": "Frankfurt office, VPN concentrator",
    "system_function": "Remote-access VPN gateway",
    "identified_how": "SIEM alert on impossible travel",
    "containment_steps": "Revoked sessions, reset passwords, blocked the phishing domain",
    "impact": "Two accounts used for 90 minutes; no data left",
    "evidence": "Proxy logs, mail headers",
    "responder_ids": [RESPONDER_BERLIN, RESPONDER_TOKYO, SOME_BOT],
    "facilitator_id": LEAD,
}


def open_form(slack: SlackSim, fake: FakeSlack, text: str = "start VPN credential phishing") -> dict[str, Any]:
    reply = slack.command(text, user=LEAD)
    assert reply.status == 200
    return eventually(lambda: fake.views and fake.latest_view(), what="the incident report modal")


def test_start_opens_modal_prefilled_with_title(slack: SlackSim, fake_slack: FakeSlack) -> None:
    view = open_form(slack, fake_slack)
    title_block = next(b for b in view["blocks"] if b.get("block_id") == "title")
    assert title_block["element"]["initial_value"] == "VPN credential phishing"
    facilitator = next(b for b in view["blocks"] if b.get("block_id") == "facilitator_id")
    assert facilitator["element"]["initial_user"] == LEAD
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert "How did we find out?" in labels and "When was it detected?" in labels


def test_submission_creates_private_channel_invites_and_pins_kickoff(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    view = open_form(slack, fake_slack)
    reply = slack.submit_view(view, user=LEAD, values=REPORT)
    assert (reply.status, reply.body) == (200, "")

    channel = eventually(
        lambda: next((c for c in fake_slack.channels.values() if c.name.startswith("pm-")), None), what="channel"
    )
    assert channel.name == "pm-20261117-vpn-credential-phishing"
    assert channel.is_private
    # Facilitator and human responders invited; the other bot skipped.
    eventually(lambda: fake_slack.pins.get(channel.id), what="pinned kickoff")
    assert channel.members == {"UBOT000001", LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO}
    assert "VPN credential phishing" in channel.topic
    kickoff = fake_slack.messages[channel.id][0]
    assert fake_slack.pins[channel.id] == [kickoff["ts"]]
    assert kickoff["unfurl_links"] is False and kickoff["unfurl_media"] is False
    rendered = str(kickoff["blocks"])
    assert "Confidential" in rendered and "SIEM alert on impossible travel" in rendered
    assert "<!date^1794909600^" in rendered  # detection time rendered in each reader's zone
    ready = eventually(lambda: fake_slack.dm_messages(LEAD), what="ready DM")
    assert f"<#{channel.id}>" in ready[-1]["text"]

    with in_transaction() as session:
        postmortem = session.scalars(select(Postmortem)).one()
        assert postmortem.channel_id == channel.id and postmortem.kickoff_pinned
        assert postmortem.detected_at == REPORT["detected_at"]
        roles = {(p.user_id, p.role) for p in session.scalars(select(Participant))}
        assert roles == {
            (LEAD, ParticipantRole.FACILITATOR),
            (RESPONDER_BERLIN, ParticipantRole.RESPONDER),
            (RESPONDER_TOKYO, ParticipantRole.RESPONDER),
            (SOME_BOT, ParticipantRole.RESPONDER),
        }
