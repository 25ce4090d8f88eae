"""Setting up a post-mortem in Slack: private channel, invites, topic, pinned kickoff.

Each step stores its result as soon as Slack confirms it, so after a failure (refused, invite
failed, rate limited past retries) a retry resumes at the step that failed. When Slack's answer to a
create or a post is lost (5xx, connection closed), it may have happened: the channel is looked up by
name and the kickoff by its metadata before either is tried again, so nothing is created twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import or_, update

from bot.postmortems import kickoff, notices
from bot.postmortems import service as postmortems
from bot.postmortems.channel_names import review_channel_name
from bot.runtime import Runtime
from bot.slack.gateway import SlackCallFailed, SlackOutcomeUnknown
from models import Postmortem
from models.db import transaction

log = logging.getLogger(__name__)

MAX_NAME_ATTEMPTS = 20
# The kickoff carries this message metadata (with the post-mortem id) so it can be found again.
KICKOFF_EVENT = "postmortem_kickoff"
# A claim older than this belongs to a worker that died mid-way; another may take over.
CLAIM_EXPIRES_AFTER = timedelta(minutes=5)

STEP_DESCRIPTIONS = {
    "create_channel": "create the private review channel",
    "invite": "invite the responders",
    "describe": "set the channel topic",
    "kickoff": "post the kickoff message",
    "pin": "pin the kickoff message",
}


class ReadyStep(Protocol):
    def __call__(self, runtime: Runtime, *, postmortem_id: int) -> None: ...


# Steps owned by higher domains, run once the channel is ready (the questionnaire invitation): they
# register here with `once_ready`, so post-mortems does not depend on them.
_READY_STEPS: dict[str, ReadyStep] = {}


def once_ready(step: ReadyStep) -> ReadyStep:
    """Decorator: run `step` at the end of every successful set-up."""
    _READY_STEPS[f"{step.__module__}.{step.__qualname__}"] = step
    return step


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
            _save(runtime, postmortem, kickoff_ts=_post_kickoff(runtime, postmortem))
        step = "pin"
        if not postmortem.kickoff_pinned:
            runtime.slack.pin(channel=postmortem.channel_id, ts=postmortem.kickoff_ts)
            _save(runtime, postmortem, kickoff_pinned=True, provisioning_error=None)
        for ready_step in _READY_STEPS.values():
            ready_step(runtime, postmortem_id=postmortem.id)
    except SlackCallFailed as failure:
        log.warning("provisioning post-mortem %s stopped at %s: %s", postmortem_id, step, failure)
        _save(runtime, postmortem, provisioning_error=f"{step}: {failure.error}")
        return Outcome(postmortem.id, postmortem.title, postmortem.channel_id, step, failure.error)
    return Outcome(postmortem.id, postmortem.title, postmortem.channel_id)


def _create_channel(runtime: Runtime, postmortem: Postmortem) -> None:
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        name = review_channel_name(day=postmortem.detected_at.date(), title=postmortem.title, attempt=attempt)
        try:
            channel_id = _create_or_find(runtime, name)
        except SlackCallFailed as failure:
            if failure.error == "name_taken":
                continue
            raise
        _save(runtime, postmortem, channel_id=channel_id, channel_name=name)
        return
    raise SlackCallFailed("conversations.create", "name_taken")


def _create_or_find(runtime: Runtime, name: str) -> str:
    try:
        return runtime.slack.create_private_channel(name=name)
    except SlackOutcomeUnknown as lost:
        log.info("no answer to creating #%s (%s); looking for it before trying again", name, lost.error)
        return runtime.slack.private_channel_named(name=name) or runtime.slack.create_private_channel(name=name)


def _post_kickoff(runtime: Runtime, postmortem: Postmortem) -> str:
    assert postmortem.channel_id is not None
    channel, marker = postmortem.channel_id, {"postmortem_id": postmortem.id}

    def find() -> str | None:
        return runtime.slack.find_message(channel=channel, event_type=KICKOFF_EVENT, payload=marker)

    # An earlier run stopped at this step: its post may have gone out without us hearing of it.
    earlier = find() if (postmortem.provisioning_error or "").startswith("kickoff:") else None
    if earlier:
        return earlier
    message = kickoff.kickoff_message(postmortem)

    def post() -> str:
        return runtime.slack.post_message(channel=channel, text=message.text, blocks=message.blocks,
                                          metadata={"event_type": KICKOFF_EVENT, "event_payload": marker})

    try:
        return post()
    except SlackOutcomeUnknown as lost:
        log.info("no answer to the kickoff post of post-mortem %s (%s); looking for it", postmortem.id, lost.error)
        return find() or post()


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
