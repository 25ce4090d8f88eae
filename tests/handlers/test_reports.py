"""Publishing the report for a realistic post-mortem, through signed requests and the fake Slack."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.demo.signed_requests import SlackSim, eventually
from bot.runtime import Runtime
from bot.slack.double import FakeSlack
from models import Indicator, ReportVersion
from tests.conftest import LEAD, RESPONDER_BERLIN, RESPONDER_TOKYO
from tests.handlers.test_questionnaire import ANSWERS, open_questionnaire
from tests.support import utc

SECTION_IDS = ["incident-report", "timeline", "response-evaluation", "classification", "indicators",
               "preventive-initiatives", "follow-up-actions", "lessons-learned", "participants", "monitoring"]


class Outline(HTMLParser):
    """What a browser would see: section ids, tags opened, visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(dict(attrs)["id"] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def fill_postmortem(slack: SlackSim, fake: FakeSlack, channel: str, clock: FrozenClock) -> None:
    def modal_note(user: str, values: dict[str, Any]) -> None:
        opened = len(fake.views)
        slack.command("note", user=user, channel=channel)
        # A new view: the latest may still be the previous note's form, whose resubmission is a repeat.
        view = eventually(lambda: len(fake.views) > opened and fake.latest_view().get("callback_id") == "note_form"
                          and fake.latest_view())
        slack.submit_view(view, user=user, values=values)

    modal_note(RESPONDER_BERLIN, {"category": "timeline", "occurred_at": utc(2026, 11, 17, 9, 55),
                                  "text": "Phishing mail from hr@evil-login.com landed"})
    modal_note(RESPONDER_TOKYO, {"category": "timeline", "occurred_at": utc(2026, 11, 17, 10, 20),
                                 "text": "Blocked http://evil-login.com/vpn at the proxy"})
    clock.advance(timedelta(minutes=1))
    slack.ask("note <script>alert(1)</script> showed up in the ticket", user=LEAD, channel=channel)
    modal_note(LEAD, {"category": "lesson", "text": "Enforce phishing-resistant MFA on the VPN <script>alert(2)</script> <!channel>"})
    modal_note(RESPONDER_BERLIN, {"category": "went_well", "text": "Containment within 3 hours"})
    for user in (RESPONDER_BERLIN, RESPONDER_TOKYO):
        view = open_questionnaire(slack, fake, user)
        slack.submit_view(view, user=user, values={**ANSWERS, "time_to_resolution": f"23 hours, says {user}"})

    slack.command("classify", user=LEAD, channel=channel)
    view = eventually(lambda: fake.latest_view().get("callback_id") == "classification" and fake.latest_view())
    assert "Targeted: the lure named our VPN vendor" in view["blocks"][0]["text"]["text"]
    slack.submit_view(view, user=LEAD, values={"classification": "targeted", "attack_vector": "phishing",
                                                "rationale": "Lure named our VPN vendor"})
    slack.command("scorecard-entry", user=LEAD, channel=channel)
    view = eventually(lambda: fake.latest_view().get("callback_id") == "scorecard" and fake.latest_view())
    slack.submit_view(view, user=LEAD, values={"alert_volume": "420", "false_alarms": "12", "threats_blocked": "3"})


def publish(slack: SlackSim, fake: FakeSlack, channel: str) -> dict[str, Any]:
    """`/postmortem report`, then Publish; returns the summary message posted in the channel."""
    slack.command("report", user=LEAD, channel=channel)
    draft = eventually(lambda: fake.responses and "Draft report" in fake.responses[-1]["text"] and fake.responses[-1])
    button = next(b for b in draft["blocks"][-1]["elements"] if b["text"]["text"] == "Publish")
    posted = len(fake.messages[channel])
    slack.press(button["action_id"], button["value"], user=LEAD)
    eventually(lambda: "is published" in fake.responses[-1]["text"], what="publish confirmation")
    return next(m for m in fake.messages[channel][posted:] if m["text"].startswith("Post-mortem report v"))


def documents(fake: FakeSlack, version: int) -> tuple[str, str]:
    """The Markdown and HTML of that version, as shared in the channel."""
    shared = {f["filename"].rsplit("-", 1)[-1]: f["content"].decode() for f in fake.files.values()
              if f["channels"] and "-report-" in f["filename"]}
    return shared[f"v{version}.md"], shared[f"v{version}.html"]


def test_publish_renders_every_section_safely_with_computed_durations(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], clock: FrozenClock, in_transaction: Any,
    runtime: Runtime,
) -> None:
    _, channel = started
    fill_postmortem(slack, fake_slack, channel, clock)
    summary = publish(slack, fake_slack, channel)
    assert len(summary["blocks"]) <= 50  # and the fake validated them against the Block Kit schema
    markdown, html = documents(fake_slack, 1)

    outline = Outline()
    outline.feed(html)
    assert outline.sections == SECTION_IDS
    assert "script" not in outline.tags and "<script>alert(1)</script> showed up" in "".join(outline.text)
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in markdown and "<script>" not in markdown
    assert "CONFIDENTIAL" in markdown and "CONFIDENTIAL" in html

    with in_transaction() as session:
        fanged = [value for kind, value in session.execute(select(Indicator.kind, Indicator.value)) if kind != "md5"]
    assert {"evil-login.com", "http://evil-login.com/vpn", "hr@evil-login.com"} <= set(fanged)
    for document in (markdown, html, str(summary["blocks"])):
        assert not [value for value in fanged if value in document]
    assert "hxxp://evil-login[.]com/vpn" in html and "hxxp://evil-login\\[.\\]com/vpn" in markdown

    for expected in ("Compromise to detection: 1 h 30 min", "Detection to containment: 3 h",
                     "Detection to resolution: 23 h", "Whole incident: 1 d 30 min"):
        assert expected in markdown
    timeline = markdown[markdown.index("## 2. Timeline"):markdown.index("## 3.")]
    assert timeline.index("2026-11-17 09:55") < timeline.index("2026-11-17 10:00") < timeline.index("2026-11-17 10:20")
    assert "- **2026-11-17 10:00 UTC (+00:00)** — **Detected**" in timeline
    assert "**Ben Berlin:** 23 hours, says U0BERLIN01" in markdown and "**Toko Tokyo:** 23 hours" in markdown
    assert "Classification: Targeted at us" in markdown and "Attack vector: Phishing" in markdown
    assert "| Alert volume | 420 |" in markdown and "| Unpatched vulnerabilities | not recorded |" in markdown
    assert "None" not in markdown.replace("None yet.", "")

    summary_text = str(summary["blocks"])
    assert "&lt;script&gt;alert(2)&lt;/script&gt; &lt;!channel&gt;" in summary_text
    assert "<!channel>" not in summary_text and "<script>" not in summary_text
    assert "<!channel>" not in markdown and "&lt;\\!channel&gt;" in markdown
    assert "<!channel>" not in html and "<script>alert(2)</script> <!channel>" in "".join(outline.text)
    assert "Detection to resolution: 23 h" in summary_text


def test_republishing_makes_version_two_with_a_change_list(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], clock: FrozenClock, in_transaction: Any
) -> None:
    _, channel = started
    publish(slack, fake_slack, channel)
    slack.ask("note Found a second mailbox rule", user=RESPONDER_BERLIN, channel=channel)
    second = publish(slack, fake_slack, channel)
    assert second["text"].startswith("Post-mortem report v2")
    assert "*Changed since v1:* 1 new note." in str(second["blocks"])
    documents(fake_slack, 2)
    with in_transaction() as session:
        assert [v.version for v in session.scalars(select(ReportVersion).order_by(ReportVersion.version))] == [1, 2]


def test_answers_are_locked_once_published(slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]) -> None:
    _, channel = started
    view = open_questionnaire(slack, fake_slack, RESPONDER_BERLIN)
    publish(slack, fake_slack, channel)
    reply = slack.submit_view(view, user=RESPONDER_BERLIN, values=ANSWERS).json()
    assert reply == {"response_action": "errors", "errors": {
        "time_to_resolution": "The report is published, so answers can no longer change. Ask the facilitator to add a note instead."}}


def test_redacted_summary_holds_none_of_the_confidential_fields(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str], clock: FrozenClock, runtime: Runtime
) -> None:
    _, channel = started
    leadership = fake_slack.add_channel("security-leadership", members=["UBOT000001"])
    runtime.settings.report_summary_channel = leadership
    fill_postmortem(slack, fake_slack, channel, clock)
    publish(slack, fake_slack, channel)
    confirmation = fake_slack.responses[-1]
    button = confirmation["blocks"][1]["elements"][0]
    slack.press(button["action_id"], button["value"], user=LEAD)
    eventually(lambda: fake_slack.messages[leadership], what="redacted summary")
    [posted] = fake_slack.messages[leadership]
    text = str(posted["blocks"])
    assert "VPN credential phishing" in text and "Targeted at us" in text and "Follow-up actions:* 0" in text
    for forbidden in ("evil-login", "Proxy logs", "23 hours", "MFA", "Phishing mail", "SIEM alert", "Lure named"):
        assert forbidden not in text


def test_only_the_facilitator_reports_and_bad_figures_are_refused_inline(
    slack: SlackSim, fake_slack: FakeSlack, started: tuple[int, str]
) -> None:
    _, channel = started
    slack.command("report", user=RESPONDER_BERLIN, channel=channel)
    eventually(lambda: fake_slack.responses and fake_slack.responses[-1]["text"] == "Only the facilitator of this post-mortem can do that.")
    slack.command("scorecard-entry", user=LEAD, channel=channel)
    view = eventually(lambda: fake_slack.latest_view().get("callback_id") == "scorecard" and fake_slack.latest_view())
    reply = slack.submit_view(view, user=LEAD, values={"alert_volume": "-3", "false_alarms": "a few", "threats_blocked": "2"})
    assert reply.json() == {"response_action": "errors", "errors": {
        "alert_volume": "Enter a whole number, 0 or more, or leave it empty.",
        "false_alarms": "Enter a whole number, 0 or more, or leave it empty.",
    }}
