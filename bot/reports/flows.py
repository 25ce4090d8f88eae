"""Classify, record preventive figures, preview and publish the report, post the redacted summary."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bot.intel import misp, stix
from bot.monitoring import service as monitoring
from bot.postmortems import access
from bot.postmortems import service as postmortems
from bot.reminders import senders
from bot.reminders import service as reminders
from bot.reports import assessments
from bot.reports import blocks as report_blocks
from bot.reports import data as report_data
from bot.reports import service as reports
from bot.runtime import Runtime
from bot.slack import safe_text
from bot.slack.blocks import Message
from models import AttackVector, Classification, Postmortem, PostmortemStatus, Reminder, ReminderStatus
from models.db import transaction

log = logging.getLogger(__name__)

ONLY_FACILITATOR = "Only the facilitator of this post-mortem can do that."
SAVED = ":white_check_mark: Saved. It will be in the report."
ALREADY_PUBLISHED = "Report v{version} is already published. To publish later changes, run `/postmortem report` again."
BEING_PUBLISHED = ("This report is already being published (a second click, or another window). "
                   "It will be in the review channel in a moment.")
NO_SUMMARY_CHANNEL = "No summary channel is configured (REPORT_SUMMARY_CHANNEL), so there is nowhere to post it."
MISP_ON_ITS_WAY = "The indicators are on their way to MISP; if MISP is down I keep trying."
MISP_FAILED = (":warning: The indicators of *{title}* did not reach MISP yet ({reason}). The report is published; "
               "I'll try again {tries} more times over the next 20 minutes.")
MISP_GAVE_UP = (":warning: The indicators of *{title}* still did not reach MISP ({reason}), and I've stopped trying. "
                "The STIX file in the review channel has them all, to import into MISP by hand; while the post-mortem is "
                "open, publishing a new version also tries again.")
# The kind of reminder row that carries a publish's indicators to MISP, so an outage is retried.
MISP_PUSH = "report_misp_push"
EXPORT_USAGE = "Which export? `/postmortem export stix` uploads this post-mortem's indicators as a STIX 2.1 bundle."
EXPORTED = ":white_check_mark: The STIX 2.1 bundle ({count}) is in <#{channel}>."


def _facilitated(session: Any, runtime: Runtime, *, user_id: str, channel_id: str = "",
                 postmortem_id: int | None = None) -> Postmortem | str:
    """The post-mortem if `user_id` facilitates it; else the refusal to show."""
    postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id, postmortem_id=postmortem_id)
    if postmortem is None:
        return access.NOT_FOUND
    if postmortem.facilitator_id != user_id:
        return ONLY_FACILITATOR
    return postmortem


def _open_for_changes(facilitated: Postmortem | str) -> Postmortem | str:
    """The forms that change the record refuse at once on a closed post-mortem (saving refuses too)."""
    if isinstance(facilitated, Postmortem) and facilitated.status is PostmortemStatus.CLOSED:
        return access.CLOSED
    return facilitated


def classification_form(runtime: Runtime, *, user_id: str, channel_id: str) -> dict[str, Any] | Message:
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id)
    with transaction(runtime.sessions) as session:
        postmortem = _open_for_changes(_facilitated(session, runtime, user_id=user_id, channel_id=channel_id))
        if isinstance(postmortem, str):
            return Message(text=postmortem)
        data = report_data.gather(session, postmortem_id=postmortem.id)
        return report_blocks.classification_form(
            postmortem_id=postmortem.id, assessment=assessments.current(session, postmortem_id=postmortem.id),
            said=data.random_or_targeted_answers,
        )


def save_classification(runtime: Runtime, *, user_id: str, postmortem_id: int, classification: str,
                        attack_vector: str, rationale: str) -> dict[str, str] | str:
    if len(rationale) > report_blocks.RATIONALE_MAX_CHARS:
        return {"rationale": f"Keep this under {report_blocks.RATIONALE_MAX_CHARS:,} characters (it has {len(rationale):,})."}
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = _facilitated(session, runtime, user_id=user_id, postmortem_id=postmortem_id)
        if isinstance(postmortem, str):
            return {"classification": postmortem}
        try:
            assessments.classify(session, postmortem=postmortem, classification=Classification(classification),
                                 attack_vector=AttackVector(attack_vector), rationale=rationale, now=runtime.clock.now())
        except assessments.AssessmentRefused as refusal:
            return {"classification": str(refusal)}
    return SAVED


def scorecard_form(runtime: Runtime, *, user_id: str, channel_id: str) -> dict[str, Any] | Message:
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id)
    with transaction(runtime.sessions) as session:
        postmortem = _open_for_changes(_facilitated(session, runtime, user_id=user_id, channel_id=channel_id))
        if isinstance(postmortem, str):
            return Message(text=postmortem)
        return report_blocks.scorecard_form(postmortem_id=postmortem.id,
                                            assessment=assessments.current(session, postmortem_id=postmortem.id))


def save_figures(runtime: Runtime, *, user_id: str, postmortem_id: int, raw: dict[str, str]) -> dict[str, str] | str:
    figures, errors = assessments.parse_figures(raw)
    if errors:
        return errors
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = _facilitated(session, runtime, user_id=user_id, postmortem_id=postmortem_id)
        if isinstance(postmortem, str):
            return {next(iter(figures)): postmortem}
        try:
            assessments.record_figures(session, postmortem=postmortem, figures=figures, now=runtime.clock.now())
        except assessments.AssessmentRefused as refusal:
            return {next(iter(figures)): str(refusal)}
    return SAVED


def preview(runtime: Runtime, *, user_id: str, channel_id: str) -> Message:
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id)
    with transaction(runtime.sessions) as session:
        postmortem = _open_for_changes(_facilitated(session, runtime, user_id=user_id, channel_id=channel_id))
        if isinstance(postmortem, str):
            return Message(text=postmortem)
        _, draft = reports.render(session, postmortem_id=postmortem.id, name_of=str, now=runtime.clock.now(),
                                  monitor_period=runtime.settings.monitor_period)
        return report_blocks.preview(draft.summary_sections, postmortem_id=postmortem.id, version=draft.version)


@dataclass(frozen=True)
class Publication:
    message: Message
    # Reminder rows carrying the indicators to MISP: the handler sends them once it has answered.
    misp_pushes: list[int] = field(default_factory=list)


def publish(runtime: Runtime, *, user_id: str, postmortem_id: int, version: int | None = None) -> Publication:
    """Claim and store version N (the one previewed, when given), then upload the documents and post the
    summary: each part once, even across a retry after Slack failed half-way. The MISP push, when
    configured, is planned as a reminder row: a slow or failing MISP never holds up the answer."""
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=postmortem_id)
    # The documents name people: learn who, and ask Slack their names, before the claiming transaction
    # (which holds the database, SQLite's write lock included) opens.
    named: set[str] = set()
    with transaction(runtime.sessions) as session:
        postmortem = _open_for_changes(_facilitated(session, runtime, user_id=user_id, postmortem_id=postmortem_id))
        if isinstance(postmortem, str):
            return Publication(Message(text=postmortem))
        reports.render(session, postmortem_id=postmortem.id, name_of=lambda member: named.add(member) or member,
                       now=runtime.clock.now(), monitor_period=runtime.settings.monitor_period)
    for person in sorted(named):
        runtime.slack.user(person)  # inside the claim below, the gateway answers from these
    with transaction(runtime.sessions) as session:
        # A preview's Publish button outlives the close; a new version of a closed record is refused.
        postmortem = _open_for_changes(_facilitated(session, runtime, user_id=user_id, postmortem_id=postmortem_id))
        if isinstance(postmortem, str):
            return Publication(Message(text=postmortem))
        claimed = reports.claim(session, postmortem=postmortem, user_id=user_id, now=runtime.clock.now(),
                                name_of=lambda member: runtime.slack.user(member).name, previewed=version,
                                monitor_period=runtime.settings.monitor_period)
        if isinstance(claimed, reports.Refusal):
            return Publication(Message(text=BEING_PUBLISHED if claimed is reports.Refusal.BEING_PUBLISHED
                                       else ALREADY_PUBLISHED.format(version=version)))
        channel_id, title = postmortem.channel_id, postmortem.title
        done = reports.posted_parts(session, postmortem_id=postmortem_id, version=claimed.version)
    assert channel_id is not None
    try:
        _post(runtime, postmortem_id=postmortem_id, channel_id=channel_id, title=title, version=claimed, done=done)
    except Exception:
        with transaction(runtime.sessions) as session:
            reports.release(session, postmortem_id=postmortem_id, version=claimed.version)
        raise
    pushes: list[int] = []
    if misp.configured(runtime.settings):
        with transaction(runtime.sessions) as session:
            pushes = reminders.plan_at_once(session, kind=MISP_PUSH, postmortem_id=postmortem_id, subject_id=postmortem_id,
                                            subject_version=claimed.version, recipients=[misp.REMINDER_RECIPIENT],
                                            now=runtime.clock.now())
    message = report_blocks.published(version=claimed.version, channel_id=channel_id,
                                      summary_channel=runtime.settings.report_summary_channel,
                                      postmortem_id=postmortem_id, note=MISP_ON_ITS_WAY if pushes else None)
    return Publication(message, pushes)


def _stix_bundle(runtime: Runtime, *, postmortem_id: int) -> tuple[bytes, int]:
    """The post-mortem's STIX 2.1 bundle, and how many indicators it holds."""
    with transaction(runtime.sessions) as session:
        facts, records = stix.load(session, postmortem_id=postmortem_id)
        bundle = stix.build_bundle(facts=facts, indicator_records=records, published_at=runtime.clock.now(),
                                   sightings=monitoring.records_for_export(session, postmortem_id=postmortem_id))
    return stix.serialize(bundle), sum(1 for item in bundle.objects if item.type == "indicator")


@senders.sends(MISP_PUSH)
def send_misp_push(runtime: Runtime, reminder: Reminder) -> ReminderStatus:
    """Sender of MISP_PUSH: the indicators as the post-mortem's one MISP event. Each attempt is recorded; a
    failure is retried by the dispatcher, and the facilitator hears of the first one."""
    if not misp.configured(runtime.settings):
        return ReminderStatus.SKIPPED
    postmortem_id = reminder.postmortem_id
    with transaction(runtime.sessions) as session:
        postmortem = session.get(Postmortem, postmortem_id)
        if postmortem is None:
            return ReminderStatus.SKIPPED
        facilitator, title = postmortem.facilitator_id, postmortem.title
        facts, records = stix.load(session, postmortem_id=postmortem_id)
    if not records:  # nothing to share: no empty event for an analyst to open
        return ReminderStatus.SKIPPED
    try:
        misp.push(runtime.settings, facts=facts, records=records)
        failure = None
    except misp.MispFailed as error:
        failure = str(error)
    with transaction(runtime.sessions) as session:
        misp.record(session, postmortem_id=postmortem_id, now=runtime.clock.now(), failure=failure,
                    event=misp.event_uuid(team_id=facts.team_id, postmortem_id=postmortem_id))
    if failure is None:
        return ReminderStatus.SENT
    shown = {"title": safe_text.mrkdwn_line(title), "reason": safe_text.mrkdwn_line(failure)}
    if reminder.attempts == 1:
        runtime.slack.post_message(channel=facilitator,
                                   text=MISP_FAILED.format(**shown, tries=reminders.MAX_ATTEMPTS - 1))
    elif reminder.attempts >= reminders.MAX_ATTEMPTS:
        runtime.slack.post_message(channel=facilitator, text=MISP_GAVE_UP.format(**shown))
    raise senders.TryLater(failure)


def export_stix(runtime: Runtime, *, user_id: str, channel_id: str, what: str) -> Message:
    """`/postmortem export stix`: anyone who takes part (and so can read the published report) gets the
    indicators as a STIX 2.1 file in the review channel."""
    if what.strip().lower() != "stix":
        return Message(text=EXPORT_USAGE)
    access.ask_slack_first(runtime, user_id=user_id, channel_id=channel_id)
    with transaction(runtime.sessions) as session:
        postmortem = access.locate(session, runtime, user_id=user_id, channel_id=channel_id)
        if postmortem is None:
            return Message(text=access.NOT_FOUND)
        postmortem_id, title, review_channel = postmortem.id, postmortem.title, postmortem.channel_id
    assert review_channel is not None
    content, count = _stix_bundle(runtime, postmortem_id=postmortem_id)
    runtime.slack.upload_file(channel=review_channel, content=content, title="Indicators (STIX 2.1)",
                              filename=f"postmortem-{postmortem_id}-{safe_text.file_name(title, limit=40)}-indicators.stix.json")
    return Message(text=EXPORTED.format(count="1 indicator" if count == 1 else f"{count} indicators", channel=review_channel))


def _post(runtime: Runtime, *, postmortem_id: int, channel_id: str, title: str, version: reports.Published,
          done: set[str]) -> None:
    stem = f"postmortem-{postmortem_id}-{safe_text.file_name(title, limit=40)}-report-v{version.version}"
    documents = (("markdown", f"{stem}.md", lambda: version.markdown.encode(), "Markdown"),
                 ("html", f"{stem}.html", lambda: version.html.encode(), "printable HTML"),
                 ("stix", f"{stem}.stix.json", lambda: _stix_bundle(runtime, postmortem_id=postmortem_id)[0], "indicators, STIX 2.1"))
    for part, filename, content, kind in documents:
        if part in done:
            continue
        runtime.slack.upload_file(channel=channel_id, filename=filename, content=content(),
                                  title=f"Post-mortem report v{version.version} ({kind})")
        with transaction(runtime.sessions) as session:
            reports.mark_part_posted(session, postmortem_id=postmortem_id, version=version.version, part=part)
    summary = report_blocks.summary(version.summary_sections, title=title, version=version.version)
    ts = runtime.slack.post_message(channel=channel_id, text=summary.text, blocks=summary.blocks)
    with transaction(runtime.sessions) as session:
        reports.mark_posted(session, postmortem_id=postmortem_id, version=version.version, summary_ts=ts)


def post_redacted(runtime: Runtime, *, user_id: str, postmortem_id: int) -> Message:
    channel = runtime.settings.report_summary_channel
    if channel is None:
        return Message(text=NO_SUMMARY_CHANNEL)
    access.ask_slack_first(runtime, user_id=user_id, postmortem_id=postmortem_id)
    with transaction(runtime.sessions) as session:
        postmortem = _facilitated(session, runtime, user_id=user_id, postmortem_id=postmortem_id)
        if isinstance(postmortem, str):
            return Message(text=postmortem)
        if not postmortems.is_published(session, postmortem_id=postmortem.id):
            return Message(text="Publish the report first; the redacted summary follows it.")
        data = report_data.gather(session, postmortem_id=postmortem.id)
        message = report_blocks.redacted_summary(postmortem=postmortem, classification=data.classification,
                                                 durations=data.durations, action_count=len(data.actions))
    runtime.slack.post_message(channel=channel, text=message.text, blocks=message.blocks)
    return Message(text=f":white_check_mark: The redacted summary is posted in <#{channel}>.")
