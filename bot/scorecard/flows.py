"""Who may see the scorecard, and what they get: the figures (with the chart in their DM), the export, the
App Home section.

Security leads (the SECURITY_LEADS user group) see everything. Facilitators outside the group see the
figures, which are organisation-wide aggregates, and only the post-mortems they facilitated in the export.
Anyone else is refused.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from bot.postmortems import access
from bot.runtime import Runtime
from bot.scorecard import blocks as scorecard_blocks
from bot.scorecard import chart, export, periods, service
from bot.slack import safe_text
from bot.slack.blocks import Message
from bot.slack.gateway import SlackCallFailed, SlackOutcomeUnknown, SlackRateLimited
from models.db import transaction

log = logging.getLogger(__name__)

REFUSED = ("The security scorecard is for security leads and for facilitators of post-mortems. "
           "If you need the figures, ask someone in your security leads group.")
UNKNOWN_PERIOD = ("I don't know the period `{typed}`. Use `90d`, `12m`, a quarter like `2026-Q3`, or `all`, "
                  "for example `/postmortem scorecard 2026-Q3`.")
CHART_IN_DM = ":bar_chart: The chart is in your DM with me."
CHART_LOST = ("I lost Slack's answer while sharing the chart: it is probably in your DM with me. "
              "If it isn't there, run the command again; the figures here are complete.")
CHART_FAILED = ("I couldn't upload the chart (Slack said `{error}`); the figures here are complete. "
                "Run the command again in a minute for the chart.")
EXPORTED = ":white_check_mark: The export is in your DM with me: {count} ({period}), as CSV and JSON."
CSV_LOST = ("I lost Slack's answer while sharing the CSV: it is probably in your DM with me, without the JSON. "
            "Run the export again in a minute for both.")
JSON_FAILED = ("The CSV is in your DM with me, but the JSON may not have arrived (Slack answered `{error}`): "
               "if it isn't there, run the export again in a minute.")
OWN_ROWS_ONLY = (" It holds the post-mortems you facilitated; the security leads group sees every row.")


class Viewer(enum.Enum):
    LEAD = "lead"
    FACILITATOR = "facilitator"
    NONE = "none"


def _is_lead(runtime: Runtime, *, user_id: str) -> bool:
    group = runtime.settings.security_leads
    if group is None:
        return False
    try:
        return user_id in runtime.slack.user_group_members(user_group=group)
    except (SlackRateLimited, SlackOutcomeUnknown):
        raise  # passing: the person is told to try again
    except SlackCallFailed as failure:
        # A wrong group ID or a missing scope will not fix itself: the operator must hear it, the person
        # gets what a facilitator gets.
        log.error("SECURITY_LEADS %s cannot be read (%s); treating nobody as a security lead", group, failure.error)
        return False


def _still_facilitating(runtime: Runtime, *, user_id: str, first_only: bool = False) -> list[int]:
    """The post-mortems `user_id` facilitated and still takes part in (or the first of them): leaving, or
    being removed from, the review channel revokes access by every path, the scorecard's too."""
    # Read first, then ask Slack with the database let go, one channel at a time in the order the
    # transaction used to: `first_only` stops at the first, so an old review channel Slack no longer
    # answers for (the bot removed from it) is asked only when an earlier one does not settle it.
    with transaction(runtime.sessions) as session:
        facilitated = [(postmortem.id, postmortem.channel_id,
                        postmortem.channel_id is None and user_id in postmortem.member_ids)
                       for postmortem in service.facilitated(session, user_id=user_id)]
    ids = []
    for postmortem_id, channel_id, listed in facilitated:
        takes_part = listed if channel_id is None else \
            access.takes_part_in_channel(runtime, channel_id=channel_id, user_id=user_id)
        if takes_part:
            ids.append(postmortem_id)
            if first_only:
                break
    return ids


def viewer(runtime: Runtime, *, user_id: str) -> Viewer:
    if _is_lead(runtime, user_id=user_id):
        return Viewer.LEAD
    return Viewer.FACILITATOR if _still_facilitating(runtime, user_id=user_id, first_only=True) else Viewer.NONE


def _card(runtime: Runtime, period: periods.Period) -> service.Scorecard:
    with transaction(runtime.sessions) as session:
        return service.scorecard(session, period=period, today=runtime.clock.now().date())


def _upload_chart(runtime: Runtime, *, user_id: str, card: service.Scorecard) -> str:
    """Upload the chart to the person's DM; what to tell them about it."""
    png = chart.render(card)
    try:
        runtime.slack.upload_file(channel=runtime.slack.dm_channel(user_id=user_id), content=png,
                                  filename=f"security-scorecard-{card.period.key}.png", title=chart.alt_text(card))
    except SlackOutcomeUnknown as failure:
        log.warning("scorecard chart upload may have gone through: %s", failure.error)
        return CHART_LOST
    except SlackCallFailed as failure:
        log.warning("scorecard chart upload failed: %s", failure.error)
        return CHART_FAILED.format(error=failure.error)
    return CHART_IN_DM


def show(runtime: Runtime, *, user_id: str, period_text: str) -> Message:
    """`/postmortem scorecard [period]` and the App Home button: the figures, with the chart in the DM."""
    period = periods.parse(period_text, now=runtime.clock.now())
    if period is None:
        return Message(text=UNKNOWN_PERIOD.format(typed=_typed(period_text)))
    if viewer(runtime, user_id=user_id) is Viewer.NONE:
        return Message(text=REFUSED)
    card = _card(runtime, period)
    return scorecard_blocks.scorecard(card, chart_note=_upload_chart(runtime, user_id=user_id, card=card))


def export_files(runtime: Runtime, *, user_id: str, period_text: str) -> Message:
    """`/postmortem scorecard export [period]` (default: all time): CSV and JSON in the person's DM."""
    period = periods.parse(period_text or "all", now=runtime.clock.now())
    if period is None:
        return Message(text=UNKNOWN_PERIOD.format(typed=_typed(period_text)))
    seen_by = viewer(runtime, user_id=user_id)
    if seen_by is Viewer.NONE:
        return Message(text=REFUSED)
    now = runtime.clock.now()
    own = None if seen_by is Viewer.LEAD else _still_facilitating(runtime, user_id=user_id)
    with transaction(runtime.sessions) as session:
        rows = service.export_rows(session, period=period, today=now.date(), postmortem_ids=own)
    scope = "all" if seen_by is Viewer.LEAD else "facilitated"
    stem = f"security-scorecard-{period.key}-{now:%Y%m%d}"
    channel = runtime.slack.dm_channel(user_id=user_id)
    try:
        runtime.slack.upload_file(channel=channel, filename=f"{stem}.csv", content=export.to_csv(rows),
                                  title=f"Security scorecard export, {period.label} (CSV)")
    except SlackOutcomeUnknown as failure:
        # Slack may have shared it: "that didn't go through" could be untrue.
        log.warning("scorecard CSV export upload may have gone through: %s", failure.error)
        return Message(text=CSV_LOST)
    try:
        runtime.slack.upload_file(channel=channel, filename=f"{stem}.json",
                                  content=export.to_json(rows, period=period.key, scope=scope, generated_at=now),
                                  title=f"Security scorecard export, {period.label} (JSON)")
    except SlackCallFailed as failure:
        # The CSV is already shared: say so rather than "that didn't go through".
        log.warning("scorecard JSON export upload failed after the CSV: %s", failure.error)
        return Message(text=JSON_FAILED.format(error=failure.error))
    text = EXPORTED.format(count=f"{len(rows)} post-mortem{'' if len(rows) == 1 else 's'}", period=period.label)
    return Message(text=text + (OWN_ROWS_ONLY if seen_by is Viewer.FACILITATOR else ""))


def home_section(runtime: Runtime, *, user_id: str) -> list[dict[str, Any]]:
    """The App Home's "Security scorecard" section for those who may see it (nothing for anyone else)."""
    try:
        allowed = viewer(runtime, user_id=user_id) is not Viewer.NONE
    except SlackCallFailed as failure:
        # The rest of the Home tab (their follow-ups) matters more than this section: show it without.
        log.warning("scorecard section left out of the Home tab: %s", failure.error)
        return []
    if not allowed:
        return []
    return scorecard_blocks.home_section(_card(runtime, periods.this_quarter(now=runtime.clock.now())))


def _typed(text: str) -> str:
    return safe_text.mrkdwn_line(text, limit=40)
