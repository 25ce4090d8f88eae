"""Setting up a post-mortem in Slack: private channel, invites, topic, pinned kickoff.

Each step stores its result as soon as Slack confirms it, so after a failure (refused, invite
failed, rate limited past retries) a retry resumes at the step that failed: nothing is created twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, update

from bot import postmortems, questionnaire_flows
from bot.blocks import kickoff, notices
from bot.channel_names import review_channel_name
from bot.runtime import Runtime
from bot.slack_gateway import SlackCallFailed
from models import Postmortem
from models.db import transaction

log = logging.getLogger(__name__)

MAX_NAME_ATTEMPTS = 20
# A claim older than this belongs to a worker that died mid-way; another may take over.
CLAIM_EXPIRES_AFTER = timedelta(minutes=5)

STEP_DESCRIPTIONS = {
    "create_channel": "create the private review channel",
    "invite": "invite the responders",
    "describe": "set the channel topic",
    "kickoff": "post the kickoff message",
    "pin": "pin the kickoff message",
}


@dataclass(frozen=True)
class Outcome:
    postmortem_id: int
    title: str
    channel_id: str | None
    failed_step: str | None = None
    slack_error: str | None = None
    already_running: bool = False
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.failed_step is None and not self.already_running and not self.refused


def provision(runtime: Runtime, *, postmortem_id: int, requested_by: str) -> Outcome:
    """Run the remaining set-up steps, then tell `requested_by` (by DM) how it went.

    Only the person who started the post-mortem or its facilitator may run it; anyone else is
    refused without learning anything about the post-mortem.
    """
    with transaction(runtime.sessions) as session:
        postmortem = postmortems.get(session, postmortem_id=postmortem_id)
        allowed = postmortem is not None and postmortems.may_retry_provisioning(postmortem, user_id=requested_by)
        title, channel_id = (postmortem.title, postmortem.channel_id) if postmortem else ("", None)
    if not allowed:
        outcome = Outcome(postmortem_id, "", None, refused=True)
    elif not _claim(runtime, postmortem_id):
        outcome = Outcome(postmortem_id, title, channel_id, already_running=True)
    else:
        try:
            outcome = _run_steps(runtime, postmortem_id)
        finally:
            _release(runtime, postmortem_id)
    _tell_requester(runtime, outcome, requested_by)
    return outcome


def _run_steps(runtime: Runtime, postmortem_id: int) -> Outcome:
    with transaction(runtime.sessions) as session:
        postmortem = postmortems.get(session, postmortem_id=postmortem_id)
    assert postmortem is not None, "provision() checked it exists"
    step = "create_channel"
    try:
        if postmortem.channel_id is None:
            _create_channel(runtime, postmortem)
        step = "invite"
        if not postmortem.members_invited:
            _invite_members(runtime, postmortem)
        step = "describe"
        if not postmortem.channel_described:
            runtime.slack.describe_channel(
                channel=postmortem.channel_id, topic=kickoff.topic(postmortem), purpose=kickoff.purpose(postmortem)
            )
            _save(runtime, postmortem, channel_described=True)
        step = "kickoff"
        if postmortem.kickoff_ts is None:
            message = kickoff.kickoff_message(postmortem)
            ts = runtime.slack.post_message(channel=postmortem.channel_id, text=message.text, blocks=message.blocks)
            _save(runtime, postmortem, kickoff_ts=ts)
        step = "pin"
        if not postmortem.kickoff_pinned:
            runtime.slack.pin(channel=postmortem.channel_id, ts=postmortem.kickoff_ts)
            _save(runtime, postmortem, kickoff_pinned=True, provisioning_error=None)
        questionnaire_flows.invite_participants(runtime, postmortem_id=postmortem.id)
    except SlackCallFailed as failure:
        log.warning("provisioning post-mortem %s stopped at %s: %s", postmortem_id, step, failure)
        _save(runtime, postmortem, provisioning_error=f"{step}: {failure.error}")
        return Outcome(postmortem.id, postmortem.title, postmortem.channel_id, step, failure.error)
    return Outcome(postmortem.id, postmortem.title, postmortem.channel_id)


def _create_channel(runtime: Runtime, postmortem: Postmortem) -> None:
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        name = review_channel_name(day=postmortem.detected_at.date(), title=postmortem.title, attempt=attempt)
        try:
            channel_id = runtime.slack.create_private_channel(name=name)
        except SlackCallFailed as failure:
            if failure.error == "name_taken":
                continue
            raise
        _save(runtime, postmortem, channel_id=channel_id, channel_name=name)
        return
    raise SlackCallFailed("conversations.create", "name_taken")


def _invite_members(runtime: Runtime, postmortem: Postmortem) -> None:
    for user_id in postmortem.member_ids:
        user = runtime.slack.user(user_id)
        if user.is_bot or user.deleted:
            continue
        runtime.slack.invite(channel=postmortem.channel_id, user_id=user_id)
    _save(runtime, postmortem, members_invited=True)


def _tell_requester(runtime: Runtime, outcome: Outcome, requested_by: str) -> None:
    if outcome.refused:
        message = notices.not_yours()
    elif outcome.already_running:
        message = notices.already_running(outcome)
    elif outcome.ok:
        message = notices.channel_ready(outcome)
    else:
        message = notices.provisioning_failed(outcome, STEP_DESCRIPTIONS[outcome.failed_step or "create_channel"])
    try:
        runtime.slack.post_message(channel=requested_by, text=message.text, blocks=message.blocks)
    except SlackCallFailed:
        # The state is saved either way; `/postmortem retry` reports it again.
        log.warning("could not tell %s about post-mortem %s", requested_by, outcome.postmortem_id)


def _save(runtime: Runtime, postmortem: Postmortem, **changes: object) -> None:
    """Persist one step's result at once and mirror it on the detached object used by later steps."""
    with transaction(runtime.sessions) as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem.id).values(**changes))
    for name, value in changes.items():
        setattr(postmortem, name, value)


def _claim(runtime: Runtime, postmortem_id: int) -> bool:
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        result = session.execute(
            update(Postmortem)
            .where(
                Postmortem.id == postmortem_id,
                or_(
                    Postmortem.provisioning_claimed_at.is_(None),
                    Postmortem.provisioning_claimed_at < now - CLAIM_EXPIRES_AFTER,
                ),
            )
            .values(provisioning_claimed_at=now)
        )
        return result.rowcount == 1


def _release(runtime: Runtime, postmortem_id: int) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(update(Postmortem).where(Postmortem.id == postmortem_id).values(provisioning_claimed_at=None))
