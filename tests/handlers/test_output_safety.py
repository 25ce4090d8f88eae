"""Issue 10, "Found" 1-6, end to end: signed requests in, the fake Slack (which validates every
message and view against the Block Kit schema) out, both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.signed_requests import SlackSim, eventually, wait_for_dm
from bot.slack import safe_text
from bot.slack.double import FakeSlack, _Contract
from models import Indicator, Note, Postmortem
from tests.conftest import LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.handlers.test_meetings import TUESDAY_1600, invites, schedule
from tests.handlers.test_notes import capture
from tests.handlers.test_reports import documents, publish
from tests.handlers.test_start import REPORT, open_form
from tests.hostile import no_live_slack_markup, texts_of

HOSTILE_TITLE = "<!channel> <http://x.example|click> & co"


def start(slack: SlackSim, fake: FakeSlack, in_transaction: Any, **report: Any) -> Postmortem:
    """A post-mortem set up through the real flow with these report fields; waits for the outcome DM."""
    view = open_form(slack, fake)
    slack.submit_view(view, user=LEAD, values={**REPORT, **report})
    wait_for_dm(fake, LEAD, "review channel")
    with in_transaction() as session:
        return session.scalars(select(Postmortem)).one()


def stored_indicators(in_transaction: Any) -> set[tuple[str, str]]:
    with in_transaction() as session:
        return set(session.execute(select(Indicator.kind, Indicator.value)).tuples())


def sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


# -- Found 1: escaping ran after the length checks ------------------------------------------------
def test_kickoff_with_2400_ampersand_heavy_evidence_is_pinned_and_questionnaires_go_out(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    evidence = "proxy?a=1&b=2 " * 171 + "end&"  # 2,398 characters, 343 `&`
    assert len(evidence) <= 2500
    postmortem = start(slack, fake_slack, in_transaction, evidence=evidence)
    assert postmortem.kickoff_pinned and postmortem.provisioning_error is None
    assert fake_slack.pins[postmortem.channel_id] == [postmortem.kickoff_ts]
    kickoff = next(m for m in fake_slack.messages[postmortem.channel_id] if m["ts"] == postmortem.kickoff_ts)
    shown = next(s for s in sections(kickoff["blocks"]) if s.startswith("*Evidence collected*"))
    assert len(shown) <= 3000 and shown.endswith(safe_text.SHORTENED)
    assert "proxy?a=1&amp;b=2 proxy" in shown
    for responder in (RESPONDER_BERLIN, RESPONDER_TOKYO):
        wait_for_dm(fake_slack, responder, "review questions")


def test_notes_list_and_confirmation_modal_fit_a_note_of_ampersands(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    quick = slack.ask("note " + "&amp;" * 600, user=RESPONDER_BERLIN, channel=channel)  # 600 `&`, as Slack sends them
    assert quick.text.startswith(":memo: Added to *VPN credential phishing*: &amp;&amp;")

    listing = slack.ask("notes", user=RESPONDER_BERLIN, channel=channel).json()
    assert _Contract.load().block_errors(listing["blocks"]) == []
    [note_section] = [b for b in listing["blocks"] if b["type"] == "section"][1:]
    assert len(note_section["text"]["text"]) <= 3000 and note_section["text"]["text"].endswith(safe_text.SHORTENED)
    assert {o["value"].split(":")[0] for o in note_section["accessory"]["options"]} == {"edit", "delete", "action"}

    slack.command("note", user=RESPONDER_BERLIN, channel=channel)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    answer = slack.submit_view(view, user=RESPONDER_BERLIN, values={"category": "evidence", "text": "&" * 3000}).json()
    assert answer["response_action"] == "update"
    assert _Contract.load().block_errors(answer["view"]["blocks"]) == []
    [confirmation] = sections(answer["view"]["blocks"])
    assert confirmation.startswith(":memo: Added to") and len(confirmation) <= 3000
    with in_transaction() as session:
        assert sorted(len(n.text) for n in session.scalars(select(Note))) == [600, 3000]


def test_agenda_of_500_ampersands_still_announces_invites_and_tells_everyone(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    reply = schedule(slack, fake_slack, channel, TUESDAY_1600, agenda="&" * 500)
    assert reply["response_action"] == "update"
    announcement = eventually(lambda: next((m for m in fake_slack.messages[channel]
                                            if m["text"].startswith("Post-mortem review meeting")), None))
    agenda = next(s for s in sections(announcement["blocks"]) if s.startswith("*Agenda*"))
    assert agenda == "*Agenda*\n" + "&amp;" * 500  # 2,509 characters once escaped: it fits whole
    [invite] = eventually(lambda: invites(fake_slack), what="the .ics")
    assert str(invite.walk("VEVENT")[0]["DESCRIPTION"]).startswith("&" * 500)
    for user in (LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO):
        wait_for_dm(fake_slack, user, "You're invited")


# -- Found 2: indicators shown live outside notes -------------------------------------------------
def test_ics_summary_and_description_are_defanged(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    postmortem = start(slack, fake_slack, in_transaction, title="Phish via evil-login.com")
    schedule(slack, fake_slack, postmortem.channel_id, TUESDAY_1600,
             agenda="Walk through http://evil-login.com/vpn\rand mail from hr@evil-login.com\u2028done")
    [invite] = eventually(lambda: invites(fake_slack), what="the .ics")
    event = invite.walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Post-mortem review: Phish via evil-login[.]com"
    assert str(event["DESCRIPTION"]).startswith(
        "Walk through hxxp://evil-login[.]com/vpn\nand mail from hr[@]evil-login[.]com\ndone\n\n")
    raw = next(f["content"] for f in fake_slack.files.values() if f["filename"] == "postmortem-review.ics")
    assert b"evil-login.com" not in raw.replace(b"\r\n ", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    announcement = next(m for m in fake_slack.messages[postmortem.channel_id] if m["text"].startswith("Post-mortem review"))
    assert "evil-login.com" not in str(announcement)


def test_report_shows_no_live_indicator_from_actions_or_lessons(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    # As Slack sends a one-liner: the mention and the link in its own markup.
    assert slack.command(f"action <@{RESPONDER_BERLIN}|ben> 2026-11-30 block <http://evil-dl.net/payload.exe>",
                         user=LEAD, channel=channel).status == 200
    dm = wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up")
    assert dm["text"] == "New follow-up: block hxxp://evil-dl[.]net/payload[.]exe"
    lesson = "Train people " + "x" * 270 + " http://evil-login.com/reset-your-password"
    slack.command("note", user=LEAD, channel=channel)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    slack.submit_view(view, user=LEAD, values={"category": "lesson", "text": lesson})

    summary = publish(slack, fake_slack, channel)
    markdown, html = documents(fake_slack, 1)
    assert "hxxp://evil-dl[.]net/payload[.]exe" in html and "hxxp://evil-dl\\[.\\]net/payload\\[.\\]exe" in markdown
    summary_text = str(summary["blocks"])
    assert "evil-lo" not in summary_text.replace("evil-login[.]com", "") and safe_text.SHORTENED in summary_text
    for document in (markdown, html, summary_text):
        assert "http://" not in document and "evil-dl.net" not in document and "evil-login.com" not in document
    assert {("url", "http://evil-dl.net/payload.exe"), ("url", "http://evil-login.com/reset-your-password")} <= \
        stored_indicators(in_transaction)


# -- Found 3: forms ioc-finder misses ------------------------------------------------------------
def test_forms_ioc_finder_misses_are_recorded_and_echoed_defanged(
    slack: SlackSim, started: tuple[int, str], in_transaction: Any
) -> None:
    _, channel = started
    forms = "http://3405803781/gate.php http://0xCB007105/ http://[2001:db8::66]/x http://intranet-sso/login http://пример.рф/"
    reply = slack.ask(f"note {forms}", user=LEAD, channel=channel)
    assert reply.text.endswith(": hxxp://3405803781/gate[.]php hxxp://0xCB007105/ hxxp://[2001[:]db8[:][:]66]/x "
                               "hxxp://intranet-sso/login hxxp://пример[.]рф/")
    assert {("url", "http://3405803781/gate.php"), ("url", "http://0xCB007105/"), ("ipv4", "203.0.113.5"),
            ("url", "http://[2001:db8::66]/x"), ("ipv6", "2001:db8::66"), ("url", "http://intranet-sso/login"),
            ("url", "http://пример.рф/"), ("domain", "пример.рф")} <= stored_indicators(in_transaction)


# -- Found 4: Slack's own text format stored as the value -----------------------------------------
def test_captured_message_in_slack_format_stores_the_real_values(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], in_transaction: Any
) -> None:
    postmortem_id, channel = started
    war_room = fake_slack.add_channel("incident-war-room", members=[LEAD, "UBOT000001"])
    message = fake_slack.add_message(war_room, user=LEAD, text=(
        "Beacon <https://cdn.evil-login.com/a?id=7&amp;k=9> and <mailto:hr@evil-login.com|hr@evil-login.com>, 1 &lt; 2"))
    capture(slack, fake_slack, war_room, message, user=LEAD)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    typed = next(b for b in view["blocks"] if b.get("block_id") == "text")["element"]["initial_value"]
    assert typed == "Beacon https://cdn.evil-login.com/a?id=7&k=9 and hr@evil-login.com, 1 < 2"
    answer = slack.submit_view(view, user=LEAD, values={"postmortem_id": str(postmortem_id), "category": "timeline",
                                                         "text": typed}).json()
    [confirmation] = sections(answer["view"]["blocks"])
    assert confirmation.endswith("Beacon hxxps://cdn[.]evil-login[.]com/a?id=7&amp;k=9 and hr[@]evil-login[.]com, 1 &lt; 2")
    found = stored_indicators(in_transaction)
    assert {("url", "https://cdn.evil-login.com/a?id=7&k=9"), ("email", "hr@evil-login.com")} <= found
    assert not [value for _, value in found if "&amp;" in value or "|" in value or value.endswith(">")]

    reply = slack.ask("note 1 &lt; 2 &amp;&amp; 3 &gt; 2", user=LEAD, channel=channel)
    assert reply.text.endswith(": 1 &lt; 2 &amp;&amp; 3 &gt; 2")  # escaped once, not `&amp;lt;`
    with in_transaction() as session:
        assert "1 < 2 && 3 > 2" in session.scalars(select(Note.text)).all()


# -- Found 5: raw mrkdwn reaching channels and notifications --------------------------------------
def test_topic_dm_texts_notes_list_and_actions_heading_hold_no_live_mention(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    postmortem = start(slack, fake_slack, in_transaction, title=HOSTILE_TITLE)
    channel = fake_slack.channels[postmortem.channel_id]
    assert channel.topic == ("Post-mortem: &lt;!channel&gt; &lt;hxxp://x[.]example|click&gt; &amp; co"
                             " · severity high · confidential")
    ready = wait_for_dm(fake_slack, LEAD, "review channel")
    kickoff = next(m for m in fake_slack.messages[postmortem.channel_id] if m["ts"] == postmortem.kickoff_ts)

    slack.command(f"action <@{RESPONDER_BERLIN}|ben> 2026-11-30 Tell <!here> about <http://x.example|this>",
                  user=LEAD, channel=postmortem.channel_id)
    dm = wait_for_dm(fake_slack, RESPONDER_BERLIN, "New follow-up")
    assert dm["text"] == "New follow-up: Tell @here about this (hxxp://x[.]example)"
    slack.ask("note look at <!everyone>", user=LEAD, channel=postmortem.channel_id)  # saved before the list below
    notes = slack.ask("notes", user=LEAD, channel=postmortem.channel_id).json()
    everything = slack.ask("actions all", user=LEAD, channel=postmortem.channel_id).json()
    assert everything["blocks"][0]["text"]["text"] == \
        "*Follow-ups of &lt;!channel&gt; &lt;hxxp://x[.]example|click&gt; &amp; co*"

    for text in (channel.topic, ready["text"], kickoff["text"], dm["text"], notes["text"], everything["text"]):
        assert "<!" not in text and "<http" not in text
    for blocks in (kickoff["blocks"], notes["blocks"], everything["blocks"], dm["blocks"]):
        for text in texts_of(blocks, kind="mrkdwn"):
            no_live_slack_markup(text)  # only the bot's own <@U…> and <!date^…> are markup


# -- Found 6: line breaks and control characters --------------------------------------------------
def test_control_characters_in_impact_are_dropped_before_the_database(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    postmortem = start(slack, fake_slack, in_transaction, impact="Two accounts\x00 used\x1b for\r\n90 minutes\rno data left")
    assert postmortem.impact == "Two accounts used for\n90 minutes\nno data left"
    assert postmortem.kickoff_pinned


def test_bare_cr_and_line_separators_make_no_markdown_structure(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], clock: FrozenClock
) -> None:
    _, channel = started
    slack.command("note", user=LEAD, channel=channel)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "note_form" and fake_slack.latest_view())
    slack.submit_view(view, user=LEAD, values={"category": "went_wrong",
                                               "text": "Pager was silent\r# Owned\r---\r- listed\u20281. numbered\u2029> quoted"})
    clock.advance(timedelta(minutes=1))
    publish(slack, fake_slack, channel)
    markdown, _ = documents(fake_slack, 1)
    assert "\r" not in markdown and "\u2028" not in markdown and "\u2029" not in markdown
    assert "- Pager was silent\\\n\\# Owned\\\n\\---\\\n\\- listed\\\n1\\. numbered\\\n&gt; quoted (Lea Lead)" in markdown


def test_the_help_and_an_empty_notes_list_show_placeholders_as_text_not_markup(
    slack: SlackSim, fake_slack: FakeSlack, in_transaction: Any
) -> None:
    # `<text>` is a placeholder for the reader; unescaped, Slack would read it as a link.
    postmortem = start(slack, fake_slack, in_transaction)
    shown = [slack.ask("help", user=LEAD).text,
             slack.ask("notes", user=LEAD, channel=postmortem.channel_id).json()["blocks"][0]["text"]["text"]]
    assert all("&lt;text&gt;" in text for text in shown)
    for text in shown:
        no_live_slack_markup(text)
