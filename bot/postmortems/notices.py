"""Short messages to the person setting up a post-mortem: done, failed (with Retry), "not yours", "already running"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, MarkdownTextObject, SectionBlock

from bot.slack import safe_text
from bot.slack.blocks import Message

if TYPE_CHECKING:
    from bot.postmortems.provisioning import Outcome

RETRY_ACTION_ID = "retry_provisioning"


def _single(text: str) -> Message:
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text)).to_dict()])


def channel_ready(outcome: Outcome) -> Message:
    return _single(
        f":white_check_mark: The review channel for *{safe_text.mrkdwn_line(outcome.title)}* is ready: <#{outcome.channel_id}>. "
        "The incident report is pinned there."
    )


def provisioning_failed(outcome: Outcome, step: str) -> Message:
    text = (
        f":warning: I saved the post-mortem *{safe_text.mrkdwn_line(outcome.title)}*, but I could not {step} "
        f"(Slack said `{safe_text.mrkdwn_line(outcome.slack_error or 'unknown_error')}`). Nothing is lost. "
        "Press *Retry* or type `/postmortem retry` and I'll pick up where I stopped."
    )
    return Message(
        text=text,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=text)).to_dict(),
            ActionsBlock(
                elements=[ButtonElement(text="Retry", action_id=RETRY_ACTION_ID, value=str(outcome.postmortem_id), style="primary")]
            ).to_dict(),
        ],
    )


def not_yours() -> Message:
    return _single("Only the person who started a post-mortem, or its facilitator, can do that.")


def already_running(outcome: Outcome) -> Message:
    return _single(
        f"I'm already setting up *{safe_text.mrkdwn_line(outcome.title)}*. You'll get a message here as soon as it's done."
    )
