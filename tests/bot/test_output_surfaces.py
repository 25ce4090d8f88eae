"""Every Block Kit builder, template and the .ics, fed hostile text in every field a person types.

No database and no Slack: builders render transient model objects, and the fake Slack's contract
(Block Kit JSON Schema from ../shared/slack-specs, 50 blocks a message, 24-character modal titles)
judges the result. Each surface must validate and fit, hold no live mention or link and no fanged
indicator, parse back, and show the person's words unless the limit forced a visible cut.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from markdown_it import MarkdownIt

from bot.actions import blocks as action_blocks
from bot.actions.service import DESCRIPTION_MAX_CHARS
from bot.actions.service import TITLE_MAX_CHARS as ACTION_TITLE_MAX
from bot.indicators.extraction import extract
from bot.meetings import blocks as meeting
from bot.meetings.calendar_invite import build_invite
from bot.meetings.service import AGENDA_MAX_CHARS, LOCATION_MAX_CHARS
from bot.notes import blocks as notes
from bot.notes import questionnaire_blocks as questionnaire
from bot.notes.questionnaire import ANSWER_MAX_CHARS, QUESTIONS
from bot.notes.service import NOTE_MAX_CHARS, NotesPage
from bot.postmortems import kickoff, notices
from bot.postmortems.provisioning import Outcome
from bot.postmortems.service import TEXT_MAX_CHARS, TITLE_MAX_CHARS
from bot.reports import blocks as report_blocks
from bot.reports import rendering
from bot.reports.data import ActionLine, Attributed, ReportData, TimelineEntry
from bot.slack import safe_text, usage
from bot.slack.blocks import Message, notice_view
from bot.slack.double import MESSAGE_BLOCK_LIMIT, MODAL_TITLE_LIMIT, _Contract
from bot.working_time import SlotSuggestion
from models import (
    Action,
    ActionCategory,
    ActionPriority,
    ActionStatus,
    Assessment,
    Classification,
    Meeting,
    MeetingStatus,
    Note,
    NoteCategory,
    Participant,
    ParticipantRole,
    Postmortem,
    PostmortemStatus,
    Severity,
)
from tests.hostile import fanged_values, hostile_text, leaks, no_live_slack_markup, texts_of, words_of

FAST = settings(max_examples=40, deadline=None)
T0 = datetime(2026, 11, 17, 10, tzinfo=timezone.utc)
LEAD, BERLIN = "U0LEAD0001", "U0BERLIN01"
CONTRACT = _Contract.load()


def field(limit: int) -> st.SearchStrategy[str]:
    """A hostile value as it can be stored: normalised, within the field's own limit."""
    return hostile_text().map(lambda text: safe_text.normalise(text)[:limit])


# -- the checks ------------------------------------------------------------------------------------
def shown_safely(texts: list[str], typed: list[str], *, plain: list[str] = ()) -> None:  # type: ignore[assignment]
    """mrkdwn `texts` (and topics, message `text`): nothing live. `plain` texts: Slack parses no markup
    there, but no fanged indicator either."""
    fanged = fanged_values(*typed)
    for text in texts:
        no_live_slack_markup(text)
    for text in [*texts, *plain]:
        leaked = leaks(text, fanged)
        assert not leaked, f"fanged {leaked} in {text[:200]!r}"


def check_message(message: Message, *typed: str) -> None:
    assert len(message.text) <= safe_text.MESSAGE_TEXT
    assert len(message.blocks) <= MESSAGE_BLOCK_LIMIT
    assert CONTRACT.block_errors(message.blocks) == []
    shown_safely([message.text, *texts_of(message.blocks, kind="mrkdwn")], list(typed),
                 plain=texts_of(message.blocks, kind="plain_text"))


def check_view(view: dict[str, Any], *typed: str) -> None:
    for key in ("title", "submit", "close"):
        assert len((view.get(key) or {}).get("text", "")) <= MODAL_TITLE_LIMIT
    assert len(view["blocks"]) <= 100
    assert CONTRACT.block_errors(view["blocks"]) == []
    shown_safely(texts_of(view["blocks"], kind="mrkdwn"), list(typed), plain=texts_of(view["blocks"], kind="plain_text"))


def words_survive(shown: str, typed: str) -> None:
    """The person's words are there, unless the text says it was shortened."""
    if safe_text.SHORTENED in shown or safe_text.ELLIPSIS in shown:
        return
    plain = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    missing = [word for word in words_of(typed) if word not in plain]
    assert not missing, f"{missing} missing from {shown[:200]!r}"


# -- transient objects -----------------------------------------------------------------------------
def make_postmortem(title: str, **fields: str) -> Postmortem:
    postmortem = Postmortem(id=7, team_id="T", title=title, severity=Severity.HIGH, status=PostmortemStatus.OPEN, detected_at=T0,
                            compromised_at=T0 - timedelta(hours=2), created_by=LEAD, facilitator_id=LEAD,
                            source_view_id="V1", created_at=T0, channel_id="C0REVIEW01", **fields)
    postmortem.participants = [Participant(user_id=LEAD, role=ParticipantRole.FACILITATOR),
                               Participant(user_id=BERLIN, role=ParticipantRole.RESPONDER)]
    return postmortem


def make_action(title: str, description: str) -> Action:
    return Action(id=3, postmortem_id=7, title=title, description=description, owner_id=BERLIN, due_on=date(2026, 12, 1),
                  priority=ActionPriority.HIGH, category=ActionCategory.HARDENING, status=ActionStatus.OPEN)


def make_note(text: str, n: int = 1) -> Note:
    return Note(id=n, postmortem_id=7, author_id=BERLIN, category=NoteCategory.EVIDENCE, text=text, occurred_at=T0,
                source_permalink="https://fake.slack.com/archives/C0WARROOM/p1", dedupe_key=f"k{n}",
                created_at=T0, updated_at=T0)


def make_meeting(location: str, agenda: str, status: MeetingStatus = MeetingStatus.SCHEDULED) -> Meeting:
    return Meeting(id=5, postmortem_id=7, status=status, starts_at=T0 + timedelta(days=3), duration_minutes=60,
                   location=location, agenda=agenda, sequence=1, scheduled_by=LEAD, updated_at=T0)


# -- Slack surfaces --------------------------------------------------------------------------------
@FAST
@given(title=field(TITLE_MAX_CHARS), impact=field(TEXT_MAX_CHARS), evidence=field(TEXT_MAX_CHARS),
       location=field(TEXT_MAX_CHARS), how=field(TEXT_MAX_CHARS))
def test_kickoff_topic_and_setup_notices(title: str, impact: str, evidence: str, location: str, how: str) -> None:
    postmortem = make_postmortem(title, impact=impact, evidence=evidence, system_location=location, identified_how=how,
                                 system_function="", containment_steps="")
    message = kickoff.kickoff_message(postmortem)
    check_message(message, title, impact, evidence, location, how)
    sections = [b["text"]["text"] for b in message.blocks if b["type"] == "section"]
    for typed, label in ((impact, "*Impact*"), (evidence, "*Evidence collected*")):
        shown = next(s for s in sections if s.startswith(label))
        words_survive(shown, typed)
    for text in (kickoff.topic(postmortem), kickoff.purpose(postmortem)):
        assert len(text) <= safe_text.TOPIC
        shown_safely([text], [title])
    outcome = Outcome(7, title, "C0REVIEW01", "kickoff", "invalid_blocks")
    for notice in (notices.channel_ready(outcome), notices.provisioning_failed(outcome, "post the kickoff message"),
                   notices.already_running(outcome)):
        check_message(notice, title)
    shown_safely([usage.unknown_subcommand(title, [("note", "Add a note.")])], [title])


@FAST
@given(title=field(TITLE_MAX_CHARS), note_texts=st.lists(field(NOTE_MAX_CHARS), min_size=1, max_size=5),
       capture=hostile_text())
def test_notes_list_note_form_confirmation_and_status(title: str, note_texts: list[str], capture: str) -> None:
    postmortem = make_postmortem(title)
    page = NotesPage(notes=[make_note(text, n) for n, text in enumerate(note_texts)], page=0, total=12)
    listing = notes.notes_list(postmortem=postmortem, notes_page=page, viewer_id=BERLIN)
    check_message(listing, title, *note_texts)
    shown = [b["text"]["text"] for b in listing.blocks if b["type"] == "section"][1:]
    for typed, section in zip(note_texts, shown):
        words_survive(section.split("\n", 1)[1], typed)
    for outcome in ("added", "already", "updated"):
        check_view(notice_view(notes.note_saved(note_text=note_texts[0], outcome=outcome, postmortem_title=postmortem.title)),
                   title, note_texts[0])
    check_view(notes.note_form(choices=[postmortem], metadata={"capture": True}, text=safe_text.from_slack(capture),
                               source_author_id=BERLIN), title)
    check_message(notes.status(postmortem=postmortem, answered={LEAD}, note_counts={BERLIN: 3}), title)


@FAST
@given(title=field(TITLE_MAX_CHARS), action_title=field(ACTION_TITLE_MAX), description=field(DESCRIPTION_MAX_CHARS))
def test_action_messages_lists_forms_and_home(title: str, action_title: str, description: str) -> None:
    postmortem, action = make_postmortem(title), make_action(action_title, description)
    typed = (title, action_title, description)
    check_message(action_blocks.assignment(action, postmortem, assigned_by=LEAD, today=date(2026, 11, 20)), *typed)
    check_message(action_blocks.channel_notice(action, today=date(2026, 11, 20)), *typed)
    for kind in ("action_before", "action_due", "action_overdue"):
        check_message(action_blocks.reminder(action, postmortem, kind=kind), *typed)
    check_message(action_blocks.escalation(action, postmortem), *typed)
    heading = f"Follow-ups of {safe_text.mrkdwn_line(title)}"
    check_message(action_blocks.listing([action] * 45, heading=heading, today=date(2026, 12, 5), viewer_id=BERLIN,
                                        facilitator_ids={7: LEAD}), *typed)
    check_view(action_blocks.form(postmortem_id=None, choices=[postmortem], title=action_title, today=date(2026, 11, 20)), *typed)
    check_view(action_blocks.extend_form(action), *typed)
    check_view(action_blocks.reassign_form(action), *typed)
    check_view(action_blocks.home(actions=[action] * 25, unanswered=[postmortem] * 12, postmortems=[postmortem] * 25,
                                  today=date(2026, 11, 20), channels={7: "C0REVIEW01"}), *typed)


@FAST
@given(title=field(TITLE_MAX_CHARS), location=field(LOCATION_MAX_CHARS), agenda=field(AGENDA_MAX_CHARS))
def test_meeting_form_announcement_notices_and_invite(title: str, location: str, agenda: str) -> None:
    postmortem = make_postmortem(title)
    typed = (title, location, agenda)
    suggestion = SlotSuggestion(starts_at=T0, fits=[LEAD], outside=[BERLIN])
    check_view(meeting.form(postmortem=postmortem, suggestion=suggestion, starts_at=T0, duration_minutes=60,
                            location=location, agenda=agenda or "x", rescheduling=True), title)
    for status in (MeetingStatus.SCHEDULED, MeetingStatus.CANCELLED):
        scheduled = make_meeting(location, agenda, status)
        announcement = meeting.announcement(scheduled, postmortem)
        check_message(announcement, *typed)
        if status is MeetingStatus.SCHEDULED:
            agenda_shown = next(b["text"]["text"] for b in announcement.blocks if b["type"] == "section"
                                and b["text"]["text"].startswith("*Agenda*"))
            words_survive(agenda_shown, agenda)
        for rescheduled in (False, True):
            check_message(meeting.change_notice(scheduled, postmortem, rescheduled=rescheduled), *typed)
    check_message(meeting.channel_reminder(make_meeting(location, agenda)))
    check_message(meeting.questionnaire_nudge(make_meeting(location, agenda), postmortem), title)

    invite = build_invite(meeting_id=5, sequence=1, cancelled=False, title=title, starts_at=T0, duration=timedelta(hours=1),
                          location=location, description=f"{agenda}\n\nBring your notes.", organizer_email="lea@example.com",
                          attendee_emails=["ben@example.com"], stamp=T0)
    assert b"\r\n" in invite and b"\r" not in invite.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in invite.split(b"\r\n"))
    event = Calendar.from_ical(invite).walk("VEVENT")[0]
    summary, description = str(event["SUMMARY"]), str(event["DESCRIPTION"])
    assert summary == safe_text.ical(f"Post-mortem review: {title}")
    assert description == safe_text.ical(f"{agenda}\n\nBring your notes.")
    assert not leaks(summary, fanged_values(title)) and not leaks(description, fanged_values(title, agenda))
    words_survive(description, agenda)


@FAST
@given(title=field(TITLE_MAX_CHARS), answers=st.lists(field(ANSWER_MAX_CHARS), min_size=1, max_size=10),
       rationale=field(2000))
def test_questionnaire_and_classification(title: str, answers: list[str], rationale: str) -> None:
    postmortem = make_postmortem(title)
    check_message(questionnaire.invitation(postmortem), title)
    check_view(questionnaire.form(postmortem_id=7, questions=QUESTIONS,
                                  answers={q.key: a for q, a in zip(QUESTIONS, answers)}))
    said = [Attributed(BERLIN, answer) for answer in answers]
    assessment = Assessment(postmortem_id=7, classification=Classification.TARGETED, rationale=rationale)
    check_view(report_blocks.classification_form(postmortem_id=7, assessment=assessment, said=said), *answers)
    check_message(report_blocks.redacted_summary(postmortem=postmortem, classification="Targeted", durations=[],
                                                 action_count=2), title)


# -- the report: Markdown, HTML, Slack summary ----------------------------------------------------
def report_data(texts: dict[str, str]) -> ReportData:
    postmortem = make_postmortem(texts["title"], impact=texts["impact"], evidence=texts["evidence"])
    return ReportData(
        postmortem=postmortem,
        facts=[("Impact", texts["impact"]), ("Evidence collected", texts["evidence"])],
        milestones=[("Detected", T0)],
        timeline=[TimelineEntry(T0, "Detected", None, None, milestone=True),
                  TimelineEntry(T0 + timedelta(minutes=5), texts["note"], BERLIN, "https://fake.slack.com/archives/C/p1")],
        durations=[("Whole incident", timedelta(hours=3))],
        questions=[(QUESTIONS[0].text, [Attributed(BERLIN, texts["answer"])])],
        discussion=[("What went wrong", [Attributed(LEAD, texts["note"])])],
        classification="Targeted at us", attack_vector="Phishing", rationale=texts["rationale"],
        random_or_targeted_answers=[Attributed(BERLIN, texts["answer"])],
        indicators=[("url", "http://evil-dl.net/payload.exe")] + [
            pair for text in texts.values() for pair in extract(text)],
        scorecard=[("Alert volume", 3)],
        actions=[ActionLine(texts["action"], BERLIN, "2026-12-01", "open")],
        lessons=[Attributed(LEAD, texts["lesson"])] * 7,
        participants=[(LEAD, "facilitator"), (BERLIN, "responder")],
    )


REPORT_FIELDS = ("title", "impact", "evidence", "note", "answer", "rationale", "action", "lesson")


def markdown_outline(document: str) -> list[str]:
    return [token.type for token in MarkdownIt("commonmark").enable("table").parse(document) if token.type != "inline"]


class Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append("/" + tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def html_outline(document: str) -> Outline:
    outline = Outline()
    outline.feed(document)
    outline.close()
    return outline


@FAST
@given(st.fixed_dictionaries({name: field(NOTE_MAX_CHARS if name != "title" else TITLE_MAX_CHARS) for name in REPORT_FIELDS}))
def test_report_markdown_html_and_summary(texts: dict[str, str]) -> None:
    texts = {name: "w " + value for name, value in texts.items()}  # never empty: same template branches as the plain report
    plain = {name: "w plain words" for name in REPORT_FIELDS}
    hostile_data, plain_data = report_data(texts), report_data(plain)
    plain_data.indicators = hostile_data.indicators
    typed = list(texts.values())
    fanged = fanged_values(*typed)

    render = {"version": 2, "published_at": T0, "name_of": lambda user_id: f"Name of {user_id}"}
    markdown = rendering.render_markdown(hostile_data, **render)
    assert markdown_outline(markdown) == markdown_outline(rendering.render_markdown(plain_data, **render))
    assert not leaks(markdown, fanged)

    html = rendering.render_html(hostile_data, **render)
    outline = html_outline(html)
    assert outline.tags == html_outline(rendering.render_html(plain_data, **render)).tags
    shown_text = "".join(outline.text)
    assert not leaks(shown_text, fanged)
    for name in ("note", "answer", "lesson", "action"):
        missing = [word for word in words_of(texts[name]) if word not in shown_text]
        assert not missing, f"{name}: {missing}"

    sections = rendering.render_summary_sections(hostile_data, version=2, changes=["actions"], published_at=T0)
    check_message(report_blocks.summary(sections, title=texts["title"], version=2), *typed)
    check_message(report_blocks.preview(sections, postmortem_id=7, version=2), *typed)
