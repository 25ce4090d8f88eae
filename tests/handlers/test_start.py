"""`/postmortem start` end to end: signed requests in, the fake Slack out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.demo.signed_requests import SlackSim, eventually, wait_for_dm
from bot.slack.double import FakeSlack
from models import Participant, ParticipantRole, Postmortem
from tests.conftest import LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO, SOME_BOT
from tests.support import utc

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
    ready = wait_for_dm(fake_slack, LEAD, "is ready")
    assert f"<#{channel.id}>" in ready["text"]

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


def submit_expecting_errors(slack: SlackSim, fake: FakeSlack, **changes: Any) -> dict[str, str]:
    view = open_form(slack, fake)
    reply = slack.submit_view(view, user=LEAD, values={**REPORT, **changes})
    assert reply.status == 200
    body = reply.json()
    assert body["response_action"] == "errors"
    return body["errors"]


def count_postmortems(in_transaction: Any) -> int:
    with in_transaction() as session:
        return session.scalar(select(func.count()).select_from(Postmortem))


def test_blank_title_is_refused_inline(slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any) -> None:
    errors = submit_expecting_errors(slack, fake_slack, title="   ")
    assert errors == {"title": "Give the incident a short title, e.g. “VPN credential phishing”."}
    assert count_postmortems(in_transaction) == 0
    assert fake_slack.calls_to("conversations.create") == []


def test_detection_before_compromise_is_refused_inline(slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any) -> None:
    errors = submit_expecting_errors(slack, fake_slack, compromised_at=utc(2026, 11, 17, 11, 0))
    assert errors == {"detected_at": "Detection can't come before the compromise began."}
    assert count_postmortems(in_transaction) == 0


def test_resolution_before_detection_is_refused_inline(slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any) -> None:
    errors = submit_expecting_errors(slack, fake_slack, contained_at=None, resolved_at=utc(2026, 11, 17, 9, 0))
    assert errors == {"resolved_at": "Resolution can't come before detection."}
    assert count_postmortems(in_transaction) == 0


def test_future_date_is_refused_inline(slack: SlackSim, fake_slack: FakeSlack) -> None:
    # The clock is frozen at 2026-11-20 15:00 UTC.
    errors = submit_expecting_errors(slack, fake_slack, resolved_at=utc(2026, 11, 21, 9, 0))
    assert errors == {"resolved_at": "This is in the future. Enter when it actually happened."}


def test_over_long_text_is_refused_inline_with_the_limit(slack: SlackSim, fake_slack: FakeSlack) -> None:
    errors = submit_expecting_errors(slack, fake_slack, impact="x" * 2501)
    assert errors == {"impact": "Keep this under 2500 characters (it has 2501); attach the rest as evidence files."}


def test_same_submission_delivered_twice_makes_one_postmortem_and_one_channel(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    view = open_form(slack, fake_slack)
    assert slack.submit_view(view, user=LEAD, values=REPORT).status == 200
    wait_for_dm(fake_slack, LEAD, "is ready")
    assert slack.submit_view(view, user=LEAD, values=REPORT).status == 200
    assert count_postmortems(in_transaction) == 1
    assert len(fake_slack.calls_to("conversations.create")) == 1
    # kickoff, 3 questionnaire DMs (the other bot gets none), one "ready" DM
    assert len(fake_slack.calls_to("chat.postMessage")) == 5


def test_name_taken_gets_a_suffix(slack: SlackSim, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("pm-20261117-vpn-credential-phishing")
    view = open_form(slack, fake_slack)
    slack.submit_view(view, user=LEAD, values=REPORT)
    wait_for_dm(fake_slack, LEAD, "is ready")
    assert fake_slack.channel_named("pm-20261117-vpn-credential-phishing-2").is_private


def test_user_text_cannot_ping_anyone(slack: SlackSim, fake_slack: FakeSlack) -> None:
    view = open_form(slack, fake_slack)
    slack.submit_view(view, user=LEAD, values={**REPORT, "impact": "<!channel> see <@U0BERLIN01> & <https://evil.example|x>"})
    wait_for_dm(fake_slack, LEAD, "is ready")
    kickoff = next(m for msgs in fake_slack.messages.values() for m in msgs if "kickoff" in m["text"])
    rendered = str(kickoff["blocks"])
    assert "&lt;!channel&gt; see &lt;@U0BERLIN01&gt; &amp; &lt;hxxps://evil[.]example|x&gt;" in rendered
    assert "<!channel>" not in rendered


def test_channel_refused_keeps_postmortem_and_retry_resumes_without_duplicates(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    fake_slack.inject("conversations.invite", error="user_is_restricted")
    view = open_form(slack, fake_slack)
    slack.submit_view(view, user=LEAD, values=REPORT)

    failure = wait_for_dm(fake_slack, LEAD, "could not")
    assert failure["text"] == (
        ":warning: I saved the post-mortem *VPN credential phishing*, but I could not invite the responders "
        "(Slack said `user_is_restricted`). Nothing is lost. Press *Retry* or type `/postmortem retry` "
        "and I'll pick up where I stopped."
    )
    with in_transaction() as session:
        postmortem = session.scalars(select(Postmortem)).one()
        assert postmortem.channel_id is not None and not postmortem.kickoff_pinned
        assert postmortem.provisioning_error == "invite: user_is_restricted"

    reply = slack.ask("retry", user=LEAD)
    assert reply.text == "Picking up where I stopped. I'll message you when it's done."
    wait_for_dm(fake_slack, LEAD, "is ready")
    assert len(fake_slack.calls_to("conversations.create")) == 1
    channel = fake_slack.channels[postmortem.channel_id]
    assert channel.members == {"UBOT000001", LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO}
    assert len(fake_slack.messages[channel.id]) == 1 and len(fake_slack.pins[channel.id]) == 1

    # Nothing left to retry now.
    assert slack.ask("retry", user=LEAD).text == "Nothing to retry: every post-mortem you started is fully set up."


def test_retry_button_resumes_after_rate_limit_past_retries(slack: SlackSim, fake_slack: FakeSlack) -> None:
    # 4 x 429 exhausts the gateway's 3 retries on pins.add.
    fake_slack.inject("pins.add", status=429, retry_after=0, times=4)
    view = open_form(slack, fake_slack)
    slack.submit_view(view, user=LEAD, values=REPORT)
    failure = wait_for_dm(fake_slack, LEAD, "could not", timeout=20)
    assert "could not pin the kickoff message (Slack said `ratelimited`)" in failure["text"]
    retry_button = failure["blocks"][1]["elements"][0]

    slack.press(retry_button["action_id"], retry_button["value"], user=LEAD)
    wait_for_dm(fake_slack, LEAD, "is ready")
    # kickoff once, failure DM, 3 questionnaire DMs, ready DM
    assert len(fake_slack.calls_to("chat.postMessage")) == 6
    assert len(fake_slack.calls_to("pins.add")) == 5


def test_retry_button_from_someone_else_is_refused(slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any) -> None:
    fake_slack.inject("conversations.create", error="restricted_action")
    view = open_form(slack, fake_slack)
    slack.submit_view(view, user=LEAD, values=REPORT)
    failure = wait_for_dm(fake_slack, LEAD, "could not")
    button = failure["blocks"][1]["elements"][0]
    slack.press(button["action_id"], button["value"], user=RESPONDER_TOKYO)
    refusal = eventually(lambda: fake_slack.dm_messages(RESPONDER_TOKYO), what="refusal")[-1]
    assert refusal["text"] == "Only the person who started a post-mortem, or its facilitator, can do that."
    assert len(fake_slack.calls_to("conversations.create")) == 1


def test_expired_trigger_tells_the_user_to_run_the_command_again(slack: SlackSim, fake_slack: FakeSlack) -> None:
    trigger = fake_slack.issue_trigger()
    fake_slack.expire_trigger(trigger)
    assert slack.command("start", user=LEAD, trigger_id=trigger).status == 200
    response = eventually(lambda: fake_slack.responses, what="response_url message")[-1]
    assert response["text"] == "Slack closed the window for opening the form before I could. Please run `/postmortem start` again."
    assert response["response_type"] == "ephemeral"


def test_word_payload_in_a_slash_command_reaches_the_listener(slack: SlackSim, fake_slack: FakeSlack) -> None:
    reply = slack.command("start Malicious payload in invoice attachment", user=LEAD)
    assert reply.status == 200
    view = eventually(lambda: fake_slack.views and fake_slack.latest_view(), what="modal")
    title = next(b for b in view["blocks"] if b.get("block_id") == "title")
    assert title["element"]["initial_value"] == "Malicious payload in invoice attachment"


def test_help_and_unknown_subcommand(slack: SlackSim) -> None:
    help_text = slack.command("help", user=LEAD).body
    assert "`/postmortem start`" in help_text and "`/postmortem retry`" in help_text
    assert slack.command("", user=LEAD).body == help_text
    unknown = slack.command("frobnicate <!here>", user=LEAD).body
    assert unknown == "I don't know `frobnicate`.\n\n" + help_text


def test_bad_signature_and_stale_timestamp_get_401(slack: SlackSim) -> None:
    body = "command=%2Fpostmortem&text=help&user_id=U0LEAD0001"
    assert slack.post(body, signature="v0=" + "0" * 64).status == 401
    import time

    stale = int(time.time()) - 6 * 60
    assert slack.post(body, timestamp=stale).status == 401
    assert slack.post(body).status == 200
